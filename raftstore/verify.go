package raftstore

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// verifier runs the stateless certificate checks of a batch on all cores
// before the (sequential) state decisions.
type verifier struct {
	base    *validator.Options // anchors parsed once; Now is set per block
	workers int
	// sigs are the IDs of transactions whose member signature verified
	// with this member set: the edge's precheck verifies, the apply step
	// of the same node reuses (and forgets) the result. A new member set
	// makes a new verifier, so nothing verified with an old key is reused.
	sigs     sync.Map // certchain.Hash -> struct{}
	sigCount atomic.Int64
}

// maxVerifiedSigs bounds sigs: prechecked transactions that never reach
// a block (refused as busy) would otherwise stay.
const maxVerifiedSigs = 1 << 20

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

// checkAll checks, on all cores, the certificate of every transaction
// that carries one to publish (not an ocsp-delegate's) and has no still-valid entry in out (see
// validator.Cert.ValidAt), and stores the result in out. A certificate
// that fails stays nil: Decide checks it again and words the verdict. It
// returns how many it checked.
func (v *verifier) checkAll(txs []certchain.Tx, out []*validator.Cert, opts *validator.Options) int {
	next := make(chan int, len(txs))
	for i := range txs {
		if len(txs[i].Cert) > 0 && txs[i].Type != certchain.TxOCSPDelegate && (out[i] == nil || !out[i].ValidAt(opts)) {
			next <- i
		}
	}
	close(next)
	checked := len(next)
	v.onCores(next, func(i int) { out[i], _ = validator.Check(txs[i].Cert, txs[i].Chain, opts) })
	return checked
}

// onCores calls fn for every index in next (closed) on up to v.workers
// goroutines, and returns when all are done.
func (v *verifier) onCores(next <-chan int, fn func(i int)) {
	var wg sync.WaitGroup
	for range min(v.workers, len(next)) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// signaturesAll verifies, on all cores, the member signatures of the
// transactions that carry one (those this node verified before are taken
// as verified), and returns the IDs of those that verify (nil when none
// carries a signature), for Options.SignatureVerified, and how many it
// verified itself. apply says the block is being applied: its
// transactions' entries are dropped.
func (v *verifier) signaturesAll(txs []certchain.Tx, ids []certchain.Hash, opts *validator.Options, apply bool) (map[certchain.Hash]bool, int) {
	signed := 0
	for i := range txs {
		if len(txs[i].Sig) > 0 {
			signed++
		}
	}
	if signed == 0 { // the common case on networks that do not require signatures
		return nil, 0
	}
	ok := make([]bool, len(txs))
	next := make(chan int, signed)
	for i := range txs {
		if len(txs[i].Sig) == 0 {
			continue
		}
		if _, seen := v.sigs.Load(ids[i]); seen {
			ok[i] = true
		} else {
			next <- i
		}
	}
	close(next)
	verified := len(next)
	v.onCores(next, func(i int) { ok[i] = validator.VerifyTxSignature(&txs[i], opts) })
	out := make(map[certchain.Hash]bool, signed)
	for i, good := range ok {
		switch {
		case !good:
		case apply:
			if _, had := v.sigs.LoadAndDelete(ids[i]); had {
				v.sigCount.Add(-1)
			}
			out[ids[i]] = true
		default:
			if v.sigCount.Load() >= maxVerifiedSigs {
				v.sigs.Clear()
				v.sigCount.Store(0)
			}
			if _, had := v.sigs.LoadOrStore(ids[i], struct{}{}); !had {
				v.sigCount.Add(1)
			}
			out[ids[i]] = true
		}
	}
	return out, verified
}

// checkedCerts maps transaction IDs to certificates the edge checked; see
// State.Prechecked. It holds at most what is in flight through Raft.
type checkedCerts struct {
	mu sync.Mutex
	m  map[certchain.Hash]*validator.Cert
}

func (c *checkedCerts) put(id certchain.Hash, cert *validator.Cert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[certchain.Hash]*validator.Cert)
	}
	c.m[id] = cert
}

// take removes ids and returns their certificates (nil where none).
func (c *checkedCerts) take(ids []certchain.Hash) []*validator.Cert {
	out := make([]*validator.Cert, len(ids))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return out
	}
	for i, id := range ids {
		if cert, ok := c.m[id]; ok {
			out[i] = cert
			delete(c.m, id)
		}
	}
	return out
}
