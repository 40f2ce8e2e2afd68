package validator_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestCheckResult(t *testing.T) {
	n, opts := newNet(t)
	dev := n.SelfSigned(t, vt.WithCN("dev-1"), vt.WithURI("urn:dev:1"))
	ca := n.Leaf(t, n.CA, vt.WithCN("host-1"))
	for _, tc := range []struct {
		name       string
		der        []byte
		selfSigned bool
		identity   string
		ca         string
	}{
		{"ok/self-signed", dev.DER, true, "urn:dev:1", ""},
		{"ok/ca-signed", ca.DER, false, "CN=host-1", vt.CA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := validator.Check(tc.der, nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != sha256.Sum256(tc.der) || c.KeyHash != sha256.Sum256(c.X509.RawSubjectPublicKeyInfo) {
				t.Fatal("ID or KeyHash is not the SHA-256 of the DER / SPKI")
			}
			if c.SelfSigned != tc.selfSigned || c.Identity != tc.identity || c.CA != tc.ca {
				t.Fatalf("got self-signed %v identity %q CA %q", c.SelfSigned, c.Identity, c.CA)
			}
		})
	}
}

func TestCheckInvalidOptions(t *testing.T) {
	n, opts := newNet(t)
	der := n.SelfSigned(t).DER
	noNetwork := opts.At(opts.Now)
	noNetwork.NetworkID = ""
	for _, tc := range []struct {
		name string
		opts *validator.Options
	}{
		{"fail/nil", nil},
		{"fail/no-network-id", noNetwork},
		{"fail/no-time", opts.At(time.Time{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validator.Check(der, nil, tc.opts)
			var re *validator.RuleError
			if err == nil || errors.As(err, &re) {
				t.Fatalf("got %v, want a non-rule error", err)
			}
		})
	}
}

func TestCheckConcurrent(t *testing.T) {
	n, opts := newNet(t)
	ders := [][]byte{n.SelfSigned(t).DER, n.Leaf(t, n.CA).DER, vt.Corrupt(n.SelfSigned(t).DER)}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				_, err := validator.Check(ders[(i+j)%3], nil, opts)
				if ((i+j)%3 == 2) != (err != nil) {
					t.Errorf("certificate %d: unexpected result %v", (i+j)%3, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestNewOptions(t *testing.T) {
	n, opts := newNet(t)
	if opts.NetworkID != vt.NetworkID || !opts.Now.Equal(vt.Now) || opts.NetworkIDOID.String() != certchain.DefaultNetworkIDOID {
		t.Fatalf("options: %+v", opts)
	}
	if len(opts.Anchors) != 2 || opts.Anchors[0].Member != vt.CA || opts.Anchors[1].Member != vt.CA2 ||
		!opts.Anchors[0].Cert.Equal(n.CA.Cert) || !opts.Anchors[1].Cert.Equal(n.CA2.Cert) {
		t.Fatalf("anchors: %+v", opts.Anchors)
	}
	later := opts.At(vt.Now.Add(time.Hour))
	if !opts.Now.Equal(vt.Now) || !later.Now.Equal(vt.Now.Add(time.Hour)) || len(later.Anchors) != 2 {
		t.Fatal("At must copy the options with the new time")
	}
}

func TestNewOptionsRejectsBadGenesis(t *testing.T) {
	n := vt.NewNetwork(t)
	leafPEM := string(n.Leaf(t, n.CA).PEM())
	for _, tc := range []struct {
		name   string
		change func(g *certchain.Genesis)
	}{
		{"fail/ca-cert-not-ca", func(g *certchain.Genesis) { member(g, vt.CA).CACerts = []string{leafPEM} }},
		{"fail/ca-cert-garbage", func(g *certchain.Genesis) { member(g, vt.CA).CACerts = []string{string(vt.PEM([]byte{0x30, 0}))} }},
		{"fail/member-cert-garbage", func(g *certchain.Genesis) { member(g, vt.Vendor).Cert = "junk" }},
		{"fail/bad-oid", func(g *certchain.Genesis) { g.NetworkIDOID = "x" }},
		{"fail/no-network-id", func(g *certchain.Genesis) { g.NetworkID = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := *n.Genesis
			g.Members = append([]certchain.Member(nil), g.Members...)
			tc.change(&g)
			if _, err := validator.NewOptions(&g, vt.Now); err == nil {
				t.Fatal("NewOptions accepted a bad genesis")
			}
		})
	}
}

func member(g *certchain.Genesis, name string) *certchain.Member {
	m, _ := g.Member(name)
	return m
}

func TestRuleErrorIs(t *testing.T) {
	kinds := map[string]error{
		validator.RuleDER: certchain.ErrInvalid, validator.RuleExpired: certchain.ErrInvalid,
		validator.RuleChain: certchain.ErrInvalid, validator.RuleReason: certchain.ErrInvalid,
		validator.RuleNotMember: certchain.ErrUnauthorized, validator.RuleRole: certchain.ErrUnauthorized,
		validator.RuleUnauthorized: certchain.ErrUnauthorized, validator.RuleNotFound: certchain.ErrNotFound,
		validator.RuleDuplicateIdentity: certchain.ErrConflict, validator.RuleState: certchain.ErrConflict,
		validator.RuleAlreadyPublished: certchain.ErrConflict, validator.RuleIdentityMismatch: certchain.ErrConflict,
		validator.RuleCAMismatch: certchain.ErrConflict,
	}
	all := []error{certchain.ErrInvalid, certchain.ErrUnauthorized, certchain.ErrNotFound, certchain.ErrConflict}
	for rule, kind := range kinds {
		t.Run(rule, func(t *testing.T) {
			err := error(&validator.RuleError{Rule: rule, Detail: "d"})
			for _, k := range all {
				if errors.Is(err, k) != (k == kind) {
					t.Fatalf("errors.Is(%s, %v) = %v", rule, k, !(k == kind))
				}
			}
		})
	}
}

func TestRuleErrorText(t *testing.T) {
	cause := errors.New("x509: boom")
	e := &validator.RuleError{Rule: "der", Detail: "bad", Cause: cause}
	if e.Reason() != "der: bad" || e.Error() != "der: bad: x509: boom" || !errors.Is(e, cause) {
		t.Fatalf("Reason %q Error %q", e.Reason(), e.Error())
	}
	if v := e.Verdict(); v.Code != certchain.Rejected || v.Reason != "der: bad" {
		t.Fatalf("Verdict %+v", v)
	}
	if e := (&validator.RuleError{Rule: "der", Detail: "bad"}); e.Error() != "der: bad" {
		t.Fatalf("Error %q", e.Error())
	}
}

func TestRecord(t *testing.T) {
	n, opts := newNet(t)
	c, err := validator.Check(n.Leaf(t, n.CA, vt.WithCN("host")).DER, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	tx := &certchain.Tx{Type: certchain.TxRenew, Submitter: vt.CA, Cert: c.X509.Raw, Target: certchain.Sum([]byte("old"))}
	r := c.Record(tx, tx.ID(), 7, vt.Now)
	want := certchain.Record{
		ID: c.ID, DER: c.X509.Raw, Serial: c.X509.SerialNumber.Text(16), Subject: "CN=host",
		Issuer: n.CA.Cert.Subject.String(), NotBefore: c.X509.NotBefore, NotAfter: c.X509.NotAfter,
		Identity: "CN=host", KeyHash: c.KeyHash, CA: vt.CA, IssuerKey: validator.IssuerKeyBits(n.CA.Cert),
		Submitter: vt.CA, Height: 7, TxID: tx.ID(),
		Status: certchain.StatusGood, StatusTime: vt.Now, StatusHeight: 7, Replaces: tx.Target,
	}
	if !recordsEqual(r, &want) {
		t.Fatalf("Record:\n got %+v\nwant %+v", *r, want)
	}
	if c.Issuer != n.CA.Cert && !c.Issuer.Equal(n.CA.Cert) {
		t.Fatalf("issuer %s, want the CA", c.Issuer.Subject)
	}
	if len(want.IssuerKey) != 65 { // uncompressed P-256 point
		t.Fatalf("issuer key bits: %d bytes", len(want.IssuerKey))
	}
}

// TestIssuerKeyBits: the EC shortcut gives the subjectPublicKey BIT
// STRING, as decoding the SPKI does, for every key type.
func TestIssuerKeyBits(t *testing.T) {
	n := vt.NewNetwork(t)
	for _, k := range []vt.KeyType{vt.KeyP256, vt.KeyP384, vt.KeyRSA2048, vt.KeyEd25519} {
		c := n.SelfSigned(t, vt.WithKey(k)).Cert
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
			t.Fatal(err)
		}
		if got := validator.IssuerKeyBits(c); !bytes.Equal(got, spki.PublicKey.Bytes) {
			t.Errorf("%v: %x, want %x", k, got, spki.PublicKey.Bytes)
		}
	}
}
