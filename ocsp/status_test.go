package ocsp

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ocsp"
)

// TestStatuses maps every ledger status to its OCSP answer, for both
// CertID hashes.
func TestStatuses(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name   string
		status certchain.Status
		reason certchain.Reason
		expire bool
		want   int
		wantR  int
	}{
		{"ok/good", certchain.StatusGood, 0, false, ocsp.Good, 0},
		{"ok/expired-reports-ledger-status", certchain.StatusGood, 0, true, ocsp.Good, 0},
		{"revoked/key-compromise", certchain.StatusRevoked, certchain.ReasonKeyCompromise, false, ocsp.Revoked, ocsp.KeyCompromise},
		{"revoked/unspecified", certchain.StatusRevoked, certchain.ReasonUnspecified, false, ocsp.Revoked, ocsp.Unspecified},
		{"revoked/expired", certchain.StatusRevoked, certchain.ReasonCessationOfOperation, true, ocsp.Revoked, ocsp.CessationOfOperation},
		{"revoked/suspended-is-certificate-hold", certchain.StatusSuspended, certchain.ReasonCertificateHold, false, ocsp.Revoked, ocsp.CertificateHold},
		{"revoked/superseded", certchain.StatusSuperseded, certchain.ReasonSuperseded, false, ocsp.Revoked, ocsp.Superseded},
		{"unknown/not-on-ledger", certchain.StatusUnknown, 0, false, ocsp.Unknown, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := f.device(t, nil, c.status, c.reason)
			if c.expire {
				f.src.recs[certKeyOf(t, s)].NotAfter = f.tn.Now.Add(-24 * time.Hour)
			}
			for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
				got := f.status(t, http.MethodPost, s, newRequest(t, s, h))
				if got.Status != c.want || (c.want == ocsp.Revoked && got.RevocationReason != c.wantR) || got.IssuerHash != h {
					t.Fatalf("%v: status %d reason %d hash %v", h, got.Status, got.RevocationReason, got.IssuerHash)
				}
				if !got.NextUpdate.Equal(got.ThisUpdate.Add(DefaultValidity)) || !got.ProducedAt.Equal(got.ThisUpdate) {
					t.Fatalf("times: produced %v this %v next %v", got.ProducedAt, got.ThisUpdate, got.NextUpdate)
				}
			}
		})
	}
}

func certKeyOf(t testing.TB, s subject) string {
	t.Helper()
	bits, err := subjectKeyBits(s.issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(bits)
	return certKey(h[:], s.cert.SerialNumber.Bytes())
}

// TestCertIDMismatch: a CertID that names the right issuer key and serial
// but another issuer name, or a negative serial, is unknown.
func TestCertIDMismatch(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, nil, certchain.StatusRevoked, certchain.ReasonKeyCompromise)
	cases := map[string]func(*certIDFields){
		"unknown/issuer-name-hash": func(id *certIDFields) { id.NameHash[0] ^= 1 },
		"unknown/negative-serial":  func(id *certIDFields) { id.Serial = new(big.Int).Neg(id.Serial) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			id := decodeCertID(t, rawCertID(t, newRequest(t, s, crypto.SHA256)))
			mutate(id)
			got, err := ocsp.ParseResponse(fetch(t, f.srv.URL, http.MethodPost, buildRequest(t, [][]byte{id.encode(t)}, nil)), f.pki.infra.Cert)
			if err != nil || got.Status != ocsp.Unknown {
				t.Fatalf("%v %+v", err, got)
			}
		})
	}
}

