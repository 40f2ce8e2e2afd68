package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/certchain/certchain/api"
)

// ErrCutOff: a publish stream's answer ended without its summary (the
// connection broke or the node stopped). The results delivered stand;
// items without a result may or may not be on the ledger, and are safe to
// send again.
var ErrCutOff = errors.New("publish stream cut off")

// PublishStream sends items as one POST /v1/certificates/stream (NDJSON)
// and calls result for each result line, in item order, while items are
// still being sent. It returns the stream's summary; or ErrCutOff, an
// *Error (the node refused the stream or broke it off: Error.Problem says
// why, RetryAfter when to try again), or a transport error, together with
// whatever results were delivered before.
func (c *Client) PublishStream(ctx context.Context, items iter.Seq[api.StreamItem], result func(api.StreamResult)) (*api.StreamSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	go writeItems(ctx, pw, items, c.Signer)
	defer pr.CloseWithError(context.Canceled) // stops the writer if the answer ends first
	resp, err := c.send(ctx, http.MethodPost, "/v1/certificates/stream", "application/x-ndjson", pr, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line api.StreamLine
		if err := api.DecodeStreamLine(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("publish stream: bad answer line: %w", err)
		}
		switch {
		case line.Error != nil:
			return nil, &Error{Problem: *line.Error}
		case line.Summary != nil:
			return line.Summary, nil
		default:
			result(line.StreamResult)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCutOff, err)
	}
	return nil, ErrCutOff
}

// streamFlush is how long an encoded item may wait in the buffer: items
// go out in 32 KiB writes while they come fast, and promptly when the
// caller produces them slowly (a factory line trickling devices).
const streamFlush = 20 * time.Millisecond

// writeItems encodes items as NDJSON into pw and closes it.
func writeItems(ctx context.Context, pw *io.PipeWriter, items iter.Seq[api.StreamItem], signer *TxSigner) {
	var mu sync.Mutex
	w := bufio.NewWriterSize(pw, 64<<10)
	enc := json.NewEncoder(w)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(streamFlush)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				mu.Lock()
				if w.Buffered() > 0 {
					_ = w.Flush() // an error recurs on the next write
				}
				mu.Unlock()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	for it := range signed(items, signer) {
		mu.Lock()
		err := enc.Encode(it)
		if err == nil && w.Buffered() > 32<<10 {
			err = w.Flush()
		}
		mu.Unlock()
		if err != nil {
			pw.CloseWithError(err) // the request ended; its error is reported by the reader
			return
		}
	}
	mu.Lock()
	defer mu.Unlock()
	pw.CloseWithError(w.Flush())
}

// signed returns items with their signatures (signer nil: items), signed
// on all cores while they keep their order; an item is passed on as soon
// as it and those before it are signed, so a slow producer's items are
// not held back. An item that cannot be signed (not a PEM certificate)
// goes unsigned: the node refuses it with its own reason.
func signed(items iter.Seq[api.StreamItem], signer *TxSigner) iter.Seq[api.StreamItem] {
	if signer == nil {
		return items
	}
	return func(yield func(api.StreamItem) bool) {
		type job struct {
			it   api.StreamItem
			done chan struct{}
		}
		workers := runtime.GOMAXPROCS(0)
		order := make(chan *job, 4*workers) // in item order, bounds the items in flight
		work := make(chan *job, 4*workers)
		quit := make(chan struct{})
		defer close(quit)
		go func() {
			defer close(order)
			defer close(work)
			for it := range items {
				j := &job{it: it, done: make(chan struct{})}
				select {
				case order <- j:
				case <-quit:
					return
				}
				work <- j
			}
		}()
		for range workers {
			go func() {
				for j := range work {
					_ = signer.signItem(&j.it)
					close(j.done)
				}
			}()
		}
		for j := range order {
			<-j.done
			if !yield(j.it) {
				return
			}
		}
	}
}
