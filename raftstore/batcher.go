package raftstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/hashicorp/raft"
)

// ErrOutcomeUnknown: the transaction was handed to Raft but the node lost
// track of it (leadership changed or the node stopped) before it was
// applied. It may or may not be on the ledger; every transaction type is
// safe to send again (publish is idempotent, a repeated status change is
// refused with a state verdict).
var ErrOutcomeUnknown = errors.New("outcome unknown: retry")

// Result is the outcome of one submitted transaction.
type Result struct {
	TxID certchain.Hash
	// Height is the block that carries the transaction (0 when it was
	// refused before reaching the ledger).
	Height  uint64
	Verdict certchain.Verdict
	// Err is set when there is no verdict: certchain.ErrBusy,
	// certchain.ErrNotLeader, ErrOutcomeUnknown, or a context error.
	Err error
	// Cert is the transaction's certificate as this node's edge checked
	// it (nil when it carries none, failed the check, or was forwarded):
	// its ID and serial, without parsing or hashing it again.
	Cert *validator.Cert
}

type pending struct {
	tx   certchain.Tx
	id   certchain.Hash
	cert *validator.Cert // checked at the edge, for the apply step
	size int
	idx  int
	done chan<- indexed
}

type indexed struct {
	idx int
	res Result
}

// batcher groups submitted transactions into proposals, bounded by count,
// bytes and delay, and keeps up to MaxInflight proposals in Raft at once.
type batcher struct {
	n        *Node
	queue    chan *pending
	inflight chan struct{}
	maxTxs   int
	delay    time.Duration
}

func newBatcher(n *Node) *batcher {
	p := n.cfg.Genesis.Policy
	return &batcher{
		n:        n,
		queue:    make(chan *pending, n.cfg.MaxPending),
		inflight: make(chan struct{}, n.cfg.MaxInflight),
		maxTxs:   p.BlockMaxTxs,
		delay:    p.BlockMaxDelay.D(),
	}
}

// SubmitLocal verifies txs against this node's state, refuses what fails
// without touching the ledger, and waits until the rest is applied;
// results are in the order of txs. It does not forward: a node that is not
// the leader answers certchain.ErrNotLeader for what passed the precheck.
// The leader's API calls it for writes forwarded by followers.
func (n *Node) SubmitLocal(ctx context.Context, txs []certchain.Tx) ([]Result, error) {
	stamp(txs)
	ids := certchain.TxIDs(txs)
	verdicts, certs, err := n.state.Precheck(txs, ids, time.Now())
	if err != nil {
		return nil, fmt.Errorf("precheck: %w", err)
	}
	n.metrics.checks.WithLabelValues("edge").Add(float64(withCert(txs)))
	n.metrics.sigChecks.WithLabelValues("edge").Add(float64(withSig(txs)))
	results := make([]Result, len(txs))
	done := make(chan indexed, len(txs))
	waiting := 0
	for i := range txs {
		results[i] = Result{TxID: ids[i], Verdict: verdicts[i], Cert: certs[i]}
		if verdicts[i].Code != certchain.Accepted {
			n.metrics.edgeRefused(txs[i].Type, verdicts[i].Code)
			continue
		}
		if err := n.batch.enqueue(&pending{tx: txs[i], id: ids[i], cert: certs[i], size: len(txs[i].Cert) + 256, idx: i, done: done}); err != nil {
			results[i] = Result{TxID: ids[i], Err: err}
			continue
		}
		waiting++
	}
	return results, collect(ctx, done, waiting, results)
}

// withSig counts the transactions that carry a member signature.
func withSig(txs []certchain.Tx) (n int) {
	for i := range txs {
		if len(txs[i].Sig) > 0 {
			n++
		}
	}
	return n
}

func withCert(txs []certchain.Tx) (n int) {
	for i := range txs {
		if len(txs[i].Cert) > 0 {
			n++
		}
	}
	return n
}

func collect(ctx context.Context, done <-chan indexed, waiting int, results []Result) error {
	for ; waiting > 0; waiting-- {
		select {
		case r := <-done:
			results[r.idx] = r.res
		case <-ctx.Done():
			return fmt.Errorf("waiting for the ledger: %w", ctx.Err())
		}
	}
	return nil
}

func (b *batcher) enqueue(p *pending) error {
	if !b.n.IsLeader() {
		return certchain.ErrNotLeader
	}
	select {
	case b.queue <- p:
		return nil
	default:
		return certchain.ErrBusy
	}
}

func (b *batcher) run(ctx context.Context) {
	for {
		var first *pending
		select {
		case <-ctx.Done():
			b.drain()
			return
		case first = <-b.queue:
		}
		batch := b.gather(ctx, first)
		select {
		case b.inflight <- struct{}{}:
		case <-ctx.Done():
			fail(batch, ErrOutcomeUnknown)
			b.drain()
			return
		}
		b.propose(batch)
	}
}

// gather collects transactions after first until the block is full or the
// delay since first has passed.
func (b *batcher) gather(ctx context.Context, first *pending) []*pending {
	batch, bytes := []*pending{first}, first.size
	timer := time.NewTimer(b.delay)
	defer timer.Stop()
	for len(batch) < b.maxTxs && bytes < b.n.cfg.BlockMaxBytes {
		select {
		case p := <-b.queue:
			batch, bytes = append(batch, p), bytes+p.size
		case <-timer.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

func (b *batcher) propose(batch []*pending) {
	p := certchain.Proposal{Time: time.Now().UnixNano(), Proposer: b.n.cfg.ID, Txs: make([]certchain.Tx, len(batch))}
	for i, q := range batch {
		p.Txs[i] = q.tx
		if q.cert != nil {
			b.n.state.Prechecked(q.id, q.cert)
		}
	}
	data := encodeProposal(&p)
	b.n.state.proposed.put(data, ids(batch))
	f := b.n.raft.Apply(data, b.n.cfg.ApplyTimeout)
	go func() {
		defer func() { <-b.inflight }()
		b.deliver(batch, data, f)
	}()
}

func (b *batcher) deliver(batch []*pending, data []byte, f raft.ApplyFuture) {
	if err := f.Error(); err != nil {
		b.n.state.Forget(ids(batch))
		b.n.state.proposed.take(data) // if it was not applied here
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			fail(batch, certchain.ErrNotLeader) // never entered the log
		} else {
			fail(batch, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err))
		}
		return
	}
	switch a := f.Response().(type) {
	case *Applied:
		for i, q := range batch {
			q.done <- indexed{q.idx, Result{TxID: q.id, Height: a.Header.Height, Verdict: a.Verdicts[i], Cert: q.cert}}
		}
	default:
		fail(batch, fmt.Errorf("%w: entry was applied before a restart", ErrOutcomeUnknown))
	}
}

func ids(batch []*pending) []certchain.Hash {
	out := make([]certchain.Hash, len(batch))
	for i, q := range batch {
		out[i] = q.id
	}
	return out
}

func fail(batch []*pending, err error) {
	for _, q := range batch {
		q.done <- indexed{q.idx, Result{TxID: q.id, Err: err, Cert: q.cert}}
	}
}

// drain fails everything still queued when the node stops.
func (b *batcher) drain() {
	for {
		select {
		case p := <-b.queue:
			fail([]*pending{p}, ErrOutcomeUnknown)
		default:
			return
		}
	}
}
