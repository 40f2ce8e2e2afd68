package raftstore

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// BenchmarkDecide measures what publishing costs a node per certificate
// besides verifying it and besides Raft: the edge's precheck (decide in a
// discarded transaction) and applying the block (decide, block, commit),
// in batches of 1,000 self-signed certificates verified beforehand, on a
// ledger that grows as it goes. Badger does not fsync here.
func BenchmarkDecide(b *testing.B) {
	pool := decidePool(b)
	if b.N > len(pool.txs) {
		b.Skipf("at most %d certificates (-benchtime %dx)", len(pool.txs), len(pool.txs))
	}
	db, err := OpenBadger(filepath.Join(b.TempDir(), "ledger"), BadgerOptions{Small: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := OpenState(db, pool.net.Genesis)
	if err != nil {
		b.Fatal(err)
	}
	var precheck, apply time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for lo, index := 0, uint64(1); lo < b.N; lo, index = lo+decideBatch, index+1 {
		hi := min(lo+decideBatch, b.N)
		txs, ids := pool.txs[lo:hi], pool.ids[lo:hi]
		start := time.Now()
		txn := db.NewTransaction(true)
		d, err := s.decide(txn, txs, ids, append([]*validator.Cert(nil), pool.certs[lo:hi]...), s.Head().Height+1, pool.net.Now, withoutIndexes)
		txn.Discard()
		if err != nil || d.verdicts[0].Code != certchain.Accepted {
			b.Fatalf("precheck: %v %+v", err, d.verdicts[0])
		}
		mid := time.Now()
		for i := lo; i < hi; i++ {
			s.Prechecked(pool.ids[i], pool.certs[i])
		}
		a, err := s.Apply(index, &certchain.Proposal{Time: pool.net.Now.UnixNano(), Proposer: "n1", Txs: txs}, ids)
		if err != nil || a.Checked != 0 || a.Verdicts[0].Code != certchain.Accepted {
			b.Fatalf("apply: %v %+v", err, a)
		}
		precheck, apply = precheck+mid.Sub(start), apply+time.Since(mid)
	}
	b.ReportMetric(float64(precheck.Nanoseconds())/float64(b.N), "precheck-ns/cert")
	b.ReportMetric(float64(apply.Nanoseconds())/float64(b.N), "apply-ns/cert")
}

const decideBatch = 1000

// decideSet is a network with publish transactions of distinct
// self-signed certificates and their checked certificates.
type decideSet struct {
	net   *validatortest.Network
	txs   []certchain.Tx
	ids   []certchain.Hash
	certs []*validator.Cert
}

var (
	decideOnce sync.Once
	decideData *decideSet
)

// decidePool makes 20,000 certificates once per process (on all cores).
func decidePool(b *testing.B) *decideSet {
	decideOnce.Do(func() {
		net := validatortest.NewNetwork(b)
		devices := makeDevices(b, &testNet{net}, 20*decideBatch)
		opts, err := validator.NewOptions(net.Genesis, net.Now)
		if err != nil {
			b.Fatal(err)
		}
		set := &decideSet{net: net}
		for _, d := range devices {
			c, err := validator.Check(d.DER, nil, opts)
			if err != nil {
				b.Fatal(err)
			}
			set.txs = append(set.txs, publishTx(d))
			set.certs = append(set.certs, c)
		}
		set.ids = certchain.TxIDs(set.txs)
		decideData = set
	})
	if decideData == nil {
		b.Fatal("no certificates")
	}
	return decideData
}
