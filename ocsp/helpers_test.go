package ocsp

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
)

// testPKI is the infrastructure of a test network: the network CA that
// signs the ledger's responder certificate, as devnet makes it.
type testPKI struct {
	infra     *validatortest.Issuer
	responder Signer
}

func newTestPKI(t testing.TB, tn *validatortest.Network) *testPKI {
	t.Helper()
	infra := tn.Root(t, "network", validatortest.KeyP256)
	return &testPKI{infra: infra, responder: ocspSigner(t, tn, infra, "ledger OCSP responder", validatortest.KeyP256)}
}

// ocspSigner issues an OCSP signing certificate (id-kp-OCSPSigning,
// ocsp-nocheck) from iss.
func ocspSigner(t testing.TB, tn *validatortest.Network, iss *validatortest.Issuer, cn string, k validatortest.KeyType) Signer {
	t.Helper()
	key := validatortest.NewKey(t, k)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: tn.Now.Add(-time.Hour), NotAfter: tn.Now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.Cert, key.Public(), iss.Key)
	if err != nil {
		t.Fatalf("responder certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Cert: c, Key: key}
}

// fakeSource is an in-memory ledger for unit tests and benchmarks.
type fakeSource struct {
	mu    sync.Mutex
	recs  map[string]*certchain.Record
	calls atomic.Int64
	err   error
}

func newFakeSource() *fakeSource { return &fakeSource{recs: make(map[string]*certchain.Record)} }

func (f *fakeSource) LookupOCSP(keyHash []byte, serial *big.Int) (*certchain.Record, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if r, ok := f.recs[certKey(keyHash, serial.Bytes())]; ok {
		c := *r
		return &c, nil
	}
	return nil, certchain.ErrNotFound
}

// put stores a record for cert issued by issuer (CA member ca, "" for
// self-signed) and returns it.
func (f *fakeSource) put(t testing.TB, cert, issuer *x509.Certificate, ca string, st certchain.Status, reason certchain.Reason) *certchain.Record {
	t.Helper()
	bits, err := subjectKeyBits(issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		t.Fatal(err)
	}
	rec := &certchain.Record{ID: certchain.Sum(cert.Raw), DER: cert.Raw, Serial: cert.SerialNumber.Text(16),
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, SelfSigned: ca == "", CA: ca, IssuerKey: bits,
		Status: st, Reason: reason, StatusTime: time.Now().UTC()}
	h1, h256 := sha1.Sum(bits), sha256.Sum256(bits)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs[certKey(h1[:], cert.SerialNumber.Bytes())] = rec
	f.recs[certKey(h256[:], cert.SerialNumber.Bytes())] = rec
	return rec
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

var errLedgerDown = errors.New("ledger closed")

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