// TestMultiCertRequest: several CertIDs (mixed hashes) get one response
// answering each, in order, with the CertIDs as sent.
func TestMultiCertRequest(t *testing.T) {
	f := newFixture(t, nil)
	subjects := []subject{
		f.device(t, nil, certchain.StatusGood, 0),
		f.device(t, nil, certchain.StatusRevoked, certchain.ReasonKeyCompromise),
		f.device(t, nil, certchain.StatusUnknown, 0),
		f.device(t, nil, certchain.StatusSuspended, certchain.ReasonCertificateHold),
	}
	want := []int{ocsp.Good, ocsp.Revoked, ocsp.Unknown, ocsp.Revoked}
	var ids [][]byte
	for i, s := range subjects {
		ids = append(ids, rawCertID(t, newRequest(t, s, []crypto.Hash{crypto.SHA1, crypto.SHA256}[i%2])))
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		body := fetch(t, f.srv.URL, m, buildRequest(t, ids, nil))
		if d := decode(t, body); !d.echoes(ids) {
			t.Fatalf("%s: response does not answer the CertIDs in order", m)
		}
		for i, s := range subjects {
			got, err := ocsp.ParseResponseForCert(body, s.cert, f.pki.infra.Cert)
			if err != nil || got.Status != want[i] {
				t.Fatalf("%s: certificate %d: %v %+v", m, i, err, got)
			}
		}
	}
}

