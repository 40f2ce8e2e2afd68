package validator_test

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

var noCheck = pkix.Extension{Id: validator.OIDOCSPNoCheck, Value: []byte{0x05, 0x00}}

// delegate makes a delegated OCSP signer certificate issued by iss, valid
// for a day around the network's clock unless opts say otherwise.
func delegate(t *testing.T, n *vt.Network, iss *vt.Issuer, opts ...vt.Option) *vt.Device {
	base := []vt.Option{vt.WithCN("certchain OCSP node-1"), vt.WithoutNetworkID(), vt.WithKeyUsage(x509.KeyUsageDigitalSignature),
		vt.WithExtKeyUsage(x509.ExtKeyUsageOCSPSigning), vt.WithExtension(noCheck),
		vt.WithValidity(n.Now.Add(-time.Hour), n.Now.Add(24*time.Hour))}
	return n.Leaf(t, iss, append(base, opts...)...)
}

func delegateTx(submitter string, der []byte) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxOCSPDelegate, Submitter: submitter, Cert: der}
}

func TestOCSPDelegate(t *testing.T) {
	n, opts := newNet(t)
	stranger := n.Root(t, "nobody", vt.KeyP256)
	inter := n.Intermediate(t, n.CA)
	good := delegate(t, n, n.CA)
	for _, tc := range []struct {
		name string
		tx   *certchain.Tx
		rule string
	}{
		{"ok/ca-registers-its-delegate", delegateTx(vt.CA, good.DER), ""},
		{"fail/other-ca-registers-it", delegateTx(vt.CA2, good.DER), validator.RuleOCSPDelegate},
		{"fail/vendor", delegateTx(vt.Vendor, good.DER), validator.RuleRole},
		{"fail/admin", delegateTx(vt.Admin, good.DER), validator.RuleRole},
		{"fail/not-member", delegateTx("stranger", good.DER), validator.RuleNotMember},
		{"fail/issued-by-a-stranger", delegateTx(vt.CA, delegate(t, n, stranger).DER), validator.RuleOCSPDelegate},
		{"fail/issued-by-an-intermediate", delegateTx(vt.CA, delegate(t, n, inter).DER), validator.RuleOCSPDelegate},
		{"fail/with-chain", &certchain.Tx{Type: certchain.TxOCSPDelegate, Submitter: vt.CA, Cert: good.DER, Chain: [][]byte{n.CA.Cert.Raw}}, validator.RuleOCSPDelegate},
		{"fail/no-ocsp-signing", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithExtKeyUsage(x509.ExtKeyUsageServerAuth)).DER), validator.RuleOCSPDelegate},
		{"fail/no-nocheck", delegateTx(vt.CA, n.Leaf(t, n.CA, vt.WithoutNetworkID(), vt.WithExtKeyUsage(x509.ExtKeyUsageOCSPSigning)).DER), validator.RuleOCSPDelegate},
		{"fail/ca-cert", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithCA()).DER), validator.RuleOCSPDelegate},
		{"fail/key-usage-without-signature", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithKeyUsage(x509.KeyUsageKeyEncipherment)).DER), validator.RuleOCSPDelegate},
		{"fail/expired", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithValidity(n.Now.Add(-48*time.Hour), n.Now.Add(-time.Hour))).DER), validator.RuleExpired},
		{"fail/not-yet-valid", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithValidity(n.Now.Add(72*time.Hour), n.Now.Add(96*time.Hour))).DER), validator.RuleNotYetValid},
		{"fail/too-long", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithValidity(n.Now.Add(-time.Hour), n.Now.Add(validator.MaxOCSPDelegateValidity))).DER), validator.RuleValidityTooLong},
		{"fail/corrupt-signature", delegateTx(vt.CA, vt.Corrupt(good.DER)), validator.RuleOCSPDelegate},
		{"fail/not-der", delegateTx(vt.CA, []byte{0x30, 0x00}), validator.RuleDER},
		{"fail/weak-key", delegateTx(vt.CA, delegate(t, n, n.CA, vt.WithKey(vt.KeyRSA1024)).DER), validator.RuleKeyAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			eff, v := l.decide(tc.tx)
			if tc.rule != "" {
				wantVerdict(t, v, certchain.Rejected, tc.rule)
				if len(eff.Delegates)+len(eff.Records) != 0 {
					t.Fatal("a refused registration has an effect")
				}
				return
			}
			wantVerdict(t, v, certchain.Accepted, "")
			d := eff.Delegates
			if len(d) != 1 || d[0].Member != vt.CA || d[0].KeyHash != sha256.Sum256(good.Cert.RawSubjectPublicKeyInfo) ||
				d[0].IssuerHash != sha256.Sum256(n.CA.Cert.RawSubjectPublicKeyInfo) || !d[0].NotAfter.Equal(good.Cert.NotAfter) {
				t.Fatalf("effect: %+v", d)
			}
		})
	}
}

// TestOCSPDelegateRenewal: a registration must extend the one on record
// for the same key and CA; the same or an older one is Unchanged.
func TestOCSPDelegateRenewal(t *testing.T) {
	n, opts := newNet(t)
	key := vt.NewKey(t, vt.KeyP256)
	mk := func(hours int) []byte {
		return delegate(t, n, n.CA, vt.WithPublicKey(key.Public()), vt.WithValidity(n.Now.Add(-time.Hour), n.Now.Add(time.Duration(hours)*time.Hour))).DER
	}
	l := newLedger(t, n, opts)
	first, longer, shorter := mk(24), mk(48), mk(36)
	l.must(delegateTx(vt.CA, first))
	_, v := l.decide(delegateTx(vt.CA, first))
	wantVerdict(t, v, certchain.Unchanged, validator.RuleOCSPDelegate)
	l.must(delegateTx(vt.CA, longer))
	_, v = l.decide(delegateTx(vt.CA, shorter))
	wantVerdict(t, v, certchain.Unchanged, validator.RuleOCSPDelegate)
	// Another key of the same CA is a registration of its own.
	l.must(delegateTx(vt.CA, delegate(t, n, n.CA).DER))
}
