package api

import (
	"cmp"
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
// of the Index-th entry of the stream (0-based: every non-blank NDJSON
// line, every PEM block, chain certificates included).
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
	Chain            int    `json:"chain"`  // CA certificates of a PEM stream taken as chain
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

// streamEnd is how the last line of a stream's answer is written:
// {"summary":{…}} or {"error":{…}}, without a result's fields.
type streamEnd struct {
	Summary *StreamSummary `json:"summary,omitempty"`
	Error   *Problem       `json:"error,omitempty"`
}

// chunk is a run of consecutive stream entries submitted together.
type chunk struct {
	start   int
	items   []streamItem
	bytes   int // DER bytes of items
	results []PublishResult
	err     error // the submission panicked (logged); results are missing
	done    chan struct{}
}

// publishStream is POST /v1/certificates/stream: a body of any length,
// NDJSON (StreamItem lines) or PEM, answered with NDJSON as it commits.
//
// The body is read in chunks of Limits.StreamChunk certificates (or
// StreamChunkBytes), each prechecked and submitted as soon as it is full
// (or the sender pauses), with at most Limits.StreamInflight chunks in
// flight: when the ledger is slower than the sender, the node stops
// reading and TCP pushes back, so memory stays bounded however long the
// stream. Results are written in stream order as chunks commit, one per
// entry. What was certainly not applied (busy, no reachable leader) is
// sent again here for up to Limits.Write before it is answered "retry".
func (s *Server) publishStream(w http.ResponseWriter, r *http.Request) {
	member, release, err := s.admitMember(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	items, err := s.openStream(r)
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
	var gone bool    // the client went away: write nothing more
	var broken error // a chunk's submission failed: end with an error line
	for c := range chunks {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		if gone || broken != nil || ctx.Err() != nil {
			continue // drain, so the reader can stop
		}
		if broken = c.err; broken == nil {
			gone = st.writeChunk(enc, rc, c, &sum) != nil
		}
		if gone || broken != nil {
			cancel()
			_ = rc.SetReadDeadline(time.Now()) // unblock a body read in progress
		}
	}
	<-readDone
	switch {
	case gone:
	case broken != nil || st.err != nil:
		p := problemFor(cmp.Or(broken, st.err))
		_ = enc.Encode(streamEnd{Error: &p})
	default:
		_ = enc.Encode(streamEnd{Summary: &sum})
	}
}

// openStream returns the entries of a publish stream, after reading the
// first one: reading sends "100 Continue" to a client that waits for it
// (curl does for bodies over 1 MiB), and a stream broken at its first
// entry is answered with a problem document rather than a 200.
func (s *Server) openStream(r *http.Request) (itemReader, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	items, err := newItemReader(mt, r.Body)
	if err != nil {
		return nil, err
	}
	first, err := items.next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("first entry: %w", err)
	}
	return &firstItem{it: first, err: err, rest: items}, nil
}

// firstItem is an itemReader whose first entry was read already.
type firstItem struct {
	it   streamItem
	err  error // io.EOF: the stream is empty
	done bool
	rest itemReader
}

func (f *firstItem) next() (streamItem, error) {
	if f.done {
		return f.rest.next()
	}
	f.done = true
	return f.it, f.err
}

// writeChunk writes a chunk's result lines and counts them.
func (st *stream) writeChunk(enc *json.Encoder, rc *http.ResponseController, c *chunk, sum *StreamSummary) error {
	for i, pr := range c.results {
		count(sum, pr)
		if err := enc.Encode(StreamResult{Index: c.start + i, PublishResult: pr}); err != nil {
			return err
		}
	}
	return rc.Flush()
}

func count(sum *StreamSummary, pr PublishResult) {
	switch {
	case pr.State == StateRetry:
		sum.Retry++
	case pr.State == StateRejected:
		sum.Rejected++
	case pr.State == StateChain:
		sum.Chain++
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
	entries := make(chan streamItem, min(st.s.Limits.StreamChunk, streamAhead))
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

// decode reads entries from the body into entries until the end. A
// decoder's panic (outside input reaches it) breaks the stream, logged.
func (st *stream) decode(ctx context.Context, entries chan<- streamItem) {
	defer close(entries)
	defer func() {
		if v := recover(); v != nil {
			st.err = st.s.recovered(routeStream, v)
		}
	}()
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
				st.err = fmt.Errorf("after %d entries: %w", st.n, err)
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

// streamAhead bounds the entries decoded ahead of the chunk being
// gathered (each at most maxStreamLine of input).
const streamAhead = 32

// gather takes up to StreamChunk entries or StreamChunkBytes of DER,
// stopping early when the sender pauses; an empty chunk means the stream
// has ended.
func (st *stream) gather(ctx context.Context, entries <-chan streamItem) *chunk {
	c := &chunk{start: st.gathered, done: make(chan struct{})}
	defer func() { st.gathered += len(c.items) }()
	var pause <-chan time.Time
	for len(c.items) < st.s.Limits.StreamChunk && c.bytes < st.s.Limits.StreamChunkBytes {
		select {
		case it, ok := <-entries:
			if !ok {
				return c
			}
			c.items = append(c.items, it)
			c.bytes += it.size()
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

// submit publishes a chunk's certificates and fills in its results. The
// chunk's entries are let go once answered (memory is bounded by the
// entries in flight, not by those waiting to be written).
func (st *stream) submit(ctx context.Context, c *chunk) {
	defer close(c.done)
	defer func() {
		if v := recover(); v != nil {
			c.err = st.s.recovered(routeStream, v)
		}
	}()
	retrying := func(ctx context.Context, txs []certchain.Tx) ([]raftstore.Result, error) {
		return st.s.submitRetrying(ctx, txs), nil
	}
	c.results, _, _ = st.s.publishItems(ctx, st.member, c.items, retrying)
	c.items = nil
}

// submitRetrying submits txs and sends again, with backoff, those that
// were certainly not applied (the node was busy, or the leader was not
// there or not reachable), for up to Limits.Write.
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
			if err != nil {
				results[i] = raftstore.Result{TxID: txs[i].ID(), Err: err}
			} else {
				results[i] = res[k]
			}
			if notApplied(results[i].Err) {
				again = append(again, i)
			}
		}
		if len(again) == 0 || time.Now().Add(backoff).After(deadline) {
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

// notApplied reports whether err says a write was certainly not applied
// (so sending it again cannot apply it twice, and may succeed).
func notApplied(err error) bool {
	return errors.Is(err, certchain.ErrBusy) || errors.Is(err, certchain.ErrNotLeader)
}
