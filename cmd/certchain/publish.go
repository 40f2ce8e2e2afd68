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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/validator"
)

// item is one certificate to publish and the file it came from.
type item struct {
	path  string
	der   []byte
	chain [][]byte
}

// tally counts publish outcomes and collects rejections.
type tally struct {
	mu                          sync.Mutex
	published, present, retried int
	rejected                    []string // "path\tid\treason"
}

func runPublish(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	batch := fs.Int("batch", 1000, "certificates per request")
	parallel := fs.Int("parallel", 2, "requests in flight")
	report := fs.String("report", "publish-rejected.tsv", "file listing rejected certificates and why")
	retryFor := fs.Duration("retry-for", 5*time.Minute, "keep retrying a batch the node cannot take for this long")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: certchain publish FILE|DIR...")
	}
	c, err := co.client()
	if err != nil {
		return err
	}
	items, err := collectCerts(fs.Args())
	if err != nil {
		return err
	}
	p := &publisher{c: c, retryFor: *retryFor, bar: newProgress(e.stderr, len(items), *quiet)}
	p.run(ctx, chunk(items, *batch), *parallel)
	p.bar.done()
	return p.summary(e, *report)
}

// collectCerts reads every certificate under the given files and
// directories (*.pem, *.crt, *.cer; *.der as DER), skipping key files.
func collectCerts(paths []string) ([]item, error) {
	var items []item
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isCertFile(path) {
				return err
			}
			got, err := readCertFile(path)
			items = append(items, got...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no certificate files (*.pem, *.crt, *.cer, *.der) under %s", strings.Join(paths, " "))
	}
	return items, nil
}

func isCertFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pem", ".crt", ".cer", ".der":
		return true
	}
	return false
}

func readCertFile(path string) ([]item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(filepath.Ext(path), ".der") {
		return []item{{path: path, der: b}}, nil
	}
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		return nil, nil // a key saved as .pem: never send it anywhere
	}
	ders, err := validator.ParsePEM(b, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	leaves, chain := validator.SplitChain(ders)
	items := make([]item, len(leaves))
	for i, d := range leaves {
		items[i] = item{path: path, der: d, chain: chain}
	}
	return items, nil
}

func chunk(items []item, n int) [][]item {
	n = max(n, 1)
	var out [][]item
	for len(items) > 0 {
		k := min(n, len(items))
		out = append(out, items[:k])
		items = items[k:]
	}
	return out
}

// publisher sends batches and retries what the node could not take.
type publisher struct {
	c        *client
	retryFor time.Duration
	bar      *progress
	t        tally
}

func (p *publisher) run(ctx context.Context, batches [][]item, parallel int) {
	work := make(chan []item)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for b := range work {
				p.send(ctx, b)
			}
		})
	}
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

// send publishes one batch, re-sending the certificates the node asked to
// retry (and whole batches on network errors) with backoff until retryFor.
func (p *publisher) send(ctx context.Context, batch []item) {
	deadline := time.Now().Add(p.retryFor)
	backoff := 200 * time.Millisecond
	for len(batch) > 0 && ctx.Err() == nil {
		var resp api.PublishResponse
		err := p.c.do(ctx, "POST", "/v1/certificates", "application/x-pem-file", bytes.NewReader(pemBody(batch)), &resp)
		if err == nil && len(resp.Results) != len(batch) {
			err = fmt.Errorf("node answered %d results for %d certificates", len(resp.Results), len(batch))
		}
		if err == nil {
			batch = p.record(batch, resp.Results)
			if len(batch) == 0 {
				return
			}
		}
		if time.Now().After(deadline) || !retryable(err) {
			p.giveUp(batch, err)
			return
		}
		p.t.mu.Lock()
		p.t.retried++
		p.t.mu.Unlock()
		sleep(ctx, retryDelay(err, &backoff))
	}
}

func pemBody(batch []item) []byte {
	var buf bytes.Buffer
	seen := map[string]bool{}
	for _, it := range batch {
		for _, c := range it.chain {
			if !seen[string(c)] {
				seen[string(c)] = true
				_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c})
			}
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: it.der})
	}
	return buf.Bytes()
}

// record counts the results of a batch and returns the items to retry.
func (p *publisher) record(batch []item, results []api.PublishResult) []item {
	var again []item
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	for i, r := range results {
		switch r.State {
		case "published":
			if r.AlreadyPublished {
				p.t.present++
			} else {
				p.t.published++
			}
			p.bar.add(1)
		case "rejected":
			p.t.rejected = append(p.t.rejected, batch[i].path+"\t"+r.ID+"\t"+r.Reason)
			p.bar.add(1)
		default:
			again = append(again, batch[i])
		}
	}
	return again
}

func (p *publisher) giveUp(batch []item, err error) {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	for _, it := range batch {
		p.t.rejected = append(p.t.rejected, fmt.Sprintf("%s\t-\tnot sent: %v", it.path, err))
	}
	p.bar.add(len(batch))
}

// retryable: network errors, and problems the node marks as transient.
func retryable(err error) bool {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe.Status == 429 || pe.Status == 503 || pe.Status == 504
	}
	return true // nil (some results said retry) or a network error
}

func retryDelay(err error, backoff *time.Duration) time.Duration {
	var pe *problemError
	if errors.As(err, &pe) && pe.retryAfter > 0 {
		return pe.retryAfter
	}
	d := *backoff
	*backoff = min(*backoff*2, 5*time.Second)
	return d
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// exitStatus is an error that only sets the exit code (its message is
// already printed).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

func (p *publisher) summary(e *env, report string) error {
	t := &p.t
	fmt.Fprintf(e.stdout, "published %d new, %d already on the ledger, %d rejected\n", t.published, t.present, len(t.rejected))
	if len(t.rejected) == 0 {
		return nil
	}
	f, err := os.Create(report)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "file\tid\treason")
	for _, r := range t.rejected {
		fmt.Fprintln(w, r)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rejected certificates and reasons: %s\n", report)
	return exitStatus(2)
}
