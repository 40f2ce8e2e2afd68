package raftstore

import (
	"sync"

	"github.com/certchain/certchain/certchain"
)

// proposedIDs hands the transaction IDs of a proposal this node put into
// Raft to the apply step of the same entry, so that the leader does not
// hash every transaction of its own blocks again (followers do). An entry
// is found by the address of its data: on the leader, Raft gives the FSM
// the very slice the batcher proposed, so the bytes are the ones the IDs
// were computed for; an equal copy (a replay, a follower) is not found and
// is hashed.
type proposedIDs struct {
	mu sync.Mutex
	m  map[*byte][]certchain.Hash
}

// put records the IDs of the transactions in entry data.
func (p *proposedIDs) put(data []byte, ids []certchain.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[*byte][]certchain.Hash)
	}
	p.m[&data[0]] = ids
}

// take returns and forgets the IDs recorded for data (nil if none).
func (p *proposedIDs) take(data []byte) []certchain.Hash {
	if len(data) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.m[&data[0]]
	delete(p.m, &data[0])
	return ids
}
