package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certchain/certchain/api"
	apiclient "github.com/certchain/certchain/api/client"
)

func runPublish(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "publish")
	var co clientOptions
	co.bind(fs, e.getenv)
	report := fs.String("report", "publish-rejected.tsv", "file listing rejected certificates and why")
	retryFor := fs.Duration("retry-for", 5*time.Minute, "keep sending what the node could not take for this long without progress")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("publish", "no file or directory named")
	}
	if err := statAll(fs.Args()); err != nil {
		return err
	}
	c, err := co.writer(ctx)
	if err != nil {
		return err
	}
	if err := c.Do(ctx, "GET", "/healthz", "", nil, nil); err != nil {
		return err // no node: say so before walking anything
	}
	files := countCertFiles(fs.Args())
	if files == 0 {
		return fmt.Errorf("no certificate files (*.pem, *.crt, *.cer, *.der) under %s", strings.Join(fs.Args(), " "))
	}
	p := &publisher{c: c, retryFor: *retryFor, bar: newProgress(e.stderr, files, *quiet), files: files}
	src := make(chan item, 256)
	go walkCerts(ctx, fs.Args(), src, func(n int) { p.bar.grow(n - 1) })
	p.run(ctx, src)
	p.bar.done()
	return p.summary(e, *report)
}

// statAll checks that every path named on the command line exists.
func statAll(paths []string) error {
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			return err
		}
	}
	return nil
}

// publisher streams certificates to the node and accounts for each: the
// answers are matched to what was sent by their index in the stream;
// what was answered "retry", or sent without an answer (a stream that
// broke off, or an answer that skipped it), is sent again, until retryFor
// passes without progress or a complete answer has skipped it maxSilent
// times. Every entry ends published, already on the ledger, rejected, or
// without an answer (an error).
type publisher struct {
	c        *client
	retryFor time.Duration
	bar      *progress
	files    int

	mu                 sync.Mutex
	again              []*pending // to send again
	entries            int        // entries taken from the input
	published, present int
	rejected           []string // report lines "path\tid\trule: detail"
	unanswered         []string // likewise, for entries without an answer
	stray              int      // answers that matched nothing sent
	progressed         time.Time
	lastErr            error // why the last stream ended early
}

// maxSilent is how many complete answers may skip an entry before it is
// reported without an answer.
const maxSilent = 3

// pending is an entry sent or to send.
type pending struct {
	it     item
	silent int // complete answers that had no result for it
}

// stream is one PublishStream: what it sent and has no answer for yet,
// by index in the stream.
type stream struct {
	open bool
	n    int
	sent map[int]*pending
}

