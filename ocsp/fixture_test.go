package ocsp

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ocsp"
)

// fixture is a Responder over an in-memory ledger, with a clock tests
// move by hand and its own metrics registry.
type fixture struct {
	tn    *validatortest.Network
	pki   *testPKI
	src   *fakeSource
	clock *fakeClock
	reg   *prometheus.Registry
	r     *Responder
	srv   *httptest.Server
}

// fakeClock is a clock that only moves when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newFixture(t testing.TB, tweak func(*Config)) *fixture {
	t.Helper()
	f := &fixture{tn: validatortest.NewNetworkAt(t, time.Now().UTC()), src: newFakeSource(),
		clock: &fakeClock{}, reg: prometheus.NewRegistry()}
	f.clock.ns.Store(f.tn.Now.UnixNano())
	f.pki = newTestPKI(t, f.tn)
	cfg := Config{Source: f.src, Responder: f.pki.responder, Now: f.clock.Now, Registerer: f.reg}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("new responder: %v", err)
	}
	f.r = r
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

// device makes a self-signed certificate with the given serial (random if
// nil) and, unless st is StatusUnknown, puts it on the ledger.
func (f *fixture) device(t testing.TB, serial *big.Int, st certchain.Status, reason certchain.Reason) subject {
	t.Helper()
	key := validatortest.NewKey(t, validatortest.KeyP256)
	if serial == nil {
		serial, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "device " + serial.Text(16)},
		NotBefore: f.tn.Now.Add(-time.Hour), NotAfter: f.tn.Now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	s := subject{name: c.Subject.CommonName, cert: c, issuer: c, signer: f.pki.responder.Cert, root: f.pki.infra.Cert}
	if st != certchain.StatusUnknown {
		f.src.put(t, c, c, "", st, reason)
	}
	return s
}

// status sends der by method and parses the answer with x/crypto for s,
// verifying it against the network CA.
func (f *fixture) status(t testing.TB, method string, s subject, der []byte) *ocsp.Response {
	t.Helper()
	got, err := ocsp.ParseResponseForCert(fetch(t, f.srv.URL, method, der), s.cert, f.pki.infra.Cert)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return got
}

// rawCertID extracts the CertID of a single-certificate request.
func rawCertID(t testing.TB, req []byte) []byte {
	t.Helper()
	var r struct {
		TBS struct{ List []struct{ ID asn1.RawValue } }
	}
	if _, err := asn1.Unmarshal(req, &r); err != nil || len(r.TBS.List) != 1 {
		t.Fatalf("request: %v", err)
	}
	return r.TBS.List[0].ID.FullBytes
}

// buildRequest encodes an OCSPRequest for CertIDs, with an RFC 8954
// nonce if nonce is set.
func buildRequest(t testing.TB, ids [][]byte, nonce []byte) []byte {
	t.Helper()
	type one struct{ ID asn1.RawValue }
	var tbs struct {
		List []one
		Exts []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	for _, id := range ids {
		tbs.List = append(tbs.List, one{asn1.RawValue{FullBytes: id}})
	}
	if nonce != nil {
		v, _ := asn1.Marshal(nonce)
		tbs.Exts = []pkix.Extension{{Id: oidNonce, Value: v}}
	}
	der, err := asn1.Marshal(struct{ TBS any }{tbs})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// decoded is a BasicOCSPResponse taken apart by encoding/asn1, for what
// x/crypto does not show (several responses, response extensions,
// Ed25519 signatures).
type decoded struct {
	Basic struct {
		TBS   asn1.RawValue
		Alg   pkix.AlgorithmIdentifier
		Sig   asn1.BitString
		Certs []asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	Data struct {
		ResponderID asn1.RawValue
		ProducedAt  time.Time `asn1:"generalized"`
		Responses   []struct {
			CertID     asn1.RawValue
			Status     asn1.RawValue
			ThisUpdate time.Time `asn1:"generalized"`
			NextUpdate time.Time `asn1:"generalized,explicit,tag:0,optional"`
		}
		Exts []pkix.Extension `asn1:"explicit,tag:1,optional"`
	}
}

func decode(t testing.TB, der []byte) *decoded {
	t.Helper()
	var outer struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type asn1.ObjectIdentifier
			Resp []byte
		} `asn1:"explicit,tag:0"`
	}
	var d decoded
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 || outer.Status != 0 {
		t.Fatalf("OCSPResponse: %v (status %d)", err, outer.Status)
	}
	if rest, err := asn1.Unmarshal(outer.Bytes.Resp, &d.Basic); err != nil || len(rest) > 0 {
		t.Fatalf("BasicOCSPResponse: %v", err)
	}
	if rest, err := asn1.Unmarshal(d.Basic.TBS.FullBytes, &d.Data); err != nil || len(rest) > 0 {
		t.Fatalf("ResponseData: %v", err)
	}
	return &d
}

// nonce returns the nonce extension's value, nil if none.
func (d *decoded) nonce() []byte {
	for _, e := range d.Data.Exts {
		if e.Id.Equal(oidNonce) {
			return e.Value
		}
	}
	return nil
}

// echoes reports whether the response answers exactly these CertIDs, in
// order.
func (d *decoded) echoes(ids [][]byte) bool {
	if len(d.Data.Responses) != len(ids) {
		return false
	}
	for i, r := range d.Data.Responses {
		if !bytes.Equal(r.CertID.FullBytes, ids[i]) {
			return false
		}
	}
	return true
}
