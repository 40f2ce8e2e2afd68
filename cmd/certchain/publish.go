package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certchain/certchain/api"
	apiclient "github.com/certchain/certchain/api/client"
	"github.com/certchain/certchain/validator"
)

// item is one certificate to publish and the file it came from.
type item struct {
	path  string
	der   []byte
	chain [][]byte
	err   error // the file could not be read (no der)
}

func runPublish(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	report := fs.String("report", "publish-rejected.tsv", "file listing rejected certificates and why")
	retryFor := fs.Duration("retry-for", 5*time.Minute, "keep sending what the node could not take for this long without progress")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: certchain publish FILE|DIR...")
	}
	c, err := co.writer(ctx)
	if err != nil {
		return err
	}
	files, err := countCertFiles(fs.Args())
	if err != nil {
		return err
	}
	if files == 0 {
		return fmt.Errorf("no certificate files (*.pem, *.crt, *.cer, *.der) under %s", strings.Join(fs.Args(), " "))
	}
	p := &publisher{c: c, retryFor: *retryFor, bar: newProgress(e.stderr, files, *quiet)}
	p.run(ctx, walkCerts(ctx, fs.Args()))
	p.bar.done()
	return p.summary(e, *report)
}

// countCertFiles counts the certificate files under paths, for the
// progress bar's total (a file holding several certificates makes the
// count grow as it goes).
func countCertFiles(paths []string) (int, error) {
	n := 0
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isCertFile(path) {
				n++
			}
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// walkCerts reads the certificates under paths lazily, file by file, so a
// directory of any size streams in constant memory. A file that cannot be
// read yields an item with no DER (reported as rejected, with why).
func walkCerts(ctx context.Context, paths []string) <-chan item {
	out := make(chan item, 256)
	go func() {
		defer close(out)
		for _, root := range paths {
			_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err == nil && (d.IsDir() || !isCertFile(path)) {
					return nil
				}
				items := []item{{path: path, err: err}}
				if err == nil {
					items = readCertFile(path)
				}
				for _, it := range items {
					select {
					case out <- it:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return nil
			})
		}
	}()
	return out
}

func isCertFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pem", ".crt", ".cer", ".der":
		return true
	}
	return false
}

// readCertFile returns the certificates of one file (leaves, each with the
// file's CA certificates as chain); key files give none.
func readCertFile(path string) []item {
	b, err := os.ReadFile(path)
	if err != nil {
		return []item{{path: path, err: err}}
	}
	if strings.EqualFold(filepath.Ext(path), ".der") {
		return []item{{path: path, der: b}}
	}
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		return nil // a key saved as .pem: never send it anywhere
	}
	ders, err := validator.ParsePEM(b, 64)
	if err != nil {
		return []item{{path: path, err: err}}
	}
	leaves, chain := validator.SplitChain(ders)
	items := make([]item, len(leaves))
	for i, d := range leaves {
		items[i] = item{path: path, der: d, chain: chain}
	}
	return items
}

// publisher streams certificates to the node and sends again what the
// node did not take (answered "retry", or sent without an answer when a
// stream broke off), until retryFor passes without progress.
type publisher struct {
	c        *client
	retryFor time.Duration
	bar      *progress

	mu                 sync.Mutex
	inflight           []item // sent, waiting for their result, in order
	again              []item // to send again
	published, present int
	rejected           []string // "path\tid\treason"
	progressed         time.Time
}

func (p *publisher) run(ctx context.Context, src <-chan item) {
	p.progressed = time.Now()
	backoff := 200 * time.Millisecond
	for {
		p.mu.Lock()
		retry := p.again
		p.again = nil
		p.mu.Unlock()
		_, err := p.c.PublishStream(ctx, p.items(ctx, retry, src), p.result)
		p.mu.Lock()
		p.again = append(p.again, p.inflight...) // sent, no answer: send again
		p.inflight = nil
		left := len(p.again)
		stalled := time.Since(p.progressed) > p.retryFor
		p.mu.Unlock()
		var pe *apiclient.Error
		switch {
		case ctx.Err() != nil:
			p.giveUp(src, ctx.Err())
			return
		case err == nil && left == 0:
			return // src was drained by the stream
		case errors.As(err, &pe) && !pe.Temporary(), stalled:
			if err == nil {
				err = errors.New("the node kept answering retry")
			}
			p.giveUp(src, err)
			return
		}
		wait := backoff
		if pe != nil && pe.RetryAfter > 0 {
			wait = pe.RetryAfter
		} else {
			backoff = min(2*backoff, 5*time.Second)
		}
		_ = apiclient.Sleep(ctx, wait)
	}
}

// items yields retry first, then what src still has, recording each item
// as in flight before it is sent.
func (p *publisher) items(ctx context.Context, retry []item, src <-chan item) iter.Seq[api.StreamItem] {
	return func(yield func(api.StreamItem) bool) {
		send := func(it item) bool {
			if it.err != nil {
				p.reject(it, "-", "not sent: "+it.err.Error())
				return true
			}
			p.mu.Lock()
			p.inflight = append(p.inflight, it)
			p.mu.Unlock()
			return yield(streamItem(it))
		}
		for i, it := range retry {
			if !send(it) {
				p.mu.Lock()
				p.again = append(p.again, retry[i+1:]...)
				p.mu.Unlock()
				return
			}
		}
		for {
			select {
			case it, ok := <-src:
				if !ok || !send(it) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

func streamItem(it item) api.StreamItem {
	si := api.StreamItem{Certificate: pemString(it.der)}
	for _, c := range it.chain {
		si.Chain = append(si.Chain, pemString(c))
	}
	return si
}

// pemString encodes a DER certificate as one PEM block.
func pemString(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// result takes the answer for the oldest item in flight.
func (p *publisher) result(r api.StreamResult) {
	p.mu.Lock()
	if len(p.inflight) == 0 {
		p.mu.Unlock()
		return // the node answered more than was sent: ignore
	}
	it := p.inflight[0]
	p.inflight = p.inflight[1:]
	switch r.State {
	case api.StatePublished:
		if r.AlreadyPublished {
			p.present++
		} else {
			p.published++
		}
		p.progressed = time.Now()
	case api.StateRejected:
		p.rejected = append(p.rejected, it.path+"\t"+orDash(r.ID)+"\t"+r.Reason)
		p.progressed = time.Now()
	default:
		p.again = append(p.again, it)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.bar.add(1)
}

func (p *publisher) reject(it item, id, reason string) {
	p.mu.Lock()
	p.rejected = append(p.rejected, it.path+"\t"+id+"\t"+reason)
	p.mu.Unlock()
	p.bar.add(1)
}

// giveUp reports everything not yet answered as not sent, with err.
func (p *publisher) giveUp(src <-chan item, err error) {
	p.mu.Lock()
	left := p.again
	p.again = nil
	p.mu.Unlock()
	for _, it := range left {
		p.reject(it, "-", fmt.Sprintf("not sent: %v", err))
	}
	for it := range src {
		p.reject(it, "-", fmt.Sprintf("not sent: %v", err))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// exitStatus is an error that only sets the exit code (its message is
// already printed).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

func (p *publisher) summary(e *env, report string) error {
	fmt.Fprintf(e.stdout, "published %d new, %d already on the ledger, %d rejected\n", p.published, p.present, len(p.rejected))
	if len(p.rejected) == 0 {
		return nil
	}
	f, err := os.Create(report)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "file\tid\treason")
	for _, r := range p.rejected {
		fmt.Fprintln(w, r)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rejected certificates and reasons: %s\n", report)
	return exitStatus(2)
}
