package raftstore

import (
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"

	"github.com/certchain/certchain/certchain"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// TestBloom: no key added is ever reported absent, also while others are
// added concurrently, and at capacity about 1 % of other keys are
// reported present.
func TestBloom(t *testing.T) {
	const n = 100_000
	b := newBloom(n)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = make([]byte, 34)
		rand.Read(keys[i])
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				b.add(keys[i])
				if !b.has(keys[i]) {
					t.Errorf("key %d absent right after adding it", i)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, k := range keys {
		if !b.has(k) {
			t.Fatalf("key %d absent", i)
		}
	}
	fp := 0
	for range n {
		k := make([]byte, 34)
		rand.Read(k)
		if b.has(k) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.03 {
		t.Fatalf("false positive rate %.2f%% at capacity", 100*rate)
	}
	t.Logf("false positives at capacity: %.2f%%", 100*float64(fp)/n)
}

// TestKeyFilterDecidesAsBadger: a ledger whose lookups go through the key
// filter decides every block exactly as one that asks Badger each time —
// duplicates in a block and across blocks, a taken identity, a replayed
// transaction, a revoked identity published anew — also after the state
// is reopened (the filter rebuilt from the ledger) and after the filter
// outgrows its size and is rebuilt while blocks are applied.
func TestKeyFilterDecidesAsBadger(t *testing.T) {
	tn := newTestNet(t)
	open := func(dir string) (*State, func()) { return openTestState(t, dir, tn.Genesis) }
	filteredDir, plainDir := filepath.Join(t.TempDir(), "f"), filepath.Join(t.TempDir(), "p")
	filtered, closeF := open(filteredDir)
	plain, closeP := open(plainDir)
	defer func() { closeP() }()
	plain.filter.cur.Store(nil) // never built: every lookup goes to Badger

	dev := func(cn string) certchain.Tx { return publishTx(tn.device(t, vt.WithCN(cn))) }
	d1, d2, d3 := dev("d1"), dev("d2"), dev("d3")
	sameID := dev("d2") // another key, the same identity as d2
	index := uint64(0)
	apply := func(step string, txs ...certchain.Tx) {
		t.Helper()
		index++
		p := &certchain.Proposal{Time: tn.Now.UnixNano() + int64(index), Proposer: "n1", Txs: txs}
		a, err := filtered.Apply(index, p, certchain.TxIDs(txs))
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.Apply(index, p, certchain.TxIDs(txs))
		if err != nil {
			t.Fatal(err)
		}
		if a.Hash != b.Hash {
			t.Fatalf("%s: filtered block %s %+v, plain %s %+v", step, a.Hash, a.Verdicts, b.Hash, b.Verdicts)
		}
	}
	revoke := func(d certchain.Tx) certchain.Tx {
		return certchain.Tx{Type: certchain.TxRevoke, Submitter: vt.Vendor, Target: certchain.Sum(d.Cert), Reason: certchain.ReasonKeyCompromise}
	}
	apply("publish, twice in a block", d1, d2, d1)
	apply("published again, the identity taken, a replayed transaction", d1, sameID, d2, d3)
	apply("revoke, then the identity is free", revoke(d2), sameID)

	closeF() // reopen: the filter is rebuilt from the ledger
	filtered, closeF = open(filteredDir)
	defer func() { closeF() }()
	apply("after reopening", d1, d2, sameID, dev("d4"), dev("d1"))

	// Outgrow the filter: it is rebuilt (in the background) while blocks
	// go on being applied, every one decided as without it.
	small := newBloom(1)
	txn := filtered.db.NewTransaction(false)
	fill(txn, small)
	txn.Discard()
	filtered.filter.cur.Store(small)
	var devs []certchain.Tx
	for i := range 200 {
		devs = append(devs, dev("g"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	for i := 0; i < len(devs); i += 20 {
		apply("while the filter grows", append(append([]certchain.Tx{}, devs[i:i+20]...), devs[max(0, i-5):i]...)...)
	}
	filtered.filter.mu.Lock() // the rebuild is done
	grown := filtered.filter.cur.Load()
	filtered.filter.mu.Unlock()
	if grown == small || grown.capacity <= small.capacity {
		t.Fatalf("filter not rebuilt larger: capacity %d", grown.capacity)
	}
	apply("after the rebuild", devs[0], devs[199], d1, dev("d5"))
	if fh, ph := filtered.Head(), plain.Head(); fh.Hash() != ph.Hash() {
		t.Fatal("heads differ")
	}
}

// openTestState opens the ledger state of genesis g in dir (a small
// Badger); close closes its database.
func openTestState(t testing.TB, dir string, g *certchain.Genesis) (s *State, close func()) {
	t.Helper()
	db, err := OpenBadger(dir, BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = OpenState(db, g); err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	return s, func() { _ = db.Close() }
}
