package raftstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// Forwarder sends transactions to the leader's API and returns its
// results (the HTTP edge implements it with the node's certificate).
type Forwarder interface {
	Forward(ctx context.Context, leaderAPI string, txs []certchain.Tx) ([]Result, error)
	// ForwardObjects sends encoded object writes (EncodeObjects) to the
	// leader and returns the Raft index they were applied at.
	ForwardObjects(ctx context.Context, leaderAPI string, encoded []byte) (uint64, error)
}

// ErrNotApplied: a forwarded write provably never reached the leader (the
// follower could not connect to it); nothing of it was applied, and
// sending it again is safe. Errors of this kind also match
// certchain.ErrNotLeader (the leader this node knows is not reachable).
// Compare ErrOutcomeUnknown, for a write that may have been applied.
var ErrNotApplied = errors.New("not applied: the leader could not be reached")

// leaderWait bounds how long a follower waits for an election before it
// answers that there is no leader, and for its own log to reach a
// forwarded write (so the caller can read it here at once).
const leaderWait = 5 * time.Second

// Submit verifies txs and waits until they are applied; results are in
// the order of txs. On the leader the transactions are prechecked and
// batched here (SubmitLocal); a follower forwards them to the leader, so a
// caller never has to find the leader.
func (n *Node) Submit(ctx context.Context, txs []certchain.Tx) ([]Result, error) {
	stamp(txs)
	if n.IsLeader() || n.cfg.Forwarder == nil {
		return n.SubmitLocal(ctx, txs)
	}
	return n.forward(ctx, txs)
}

func stamp(txs []certchain.Tx) {
	now := time.Now().UnixNano()
	for i := range txs {
		if txs[i].Time == 0 {
			txs[i].Time = now
		}
	}
}

func (n *Node) forward(ctx context.Context, txs []certchain.Tx) ([]Result, error) {
	api, err := n.leaderAPI(ctx)
	if err != nil {
		return notLeader(txs, err), nil
	}
	res, err := n.cfg.Forwarder.Forward(ctx, api, txs)
	if err != nil {
		return nil, fmt.Errorf("forward to the leader at %s: %w", api, err)
	}
	n.catchUp(ctx, res)
	return res, nil
}

// leaderAPI waits (bounded) for a leader and returns its API URL.
func (n *Node) leaderAPI(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	for {
		addr, id := n.raft.LeaderWithID()
		if _, api := SplitAddress(addr); api != "" {
			return api, nil
		} else if addr != "" {
			return "", fmt.Errorf("%w: leader %s advertises no API", certchain.ErrNotLeader, id)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w: no leader elected", certchain.ErrNotLeader)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// catchUp waits (bounded) until this node has applied what the leader
// committed for res, so a read here right after sees the write.
func (n *Node) catchUp(ctx context.Context, res []Result) {
	var h uint64
	for _, r := range res {
		h = max(h, r.Height)
	}
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	_ = n.state.WaitHeight(ctx, h)
}

func notLeader(txs []certchain.Tx, err error) []Result {
	res := make([]Result, len(txs))
	for i := range txs {
		res[i] = Result{TxID: txs[i].ID(), Err: err}
	}
	return res
}
