package raftstore

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// TestStateOCSPDelegates: an accepted ocsp-delegate is stored under its
// key and issuer, reported in Applied, and found by the key's holder; a
// refused one (not issued by the member's CA) stores nothing.
func TestStateOCSPDelegates(t *testing.T) {
	f := newStateFixture(t)
	n := f.net
	key := vt.NewKey(t, vt.KeyP256)
	mk := func(iss *vt.Issuer) []byte {
		return n.Leaf(t, iss, vt.WithoutNetworkID(), vt.WithPublicKey(key.Public()), vt.WithExtKeyUsage(x509.ExtKeyUsageOCSPSigning),
			vt.WithExtension(pkix.Extension{Id: validator.OIDOCSPNoCheck, Value: []byte{5, 0}}),
			vt.WithValidity(n.Now.Add(-time.Hour), n.Now.Add(48*time.Hour))).DER
	}
	good, foreign := mk(n.CA), mk(n.CA2)
	codes := f.apply(certchain.Tx{Type: certchain.TxOCSPDelegate, Submitter: vt.CA, Cert: foreign},
		certchain.Tx{Type: certchain.TxOCSPDelegate, Submitter: vt.CA, Cert: good})
	if want := []certchain.VerdictCode{certchain.Rejected, certchain.Accepted}; !slices.Equal(codes, want) {
		t.Fatalf("verdicts %v, want %v", codes, want)
	}
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	got, err := f.state.OCSPDelegates(sha256.Sum256(spki))
	if err != nil || len(got) != 1 {
		t.Fatalf("delegates %v %v", got, err)
	}
	if string(got[0].Cert) != string(good) || got[0].Member != vt.CA || got[0].Height != f.state.Head().Height ||
		string(got[0].Issuer) != string(n.CA.Cert.Raw) {
		t.Fatalf("stored %+v", got[0])
	}
	if other, err := f.state.OCSPDelegates(certchain.Sum([]byte("another key"))); err != nil || len(other) != 0 {
		t.Fatalf("another key's delegates: %v %v", other, err)
	}
}
