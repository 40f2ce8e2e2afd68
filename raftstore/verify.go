package raftstore

import (
	"runtime"
	"sync"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// verifier runs the stateless certificate checks of a batch on all cores
// before the (sequential) state decisions.
type verifier struct {
	base    validator.Options // Now is set per block
	initErr error
	workers int
}

// checked is the result of validator.Check for one transaction (both nil
// when the transaction carries no certificate).
type checked struct {
	cert *validator.Cert
	err  error
}

func newVerifier(g *certchain.Genesis) *verifier {
	v := &verifier{workers: runtime.GOMAXPROCS(0)}
	opts, err := validator.NewOptions(g, g.Time)
	if err != nil {
		v.initErr = err
		return v
	}
	v.base = *opts
	return v
}

func (v *verifier) options(at time.Time) *validator.Options {
	o := v.base
	o.Now = at
	return &o
}

// checkAll checks the certificate of every publish and renew in txs.
func (v *verifier) checkAll(txs []certchain.Tx, opts *validator.Options) []checked {
	out := make([]checked, len(txs))
	if v.initErr != nil {
		for i := range out {
			out[i].err = v.initErr
		}
		return out
	}
	next := make(chan int, len(txs))
	for i := range txs {
		if len(txs[i].Cert) > 0 {
			next <- i
		}
	}
	close(next)
	var wg sync.WaitGroup
	for range min(v.workers, len(next)) {
		wg.Go(func() {
			for i := range next {
				out[i].cert, out[i].err = validator.Check(txs[i].Cert, txs[i].Chain, opts)
			}
		})
	}
	wg.Wait()
	return out
}
