package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator/validatortest"
	"golang.org/x/crypto/ocsp"
)

// ledger is an in-process validator node with a Responder over its state,
// served over loopback HTTP, refreshed from the node's OnApply hook.
type ledger struct {
	tn    *validatortest.Network
	pki   *testPKI
	node  *raftstore.Node
	src   *countingSource
	r     *Responder
	srv   *httptest.Server
	ca    Signer // the "ca" member's delegated OCSP signer
	apply atomic.Pointer[Responder]
}

// countingSource counts the ledger reads of a Source.
type countingSource struct {
	Source
	calls atomic.Int64
}

func (c *countingSource) LookupOCSP(keyHash []byte, serial *big.Int) (*certchain.Record, error) {
	c.calls.Add(1)
	return c.Source.LookupOCSP(keyHash, serial)
}

func newLedger(t *testing.T, tweak func(*Config)) *ledger {
	t.Helper()
	l := &ledger{tn: validatortest.NewNetworkAt(t, time.Now().UTC())}
	l.pki = newTestPKI(t, l.tn)
	l.ca = ocspSigner(t, l.tn, l.tn.CA, "ca member delegated OCSP signer", validatortest.KeyP256)
	l.node = openNode(t, l.tn.Genesis, func(a *raftstore.Applied) {
		if r := l.apply.Load(); r != nil {
			r.Refresh(a.Records)
		}
	})
	l.src = &countingSource{Source: l.node.State()}
	cfg := Config{Source: l.src, Responder: l.pki.responder, Delegates: []Delegate{{Cert: l.ca.Cert, Key: l.ca.Key, Issuer: l.tn.CA.Cert}}}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("new responder: %v", err)
	}
	l.r = r
	l.apply.Store(r)
	l.srv = httptest.NewServer(r)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); l.srv.Close() })
	return l
}

func openNode(t *testing.T, g *certchain.Genesis, onApply func(*raftstore.Applied)) *raftstore.Node {
	t.Helper()
	n, err := raftstore.Open(raftstore.Config{ID: "n1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", Genesis: g,
		Bootstrap: true, SmallMemory: true, OnApply: onApply,
		Timeouts: raftstore.RaftTimeouts{Heartbeat: 100 * time.Millisecond, Election: 100 * time.Millisecond, LeaderLease: 100 * time.Millisecond}})
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	waitFor(t, "leadership", n.IsLeader)
	return n
}

// submit submits one transaction and requires it accepted.
func (l *ledger) submit(t *testing.T, tx certchain.Tx) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := l.node.Submit(ctx, []certchain.Tx{tx})
	if err != nil || res[0].Err != nil || res[0].Verdict.Code != certchain.Accepted {
		t.Fatalf("%s: %v %+v", tx.Type, err, res)
	}
}

// subject is a certificate with its issuer (itself when self-signed), the
// member that publishes it and the signer expected on its responses.
type subject struct {
	name      string
	cert      *x509.Certificate
	issuer    *x509.Certificate
	submitter string
	signer    *x509.Certificate
	root      *x509.Certificate // what a relying party trusts to verify
}

func (l *ledger) selfSigned(t *testing.T, cn string) subject {
	d := l.tn.SelfSigned(t, validatortest.WithCN(cn))
	return subject{name: "self-signed", cert: d.Cert, issuer: d.Cert, submitter: validatortest.Vendor,
		signer: l.pki.responder.Cert, root: l.pki.infra.Cert}
}

func (l *ledger) caSigned(t *testing.T) subject {
	d := l.tn.Leaf(t, l.tn.CA)
	return subject{name: "ca-signed", cert: d.Cert, issuer: l.tn.CA.Cert, submitter: validatortest.CA,
		signer: l.ca.Cert, root: l.tn.CA.Cert}
}

func (s subject) id() certchain.Hash { return certchain.Sum(s.cert.Raw) }

func (l *ledger) publish(t *testing.T, s subject) {
	l.submit(t, certchain.Tx{Type: certchain.TxPublish, Submitter: s.submitter, Cert: s.cert.Raw})
}

// newRequest makes a DER OCSP request for s with x/crypto (no nonce).
func newRequest(t testing.TB, s subject, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(s.cert, s.issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// fetch sends der by GET (raw base64 in the path) or POST and returns the
// response body, checking the HTTP basics every answer must have.
func fetch(t testing.TB, base, method string, der []byte) []byte {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(base + "/ocsp/" + base64.StdEncoding.EncodeToString(der))
	} else {
		resp, err = http.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
	}
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" ||
		resp.ContentLength != int64(len(body)) {
		t.Fatalf("%s: HTTP %d, type %q, length %d for %d bytes", method, resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.ContentLength, len(body))
	}
	return body
}

// expect is what a relying party should learn about a certificate.
type expect struct {
	s      subject
	status int // ocsp.Good, ocsp.Revoked, ocsp.Unknown
	reason int
}

// signedBy returns the certificate expected to sign e's response and the
// one a relying party trusts to verify it: the CA's delegate answers for
// the CA's certificates whether the ledger knows them or not.
func (l *ledger) signedBy(e expect) (signer, root *x509.Certificate) {
	return e.s.signer, e.s.root
}

// check asks about e.s with both hashes and both methods through x/crypto
// and verifies each answer against what a relying party trusts.
func (l *ledger) check(t *testing.T, e expect) {
	t.Helper()
	signer, root := l.signedBy(e)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			body := fetch(t, l.srv.URL, m, newRequest(t, e.s, h))
			got, err := ocsp.ParseResponseForCert(body, e.s.cert, root)
			if err != nil {
				t.Fatalf("%s %v %s: %v", e.s.name, h, m, err)
			}
			if got.Status != e.status || got.IssuerHash != h || !got.Certificate.Equal(signer) {
				t.Fatalf("%s %v %s: status %d hash %v signer %q, want %d %v %q", e.s.name, h, m,
					got.Status, got.IssuerHash, got.Certificate.Subject, e.status, h, signer.Subject)
			}
			l.checkRevoked(t, e, got)
		}
	}
}

// checkRevoked checks reason and time of a revoked answer against the
// ledger record.
func (l *ledger) checkRevoked(t *testing.T, e expect, got *ocsp.Response) {
	t.Helper()
	if e.status != ocsp.Revoked {
		return
	}
	rec, err := l.node.State().Record(e.s.id())
	if err != nil {
		t.Fatal(err)
	}
	if got.RevocationReason != e.reason || !got.RevokedAt.Equal(rec.StatusTime.Truncate(time.Second)) {
		t.Fatalf("%s: revoked %v reason %d, want %v reason %d", e.s.name, got.RevokedAt, got.RevocationReason,
			rec.StatusTime.Truncate(time.Second), e.reason)
	}
}