func (p *publisher) run(ctx context.Context, src <-chan item) {
	p.progressed = time.Now()
	backoff := 200 * time.Millisecond
	for {
		st := &stream{open: true, sent: map[int]*pending{}}
		p.mu.Lock()
		retry := p.again
		p.again = nil
		p.mu.Unlock()
		sum, err := p.c.PublishStream(ctx, p.items(ctx, st, retry, src), func(r api.StreamResult) { p.result(st, r) })
		left := p.endStream(st, err == nil && sum != nil, err)
		var pe *apiclient.Error
		switch {
		case ctx.Err() != nil:
			p.giveUp(src, ctx.Err())
			return
		case err == nil && left == 0:
			return // the stream took src to its end, and all has an answer
		case errors.As(err, &pe) && !pe.Temporary():
			p.giveUp(src, err)
			return
		case p.stalled():
			p.giveUp(src, fmt.Errorf("no progress for %s (last: %v)", p.retryFor, cmp.Or(err, errors.New("the node kept answering retry"))))
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

func (p *publisher) stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Since(p.progressed) > p.retryFor
}

// items yields retry first, then what src still has. Each entry is
// recorded under its index in st before it is sent; entries that are no
// certificate are accounted as rejected without being sent.
func (p *publisher) items(ctx context.Context, st *stream, retry []*pending, src <-chan item) iter.Seq[api.StreamItem] {
	return func(yield func(api.StreamItem) bool) {
		for i, pd := range retry {
			if !p.send(st, pd, yield) {
				p.requeue(retry[i+1:])
				return
			}
		}
		for {
			select {
			case it, ok := <-src:
				if !ok {
					return
				}
				if !p.take(it) {
					continue
				}
				if !p.send(st, &pending{it: it}, yield) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// take counts a new entry of the input and says whether to send it.
func (p *publisher) take(it item) bool {
	p.mu.Lock()
	p.entries++
	p.mu.Unlock()
	if it.err != nil {
		p.account(func() { p.rejected = append(p.rejected, reportLine(it, "-", it.err.Error())) })
		return false
	}
	return true
}

// send records pd in st and yields it, unless st has ended (then pd waits
// for the next stream).
func (p *publisher) send(st *stream, pd *pending, yield func(api.StreamItem) bool) bool {
	p.mu.Lock()
	if !st.open {
		p.again = append(p.again, pd)
		p.mu.Unlock()
		return false
	}
	st.sent[st.n] = pd
	st.n++
	p.mu.Unlock()
	return yield(streamItem(pd.it))
}

func (p *publisher) requeue(pds []*pending) {
	p.mu.Lock()
	p.again = append(p.again, pds...)
	p.mu.Unlock()
}

// endStream closes st and queues what it sent without an answer; after a
// complete answer (the node said it had answered everything) that counts
// as a skip, and an entry skipped maxSilent times has no answer. It
// returns how many entries wait to be sent again.
func (p *publisher) endStream(st *stream, complete bool, err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	st.open = false
	if err != nil {
		p.lastErr = err
	}
	for _, i := range slices.Sorted(maps.Keys(st.sent)) {
		pd := st.sent[i]
		if complete {
			pd.silent++
		}
		if pd.silent < maxSilent {
			p.again = append(p.again, pd)
			continue
		}
		p.unanswered = append(p.unanswered, reportLine(pd.it, idOf(pd.it), ruleNoAnswer+": the node's answers skipped it"))
		p.bar.add(1)
	}
	return len(p.again)
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

// result takes the answer for the entry st sent under r.Index.
func (p *publisher) result(st *stream, r api.StreamResult) {
	p.mu.Lock()
	pd, ok := st.sent[r.Index]
	if !ok {
		p.stray++ // the node answered something not sent, or twice
		p.mu.Unlock()
		return
	}
	delete(st.sent, r.Index)
	if r.State != api.StatePublished && r.State != api.StateRejected {
		p.again = append(p.again, pd) // "retry"
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.account(func() {
		switch {
		case r.State == api.StateRejected:
			p.rejected = append(p.rejected, reportLine(pd.it, cmp.Or(r.ID, idOf(pd.it)), r.Reason))
		case r.AlreadyPublished:
			p.present++
		default:
			p.published++
		}
	})
}

// account records the outcome of one entry.
func (p *publisher) account(record func()) {
	p.mu.Lock()
	record()
	p.progressed = time.Now()
	p.mu.Unlock()
	p.bar.add(1)
}

// giveUp reports everything not yet answered as without an answer, for
// err.
func (p *publisher) giveUp(src <-chan item, err error) {
	p.mu.Lock()
	left := p.again
	p.again = nil
	p.mu.Unlock()
	none := func(it item) {
		p.account(func() {
			p.unanswered = append(p.unanswered, reportLine(it, idOf(it), fmt.Sprintf("%s: %v", ruleNoAnswer, explain(err))))
		})
	}
	for _, pd := range left {
		none(pd.it)
	}
	for it := range src {
		if p.take(it) {
			none(it)
		}
	}
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

func reportLine(it item, id, reason string) string {
	return it.path + "\t" + id + "\t" + reason
}

// idOf is the certificate ID of an entry, "-" for one that is none.
func idOf(it item) string { return cmp.Or(it.certID(), "-") }

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

// summary prints the counts, writes the report of what was rejected or
// got no answer, and says how it went: exit 2 when something was
// rejected, an error when something got no answer.
func (p *publisher) summary(e *env, report string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("published %d new, %d already on the ledger, %d rejected", p.published, p.present, len(p.rejected))
	if len(p.unanswered) > 0 {
		line += fmt.Sprintf(", %d without an answer", len(p.unanswered))
	}
	fmt.Fprintf(e.stdout, "%s (%d %s from %d %s)\n", line, p.entries, plural(p.entries, "entry", "entries"), p.files, plural(p.files, "file", "files"))
	if p.stray > 0 {
		fmt.Fprintf(e.stderr, "warning: the node answered %d results that match nothing sent (ignored)\n", p.stray)
	}
	if len(p.rejected)+len(p.unanswered) > 0 {
		if err := writeReport(report, append(p.rejected, p.unanswered...)); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rejected certificates and reasons: %s\n", report)
	} else {
		removeOldReport(report)
	}
	accounted := p.published + p.present + len(p.rejected) + len(p.unanswered)
	switch {
	case accounted != p.entries:
		return fmt.Errorf("%d of %d entries unaccounted for (a bug: please report it)", p.entries-accounted, p.entries)
	case len(p.unanswered) > 0:
		err := fmt.Errorf("%d of %d entries got no answer from the node (listed in %s)", len(p.unanswered), p.entries, report)
		if p.lastErr != nil {
			err = fmt.Errorf("%w: %w", err, explain(p.lastErr))
		}
		return err
	case len(p.rejected) > 0:
		return exitStatus(2)
	}
	return nil
}

func writeReport(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, reportHeader)
	for _, r := range lines {
		fmt.Fprintln(w, r)
	}
	return errors.Join(w.Flush(), f.Close())
}

// reportHeader starts every report, so an old one can be told apart.
const reportHeader = "file\tid\treason\n"

// removeOldReport removes the report of an earlier run (a file that
// starts with the report's header), which would no longer be true.
func removeOldReport(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	head := make([]byte, len(reportHeader))
	n, _ := io.ReadFull(f, head)
	f.Close()
	if string(head[:n]) == reportHeader {
		_ = os.Remove(path)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
