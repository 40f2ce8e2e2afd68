package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// BenchmarkCheck is the bulk-publish hot path: a P-256 self-signed device
// certificate (target: 12,000/s on 2 cores, i.e. about 165µs per core).
func BenchmarkCheck(b *testing.B) {
	n, opts := newNet(b)
	der := n.SelfSigned(b).DER
	b.ReportAllocs()
	for b.Loop() {
		if _, err := validator.Check(der, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckParallel runs Check on every core, as a node does.
func BenchmarkCheckParallel(b *testing.B) {
	n, opts := newNet(b)
	der := n.SelfSigned(b).DER
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := validator.Check(der, nil, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCheckCASigned is a P-256 leaf of a member CA (chain building).
func BenchmarkCheckCASigned(b *testing.B) {
	n, opts := newNet(b)
	der := n.Leaf(b, n.CA).DER
	b.ReportAllocs()
	for b.Loop() {
		if _, err := validator.Check(der, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecidePublish is the apply step of one publish with pre-checked
// certificate (the signature was verified in parallel beforehand).
func BenchmarkDecidePublish(b *testing.B) {
	n, opts := newNet(b)
	der := n.SelfSigned(b).DER
	pre, err := validator.Check(der, nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	tx := &certchain.Tx{Type: certchain.TxPublish, Submitter: vt.Vendor, Cert: der}
	id, view := tx.ID(), newFakeView()
	b.ReportAllocs()
	for b.Loop() {
		if _, v := validator.Decide(tx, id, pre, opts, n.Genesis, view, 2); v.Code != certchain.Accepted {
			b.Fatal(v)
		}
	}
}
