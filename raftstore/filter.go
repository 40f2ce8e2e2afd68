package raftstore

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// keyFilter answers "may this key be in the ledger?" for the keys that
// deciding a block looks up and mostly does not find: records (a new
// certificate), identities (a new device) and transaction IDs (a new
// transaction). Each such lookup in Badger searches every memtable's
// skiplist, which is where a bulk publish spent a tenth of a node's CPU
// (BENCHMARKS.md); a filter that says "no" skips it.
//
// It is a Bloom filter of every such key written, so it never says no
// for a key that is there — the decisions of a block depend on that, and
// every node must reach the same ones:
//
//   - Apply adds each key before it writes it (were the commit to fail,
//     the key would only cost a lookup), and keys are never taken out (an
//     identity that moves on stays in: a lookup finds nothing); Precheck,
//     whose writes are thrown away, keeps its own beside the filter;
//   - the filter is built from the ledger when the state is opened or
//     restored from a snapshot, before anything is decided with it;
//   - when it holds more keys than it was sized for, it is rebuilt larger
//     in the background (see grow): meanwhile every key added goes into
//     both filters, and the new one is filled from a snapshot taken by the
//     apply goroutine, the only one that commits, between two blocks.
type keyFilter struct {
	cur  atomic.Pointer[bloom] // nil until built: every key may exist
	next atomic.Pointer[bloom] // being filled by a rebuild, or nil
	mu   sync.Mutex            // one rebuild at a time
}

// filtered are the key prefixes the filter holds.
var filtered = [][]byte{prefixRecord, prefixIdentity, prefixTx}

// Filter sizing: bits per key (about 1 % false positives with 512-bit
// blocks and 7 probes: 1.5 bytes a key, three keys a certificate), the
// smallest capacity (1.5 MiB), and how much larger than its content a
// built filter is (it is rebuilt when full): 4.5 to 9 bytes a
// certificate.
const (
	filterBitsPerKey = 12
	filterMinKeys    = 1 << 20
	filterGrowth     = 2
)

// mayHave reports whether key may be in the ledger; false is certain.
func (f *keyFilter) mayHave(key []byte) bool {
	b := f.cur.Load()
	return b == nil || b.has(key)
}

// add enters key (before it is written). It reads next before cur: a
// rebuild that ends meanwhile stores cur before it clears next, so a key
// that misses the new filter as next finds it as cur.
func (f *keyFilter) add(key []byte) {
	next := f.next.Load()
	if next != nil {
		next.add(key)
	}
	if b := f.cur.Load(); b != nil && b != next {
		b.add(key)
	}
}

// build fills the filter from the ledger in db. The caller makes sure
// nothing is decided or written meanwhile (opening, restoring).
func (f *keyFilter) build(db *badger.DB) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur.Store(nil)
	txn := db.NewTransaction(false)
	defer txn.Discard()
	n := countKeys(txn)
	b := newBloom(max(filterGrowth*n, filterMinKeys))
	fill(txn, b)
	f.cur.Store(b)
}

// full reports whether the filter holds more keys than it was sized for.
func (f *keyFilter) full() bool {
	b := f.cur.Load()
	return b != nil && b.n.Load() > b.capacity && f.next.Load() == nil
}

// grow starts a rebuild at filterGrowth times the present size. It must be
// called by the apply goroutine between two blocks: the snapshot it takes
// then holds every committed key, and every key committed later is added
// after f.next is set.
func (f *keyFilter) grow(db *badger.DB) {
	if !f.mu.TryLock() {
		return
	}
	b := newBloom(filterGrowth * f.cur.Load().n.Load())
	f.next.Store(b)
	txn := db.NewTransaction(false)
	go func() {
		defer f.mu.Unlock()
		defer txn.Discard()
		fill(txn, b)
		f.cur.Store(b)
		f.next.Store(nil)
	}()
}

// countKeys counts the filtered keys in txn's snapshot.
func countKeys(txn *badger.Txn) int64 {
	var n int64
	eachKey(txn, func([]byte) { n++ })
	return n
}

// fill adds every filtered key of txn's snapshot to b.
func fill(txn *badger.Txn, b *bloom) { eachKey(txn, b.add) }

func eachKey(txn *badger.Txn, fn func([]byte)) {
	for _, p := range filtered {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			fn(it.Item().Key())
		}
		it.Close()
	}
}

// bloom is a blocked Bloom filter safe for concurrent use: each key sets
// bloomProbes bits in one 512-bit block (one cache line), chosen by one
// hash; a second hash places the bits.
type bloom struct {
	blocks   [][8]atomic.Uint64
	seed     [2]maphash.Seed
	n        atomic.Int64 // keys added
	capacity int64
}

const bloomProbes = 7 // 7 probes of 9 bits use 63 of the second hash's 64

func newBloom(capacity int64) *bloom {
	nblocks := max(1, (capacity*filterBitsPerKey+511)/512)
	return &bloom{blocks: make([][8]atomic.Uint64, nblocks), seed: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, capacity: capacity}
}

func (b *bloom) locate(key []byte) (*[8]atomic.Uint64, uint64) {
	hi, _ := bits.Mul64(maphash.Bytes(b.seed[0], key), uint64(len(b.blocks)))
	return &b.blocks[hi], maphash.Bytes(b.seed[1], key)
}

func (b *bloom) add(key []byte) {
	blk, h := b.locate(key)
	for range bloomProbes {
		bit := h & 511
		blk[bit>>6].Or(1 << (bit & 63))
		h >>= 9
	}
	b.n.Add(1)
}

func (b *bloom) has(key []byte) bool {
	blk, h := b.locate(key)
	for range bloomProbes {
		bit := h & 511
		if blk[bit>>6].Load()&(1<<(bit&63)) == 0 {
			return false
		}
		h >>= 9
	}
	return true
}