// TestSignerChoice: a delegate signs when every CertID of the request
// names its issuer's key (whether or not the ledger knows the
// certificate); any other mix is signed by the ledger responder.
func TestSignerChoice(t *testing.T) {
	f := newFixture(t, nil)
	delegate := ocspSigner(t, f.tn, f.tn.CA, "ca delegate", validatortest.KeyP256)
	r, err := New(Config{Source: f.src, Responder: f.pki.responder, Delegates: []Delegate{{Cert: delegate.Cert, Key: delegate.Key, Issuer: f.tn.CA.Cert}}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(st certchain.Status, iss *validatortest.Issuer, member string) []byte {
		d := f.tn.Leaf(t, iss)
		if st != certchain.StatusUnknown {
			f.src.put(t, d.Cert, iss.Cert, member, st, 0)
		}
		return rawCertID(t, newRequest(t, subject{cert: d.Cert, issuer: iss.Cert}, crypto.SHA1))
	}
	self := func() []byte {
		s := f.device(t, nil, certchain.StatusGood, 0)
		return rawCertID(t, newRequest(t, s, crypto.SHA1))
	}
	ca := func() []byte { return leaf(certchain.StatusGood, f.tn.CA, validatortest.CA) }
	cases := []struct {
		name string
		ids  [][]byte
		want *x509.Certificate
	}{
		{"delegate/one", [][]byte{ca()}, delegate.Cert},
		{"delegate/two-of-the-same-ca", [][]byte{ca(), ca()}, delegate.Cert},
		{"ledger/self-signed", [][]byte{self()}, f.pki.responder.Cert},
		{"ledger/ca-without-delegate", [][]byte{leaf(certchain.StatusGood, f.tn.CA2, validatortest.CA2)}, f.pki.responder.Cert},
		{"delegate/unknown-of-that-ca", [][]byte{leaf(certchain.StatusUnknown, f.tn.CA, validatortest.CA)}, delegate.Cert},
		{"ledger/unknown-of-another-ca", [][]byte{leaf(certchain.StatusUnknown, f.tn.CA2, validatortest.CA2)}, f.pki.responder.Cert},
		{"ledger/mixed", [][]byte{ca(), self()}, f.pki.responder.Cert},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httpRecorder(r, buildRequest(t, c.ids, nil))
			d := decode(t, rec)
			if len(d.Basic.Certs) != 1 || !bytes.Equal(d.Basic.Certs[0].FullBytes, c.want.Raw) {
				t.Fatalf("signed by the wrong certificate")
			}
			if err := c.want.CheckSignature(x509.ECDSAWithSHA256, d.Basic.TBS.FullBytes, d.Basic.Sig.Bytes); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSignerKeys: responders with every supported key type produce
// responses that verify, with responderID byKey.
func TestSignerKeys(t *testing.T) {
	cases := []struct {
		key validatortest.KeyType
		alg x509.SignatureAlgorithm
	}{
		{validatortest.KeyP256, x509.ECDSAWithSHA256},
		{validatortest.KeyP384, x509.ECDSAWithSHA384},
		{validatortest.KeyP521, x509.ECDSAWithSHA512},
		{validatortest.KeyRSA2048, x509.SHA256WithRSA},
		{validatortest.KeyEd25519, x509.PureEd25519},
	}
	for _, c := range cases {
		t.Run("ok/"+string(c.key), func(t *testing.T) {
			f := newFixture(t, nil)
			signer := ocspSigner(t, f.tn, f.pki.infra, "responder", c.key)
			r, err := New(Config{Source: f.src, Responder: signer})
			if err != nil {
				t.Fatal(err)
			}
			s := f.device(t, nil, certchain.StatusGood, 0)
			d := decode(t, httpRecorder(r, newRequest(t, s, crypto.SHA1)))
			if err := signer.Cert.CheckSignature(c.alg, d.Basic.TBS.FullBytes, d.Basic.Sig.Bytes); err != nil {
				t.Fatal(err)
			}
			bits, _ := subjectKeyBits(signer.Cert.RawSubjectPublicKeyInfo)
			kh := sha1.Sum(bits)
			byKey, _ := asn1.Marshal(kh[:])
			if !bytes.Equal(d.Data.ResponderID.Bytes, byKey) || d.Data.ResponderID.Tag != 2 {
				t.Fatalf("responderID %x, want byKey %x", d.Data.ResponderID.FullBytes, byKey)
			}
		})
	}
}

// TestNewRefuses: configurations New must refuse.
func TestNewRefuses(t *testing.T) {
	f := newFixture(t, nil)
	other := ocspSigner(t, f.tn, f.pki.infra, "other", validatortest.KeyP256)
	noEKU := Signer{Cert: f.tn.CA.Cert, Key: f.tn.CA.Key}
	caDelegate := ocspSigner(t, f.tn, f.tn.CA, "ca delegate", validatortest.KeyP256)
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Source: f.src, Responder: f.pki.responder, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]Config{
		"fail/no-source":               {Responder: f.pki.responder},
		"fail/no-responder":            {Source: f.src},
		"fail/key-mismatch":            {Source: f.src, Responder: Signer{Cert: f.pki.responder.Cert, Key: other.Key}},
		"fail/delegate-no-eku":         {Source: f.src, Responder: f.pki.responder, Delegates: []Delegate{{Cert: noEKU.Cert, Key: noEKU.Key, Issuer: f.tn.CA.Cert}}},
		"fail/delegate-no-issuer":      {Source: f.src, Responder: f.pki.responder, Delegates: []Delegate{{Cert: caDelegate.Cert, Key: caDelegate.Key}}},
		"fail/delegate-other-issuer":   {Source: f.src, Responder: f.pki.responder, Delegates: []Delegate{{Cert: caDelegate.Cert, Key: caDelegate.Key, Issuer: f.tn.CA2.Cert}}},
		"fail/issuing-ca-not-a-ca":     {Source: f.src, Responder: f.pki.responder, IssuingCAs: []CA{{Cert: other.Cert, Key: other.Key}}},
		"fail/issuing-ca-key-mismatch": {Source: f.src, Responder: f.pki.responder, IssuingCAs: []CA{{Cert: f.tn.CA.Cert, Key: f.tn.CA2.Key}}},
		"fail/delegate-validity-short": {Source: f.src, Responder: f.pki.responder, Validity: time.Hour, DelegateValidity: 90 * time.Minute},
		"fail/negative-validity":       {Source: f.src, Responder: f.pki.responder, Validity: -time.Hour},
		"fail/validity-under-a-minute": {Source: f.src, Responder: f.pki.responder, Validity: 59 * time.Second},
		"fail/metrics-twice":           {Source: f.src, Responder: f.pki.responder, Registerer: reg},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// httpRecorder POSTs der to h in process and returns the body of a 200.
func httpRecorder(h http.Handler, der []byte) []byte {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(der)))
	if rec.Code != http.StatusOK {
		return nil
	}
	return rec.Body.Bytes()
}
