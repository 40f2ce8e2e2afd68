package raftstore

import (
	"sync"
	"sync/atomic"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
)

// blockedSet holds the hashes of every public key that may be blocked, so
// that deciding a publish (at the edge and at apply, for every
// certificate) looks a key up in Badger only when it may have a record:
// with none blocked, a bulk publish does no lookup for them at all.
//
// It is a superset of the blocked keys in any snapshot of the ledger:
// Apply adds a block's newly blocked keys before it commits the block, and
// keys are never unblocked. So a view that finds a key outside the set
// knows it has no record, and a view that finds it inside reads Badger,
// which answers exactly for its snapshot.
type blockedSet struct {
	mu sync.Mutex // serialises add
	m  atomic.Pointer[map[certchain.Hash]struct{}]
}

// has reports whether key h may be blocked.
func (b *blockedSet) has(h certchain.Hash) bool {
	m := b.m.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[h]
	return ok
}

// add enters hashes in the set (copy on write: adding is rare, reading is
// per certificate).
func (b *blockedSet) add(hs ...certchain.Hash) {
	if len(hs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next := make(map[certchain.Hash]struct{})
	if cur := b.m.Load(); cur != nil {
		for h := range *cur {
			next[h] = struct{}{}
		}
	}
	for _, h := range hs {
		next[h] = struct{}{}
	}
	b.m.Store(&next)
}

// load enters every blocked key of the ledger seen by txn.
func (b *blockedSet) load(txn *badger.Txn) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixBlocked})
	defer it.Close()
	var hs []certchain.Hash
	for it.Seek(prefixBlocked); it.ValidForPrefix(prefixBlocked); it.Next() {
		var h certchain.Hash
		copy(h[:], it.Item().Key()[len(prefixBlocked):])
		hs = append(hs, h)
	}
	b.add(hs...)
}
