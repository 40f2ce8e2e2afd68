package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
)

// StreamResult is a result line of a publish stream's answer: the outcome
// of the Index-th certificate of the stream (0-based; in a PEM stream CA
// certificates are not counted).
type StreamResult struct {
	Index int `json:"index"`
	PublishResult
}

// StreamSummary is the last line of a complete answer, as
// {"summary": {...}}: a client that does not receive it knows the answer
// was cut off, and sends again what has no result (publish is idempotent).
type StreamSummary struct {
	Published        int    `json:"published"` // new on the ledger
	AlreadyPublished int    `json:"already_published"`
	Rejected         int    `json:"rejected"`
	Retry            int    `json:"retry"`
	Height           uint64 `json:"height"` // highest block carrying the stream's writes
}

// StreamLine is any line of a publish stream's answer: a result, the
// summary, or an error that ended the stream early (after the results of
// everything before it).
type StreamLine struct {
	StreamResult
	Summary *StreamSummary `json:"summary,omitempty"`
	Error   *Problem       `json:"error,omitempty"`
}

// chunk is a run of consecutive stream entries submitted together.
type chunk struct {
	start   int
	items   []streamItem
	results []PublishResult
	done    chan struct{}
}

// publishStream is POST /v1/certificates/stream: a body of any length,
// NDJSON (StreamItem lines) or PEM, answered with NDJSON as it commits.
//
// The body is read in chunks of Limits.StreamChunk certificates, each
// prechecked and submitted as soon as it is full (or the sender pauses),
// with at most Limits.StreamInflight chunks in flight: when the ledger is
// slower than the sender, the node stops reading and TCP pushes back, so
// memory stays bounded however long the stream. Results are written in
// stream order as chunks commit. What the node is too busy to take is
// retried here for up to Limits.Write before it is answered "retry".
func (s *Server) publishStream(w http.ResponseWriter, r *http.Request) {
	member, release, err := s.admitMember(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	mt, err := mediaType(r)
	var items itemReader
	if err == nil {
		items, err = newItemReader(mt, r.Body)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1.1: answer while the body is still coming (HTTP/2 always can)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush() // the client learns at once that the stream is accepted

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{s: s, member: member, items: items}
	chunks := make(chan *chunk, s.Limits.StreamInflight)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		st.read(ctx, chunks)
	}()
	enc := json.NewEncoder(w)
	var sum StreamSummary
	failed := false
	for c := range chunks {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || failed {
			failed = true
			continue // drain, so the reader can stop
		}
		for i, pr := range c.results {
			count(&sum, pr)
			if enc.Encode(StreamResult{Index: c.start + i, PublishResult: pr}) != nil {
				failed = true
				break
			}
		}
		if !failed && rc.Flush() != nil {
			failed = true
		}
		if failed {
			cancel()
			_ = rc.SetReadDeadline(time.Now()) // unblock a body read in progress
		}
	}
	<-readDone
	if failed {
		return
	}
	if st.err != nil {
		p := problemFor(st.err)
		_ = enc.Encode(StreamLine{Error: &p})
		return
	}
	_ = enc.Encode(StreamLine{Summary: &sum})
}

func count(sum *StreamSummary, pr PublishResult) {
	switch {
	case pr.State == StateRetry:
		sum.Retry++
	case pr.State == StateRejected:
		sum.Rejected++
	case pr.AlreadyPublished:
		sum.AlreadyPublished++
	default:
		sum.Published++
	}
	sum.Height = max(sum.Height, pr.Height)
}

// stream is one publish stream being read.
type stream struct {
	s        *Server
	member   string
	items    itemReader
	n        int   // entries decoded so far (by decode)
	gathered int   // entries put into chunks so far (by gather)
	err      error // what broke the stream, if anything (set by decode)
}

// read gathers entries into chunks, starts each chunk's submission and
// hands the chunks, in order, to the writer; it closes chunks at the end
// of the body, on a broken stream (st.err) or when ctx ends.
func (st *stream) read(ctx context.Context, chunks chan<- *chunk) {
	entries := make(chan streamItem, st.s.Limits.StreamChunk)
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		st.decode(ctx, entries)
	}()
	defer func() {
		close(chunks)
		<-decoded // st.err is final
	}()
	for {
		c := st.gather(ctx, entries)
		if len(c.items) == 0 {
			return
		}
		go st.submit(ctx, c)
		select {
		case chunks <- c:
		case <-ctx.Done():
			return
		}
	}
}

