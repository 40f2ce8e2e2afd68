package ocsp

import (
	"crypto"
	"net/http"
	"testing"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/ocsp"
)

// lifecycle is the sequence of ledger changes every test client checks:
// each step submits a transaction (or nothing) and states what relying
// parties must see afterwards.
type lifecycleStep struct {
	name string
	tx   func(old, next subject) *certchain.Tx
	want func(old, next subject) []expect
}

var lifecycle = []lifecycleStep{
	{"unknown/before-publish", nil, func(old, next subject) []expect {
		return []expect{{old, ocsp.Unknown, 0}, {next, ocsp.Unknown, 0}}
	}},
	{"ok/publish", func(old, _ subject) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxPublish, Submitter: old.submitter, Cert: old.cert.Raw}
	}, func(old, _ subject) []expect { return []expect{{old, ocsp.Good, 0}} }},
	{"revoked/suspend-is-certificate-hold", func(old, _ subject) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxSuspend, Submitter: old.submitter, Target: old.id()}
	}, func(old, _ subject) []expect { return []expect{{old, ocsp.Revoked, ocsp.CertificateHold}} }},
	{"ok/resume", func(old, _ subject) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxResume, Submitter: old.submitter, Target: old.id()}
	}, func(old, _ subject) []expect { return []expect{{old, ocsp.Good, 0}} }},
	{"revoked/renew-supersedes", func(old, next subject) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxRenew, Submitter: old.submitter, Target: old.id(), Cert: next.cert.Raw}
	}, func(old, next subject) []expect {
		return []expect{{old, ocsp.Revoked, ocsp.Superseded}, {next, ocsp.Good, 0}}
	}},
	{"revoked/key-compromise", func(_, next subject) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxRevoke, Submitter: next.submitter, Target: next.id(), Reason: certchain.ReasonKeyCompromise}
	}, func(old, next subject) []expect {
		return []expect{{old, ocsp.Revoked, ocsp.Superseded}, {next, ocsp.Revoked, ocsp.KeyCompromise}}
	}},
}

// TestLifecycleXCrypto follows a self-signed and a CA-signed certificate
// through publish, suspend, resume, renew and revoke, asking with
// golang.org/x/crypto/ocsp (SHA-1 and SHA-256 CertIDs, GET and POST) after
// each step. Responses cached before a step must not survive it.
func TestLifecycleXCrypto(t *testing.T) {
	l := newLedger(t, nil)
	pairs := map[string][2]subject{
		"self-signed": {l.selfSigned(t, "dev-1"), l.selfSigned(t, "dev-1")},
		"ca-signed":   {l.caSigned(t), l.caSigned(t)},
	}
	for name, p := range pairs {
		t.Run(name, func(t *testing.T) {
			for _, step := range lifecycle {
				if step.tx != nil {
					l.submit(t, *step.tx(p[0], p[1]))
				}
				for _, e := range step.want(p[0], p[1]) {
					l.check(t, e)
				}
			}
		})
	}
}

// TestLedgerHitReadsNothing: against a real node, repeated questions are
// answered without reading Badger; a status change is re-signed in the
// background by Run, after which the new answer is a hit again.
func TestLedgerHitReadsNothing(t *testing.T) {
	l := newLedger(t, nil)
	s := l.selfSigned(t, "dev-hits")
	l.publish(t, s)
	der := newRequest(t, s, crypto.SHA256)
	fetch(t, l.srv.URL, http.MethodGet, der)
	reads := l.src.calls.Load()
	for range 5 {
		fetch(t, l.srv.URL, http.MethodGet, der)
		fetch(t, l.srv.URL, http.MethodPost, der)
	}
	if n := l.src.calls.Load() - reads; n != 0 {
		t.Fatalf("%d ledger reads for cached answers", n)
	}
	l.submit(t, certchain.Tx{Type: certchain.TxRevoke, Submitter: s.submitter, Target: s.id(), Reason: certchain.ReasonKeyCompromise})
	waitFor(t, "background re-signing", func() bool { return l.src.calls.Load() > reads && cachedCount(l.r) == 1 })
	reads = l.src.calls.Load()
	got, err := ocsp.ParseResponseForCert(fetch(t, l.srv.URL, http.MethodGet, der), s.cert, s.root)
	if err != nil || got.Status != ocsp.Revoked || l.src.calls.Load() != reads {
		t.Fatalf("after revoke: %v %+v, %d reads", err, got, l.src.calls.Load()-reads)
	}
}
