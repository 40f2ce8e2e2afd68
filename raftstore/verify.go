package raftstore

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// verifier runs the stateless certificate checks of a batch on all cores
// before the (sequential) state decisions.
type verifier struct {
	base    *validator.Options // anchors parsed once; Now is set per block
	workers int
}

// newVerifier fails when the genesis' members or CA certificates do not
// parse: such a node must not start.
func newVerifier(g *certchain.Genesis) (*verifier, error) {
	opts, err := validator.NewOptions(g, g.Time)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return &verifier{base: opts, workers: runtime.GOMAXPROCS(0)}, nil
}

func (v *verifier) options(at time.Time) *validator.Options { return v.base.At(at) }

// checkAll checks the certificate of every transaction that carries one,
// on all cores. A certificate that fails stays nil: Decide checks it again
// and words the verdict.
func (v *verifier) checkAll(txs []certchain.Tx, opts *validator.Options) []*validator.Cert {
	out := make([]*validator.Cert, len(txs))
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
				out[i], _ = validator.Check(txs[i].Cert, txs[i].Chain, opts)
			}
		})
	}
	wg.Wait()
	return out
}