// decode reads entries from the body into entries until the end.
func (st *stream) decode(ctx context.Context, entries chan<- streamItem) {
	defer close(entries)
	for {
		it, err := st.items.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err == nil && st.n == st.s.Limits.StreamCerts {
			err = &reasonError{kind: errTooLarge, reason: fmt.Sprintf("more than %d certificates in one stream", st.s.Limits.StreamCerts)}
		}
		if err != nil {
			if ctx.Err() == nil {
				st.err = fmt.Errorf("after %d certificates: %w", st.n, err)
			}
			return
		}
		st.n++
		select {
		case entries <- it:
		case <-ctx.Done():
			return
		}
	}
}

// streamPause is how long a partly filled chunk waits for more entries
// before it is submitted: a factory line that trickles certificates gets
// its results promptly.
const streamPause = 50 * time.Millisecond

// gather takes up to StreamChunk entries, stopping early when the sender
// pauses; an empty chunk means the stream has ended.
func (st *stream) gather(ctx context.Context, entries <-chan streamItem) *chunk {
	c := &chunk{start: st.gathered, done: make(chan struct{})}
	defer func() { st.gathered += len(c.items) }()
	var pause <-chan time.Time
	for len(c.items) < st.s.Limits.StreamChunk {
		select {
		case it, ok := <-entries:
			if !ok {
				return c
			}
			c.items = append(c.items, it)
			if pause == nil {
				pause = time.After(streamPause)
			}
		case <-pause:
			return c
		case <-ctx.Done():
			return c
		}
	}
	return c
}

// submit publishes a chunk's certificates and fills in its results.
func (st *stream) submit(ctx context.Context, c *chunk) {
	defer close(c.done)
	c.results = make([]PublishResult, len(c.items))
	var txs []certchain.Tx
	var at []int // index in c.items of each tx
	for i, it := range c.items {
		if it.err != nil {
			c.results[i] = PublishResult{State: StateRejected, Reason: it.err.Error()}
			if it.der != nil {
				c.results[i].ID = certchain.Sum(it.der).String()
			}
			continue
		}
		txs = append(txs, certchain.Tx{Type: certchain.TxPublish, Submitter: st.member, Cert: it.der, Chain: it.chain, Sig: it.sig})
		at = append(at, i)
	}
	for j, res := range st.s.submitRetrying(ctx, txs) {
		c.results[at[j]] = st.s.publishResult(txs[j].Cert, res)
	}
}

// submitRetrying submits txs and sends again, with backoff, those the
// node was too busy to take, for up to Limits.Write.
func (s *Server) submitRetrying(ctx context.Context, txs []certchain.Tx) []raftstore.Result {
	results := make([]raftstore.Result, len(txs))
	todo := make([]int, len(txs))
	for i := range todo {
		todo[i] = i
	}
	deadline := time.Now().Add(s.Limits.Write)
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		batch := make([]certchain.Tx, len(todo))
		for k, i := range todo {
			batch[k] = txs[i]
		}
		res, err := s.submit(ctx, batch)
		var again []int
		for k, i := range todo {
			switch {
			case err != nil:
				results[i] = raftstore.Result{TxID: txs[i].ID(), Err: err}
			default:
				results[i] = res[k]
				if errors.Is(res[k].Err, certchain.ErrBusy) {
					again = append(again, i)
				}
			}
		}
		if len(again) == 0 || err != nil || time.Now().Add(backoff).After(deadline) {
			return results
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return results
		}
		todo = again
	}
}
