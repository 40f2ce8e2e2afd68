package raftstore

import (
	"slices"
	"testing"

	"github.com/certchain/certchain/certchain"
)

// TestProposedIDs: the apply step takes the IDs the batcher recorded only
// for the very entry it proposed, once; a copy of the bytes (a follower,
// a replay) is hashed, to the same IDs.
func TestProposedIDs(t *testing.T) {
	tn := newTestNet(t)
	txs := []certchain.Tx{publishTx(tn.device(t)), publishTx(tn.device(t))}
	data := encodeProposal(&certchain.Proposal{Time: 1, Proposer: "n1", Txs: txs})
	want := certchain.TxIDs(txs)
	f := &fsm{state: &State{}}
	f.state.proposed.put(data, want)

	copied := slices.Clone(data)
	if got := f.state.proposed.take(copied); got != nil {
		t.Fatal("IDs handed to a copy of the entry")
	}
	_, hashed, err := f.decodeProposal(copied)
	if err != nil || !slices.Equal(hashed, want) {
		t.Fatalf("hashed IDs %v %v, want %v", hashed, err, want)
	}
	p, got, err := f.decodeProposal(data)
	if err != nil || !slices.Equal(got, want) || len(p.Txs) != 2 || &got[0] != &want[0] {
		t.Fatalf("own entry: %v %v", got, err)
	}
	if f.state.proposed.take(data) != nil {
		t.Fatal("IDs handed out twice")
	}
}
