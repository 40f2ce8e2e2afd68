package ocsp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"golang.org/x/crypto/ocsp"
)

// TestSetResponderRotates: after SetResponder, the very request that was
// a cache hit is answered by the new responder (named by key hash, its
// certificate in the response, verifying through the network CA as
// before) and ResponderPEM serves it; refused replacements change nothing.
func TestSetResponderRotates(t *testing.T) {
	f := newFixture(t, nil)
	d := f.device(t, nil, certchain.StatusGood, 0)
	req, err := ocsp.CreateRequest(d.cert, d.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	answeredBy(t, f, d, req, f.pki.responder.Cert)
	answeredBy(t, f, d, req, f.pki.responder.Cert) // cached now
	next := ocspSigner(t, f.tn, f.pki.infra, "ledger OCSP responder 2", validatortest.KeyP384)
	if err := f.r.SetResponder(next); err != nil {
		t.Fatalf("SetResponder: %v", err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		got := answeredBy(t, f, d, req, next.Cert)
		if got.Status != ocsp.Good {
			t.Fatalf("%s: status %d", method, got.Status)
		}
	}
	if !bytes.Contains(f.r.ResponderPEM(), []byte(base64.StdEncoding.EncodeToString(next.Cert.Raw[:48]))) {
		t.Fatal("ResponderPEM still serves the old responder")
	}
	if err := f.r.SetResponder(next); err != nil {
		t.Fatalf("the same responder again: %v", err)
	}

	other := validatortest.NewKey(t, validatortest.KeyP256)
	cases := []struct {
		name string
		s    Signer
	}{
		{"fail/key-of-another-certificate", Signer{Cert: next.Cert, Key: other}},
		{"fail/issued-by-another-ca", ocspSigner(t, f.tn, f.tn.Root(t, "elsewhere", validatortest.KeyP256), "rogue", validatortest.KeyP256)},
		{"fail/no-ocsp-signing-eku", noEKU(t, f)},
		{"fail/no-key", Signer{Cert: next.Cert}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.r.SetResponder(tc.s)
			if !errors.Is(err, certchain.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			answeredBy(t, f, d, req, next.Cert)
		})
	}
}

// answeredBy asks about d and checks that want signed the answer, names
// itself by key hash, and verifies through the network CA.
func answeredBy(t *testing.T, f *fixture, d subject, req []byte, want *x509.Certificate) *ocsp.Response {
	t.Helper()
	got := f.status(t, http.MethodGet, d, req)
	if got.Certificate == nil {
		t.Fatal("the response carries no certificate")
	}
	if !got.Certificate.Equal(want) {
		t.Fatalf("answered by %q (serial %x), want %q (serial %x)", got.Certificate.Subject, got.Certificate.SerialNumber, want.Subject, want.SerialNumber)
	}
	bits, _ := subjectKeyBits(want.RawSubjectPublicKeyInfo)
	if kh := sha1.Sum(bits); !bytes.Equal(got.ResponderKeyHash, kh[:]) {
		t.Fatalf("responderID names key %x, want %x", got.ResponderKeyHash, kh)
	}
	return got
}

func noEKU(t *testing.T, f *fixture) Signer {
	t.Helper()
	k := validatortest.NewKey(t, validatortest.KeyP256)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "no eku"},
		NotBefore: f.tn.Now.Add(-time.Hour), NotAfter: f.tn.Now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.pki.infra.Cert, k.Public(), f.pki.infra.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return Signer{Cert: c, Key: k}
}

// TestSetResponderUnderLoad swaps the responder while clients ask: every
// answer is signed by the key of the certificate it carries and names that
// key, and once the last swap returned every answer is the last
// responder's.
func TestSetResponderUnderLoad(t *testing.T) {
	f := newFixture(t, nil)
	var reqs [][]byte
	for range 8 {
		d := f.device(t, nil, certchain.StatusGood, 0)
		req, err := ocsp.CreateRequest(d.cert, d.issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := askConsistent(f.srv.URL, reqs[i%len(reqs)]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var last Signer
	for i := range 5 {
		last = ocspSigner(t, f.tn, f.pki.infra, fmt.Sprintf("responder %d", i), validatortest.KeyP256)
		if err := f.r.SetResponder(last); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, req := range reqs {
		got, err := askConsistent(f.srv.URL, req)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Certificate.Equal(last.Cert) {
			t.Fatalf("after the last swap answered by %q, want %q", got.Certificate.Subject, last.Cert.Subject)
		}
	}
}

// askConsistent GETs req and checks that the response verifies with the
// certificate it carries and that its responderID names that key.
func askConsistent(base string, req []byte) (*ocsp.Response, error) {
	resp, err := http.Get(base + "/ocsp/" + base64.StdEncoding.EncodeToString(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	got, err := ocsp.ParseResponse(body, nil) // checks the signature with the certificate in the response
	if err != nil {
		return nil, err
	}
	bits, err := subjectKeyBits(got.Certificate.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	if kh := sha1.Sum(bits); !bytes.Equal(got.ResponderKeyHash, kh[:]) {
		return nil, fmt.Errorf("response names key %x but carries %q", got.ResponderKeyHash, got.Certificate.Subject)
	}
	return got, nil
}
