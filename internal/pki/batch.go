package pki

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/certchain/certchain/certchain"
)

// MinSerialDigits is the least width of the zero-padded index MakeDevices
// appends to the CommonName prefix (SC- → SC-0000001).
const MinSerialDigits = 7

// MakeDevices makes n devices as NewDevice does, in parallel on workers
// goroutines (0 means runtime.NumCPU()), and writes each into dir as
// <cn>.key (PKCS#8 PEM, mode 0600) and then <cn>.pem (certificate PEM), so
// a .pem file always has its key beside it.
//
// Device i (1..n) gets the CommonName o.CommonName + i zero-padded to
// MinSerialDigits (or more when n needs it) and, when o.URI is set, the URI
// o.URI + CommonName. All devices share one NotBefore. Existing files are
// never overwritten (a device key may already be in use): the run stops
// with an error wrapping fs.ErrExist.
//
// Files are not fsynced: the line's output is reproducible, and a sync per
// device would dominate the cost. progress, if not nil, is called from one
// goroutine after each device with the count done so far. MakeDevices
// stops early when ctx is done and returns the first error.
func MakeDevices(ctx context.Context, n int, dir string, o DeviceOptions, workers int, progress func(done int)) error {
	b, err := newBatch(n, dir, o, workers)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return b.run(ctx, progress)
}

// writersPerWorker is how many file-writing goroutines run per generating
// one: creating a file costs about as much as making a P-256 device on a
// fast disk, and several times more on a slow or networked one.
const writersPerWorker = 2

// batch is one MakeDevices run.
type batch struct {
	n, width         int
	workers, writers int // generating and writing goroutines
	dir              string
	o                DeviceOptions
	next             atomic.Int64
}

func newBatch(n int, dir string, o DeviceOptions, workers int) (*batch, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: device count %d is negative", certchain.ErrInvalid, n)
	}
	if strings.ContainsAny(o.CommonName, `/\`) {
		return nil, fmt.Errorf("%w: common name prefix %q must not contain a path separator", certchain.ErrInvalid, o.CommonName)
	}
	o, err := o.withDefaults() // reads the clock once for the whole batch
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	width := max(MinSerialDigits, len(strconv.Itoa(n)))
	workers = min(workers, max(n, 1))
	return &batch{n: n, width: width, workers: workers, writers: writersPerWorker * workers, dir: dir, o: o}, nil
}

// run generates on b.workers goroutines and writes on b.writers others, so
// that CPU work goes on while a slow disk creates files, and reports
// progress until both stages have stopped.
func (b *batch) run(ctx context.Context, progress func(int)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	made := make(chan devicePEM, 4*b.workers)
	written := make(chan struct{}, 4*b.workers)
	stage(b.workers, func() { b.generate(ctx, cancel, made) }, func() { close(made) })
	stage(b.writers, func() { b.write(ctx, cancel, made, written) }, func() { close(written) })
	count := 0
	for range written {
		count++
		if progress != nil {
			progress(count)
		}
	}
	if count == b.n {
		return nil
	}
	return context.Cause(ctx)
}

// stage runs n copies of work and then after.
func stage(n int, work, after func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(work)
	}
	go func() { wg.Wait(); after() }()
}

// devicePEM is one made device on its way to the disk.
type devicePEM struct {
	cn        string
	key, cert []byte
}

// generate makes devices until none is left, ctx is done or one fails.
func (b *batch) generate(ctx context.Context, cancel context.CancelCauseFunc, out chan<- devicePEM) {
	for ctx.Err() == nil {
		i := int(b.next.Add(1))
		if i > b.n {
			return
		}
		d, err := b.make(i)
		if err != nil {
			cancel(err)
			return
		}
		select {
		case out <- d:
		case <-ctx.Done():
		}
	}
}

// make makes device i and encodes it.
func (b *batch) make(i int) (devicePEM, error) {
	o := b.o
	o.CommonName = fmt.Sprintf("%s%0*d", b.o.CommonName, b.width, i)
	if b.o.URI != "" {
		o.URI = b.o.URI + o.CommonName
	}
	der, key, err := NewDevice(o)
	if err != nil {
		return devicePEM{}, err
	}
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return devicePEM{}, err
	}
	return devicePEM{cn: o.CommonName, key: keyPEM, cert: EncodeCertPEM(der)}, nil
}

// write writes devices as they come until in is closed or ctx is done.
func (b *batch) write(ctx context.Context, cancel context.CancelCauseFunc, in <-chan devicePEM, done chan<- struct{}) {
	for d := range in {
		if ctx.Err() != nil {
			return
		}
		base := filepath.Join(b.dir, d.cn)
		err := writeNew(base+".key", d.key, 0o600)
		if err == nil {
			err = writeNew(base+".pem", d.cert, 0o644)
		}
		if err != nil {
			cancel(err)
			return
		}
		done <- struct{}{}
	}
}

// writeNew writes data to a file that must not exist yet, in one write.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
