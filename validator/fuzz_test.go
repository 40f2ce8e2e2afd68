package validator_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// seedCerts are valid certificates of each shape for the seed corpora.
func seedCerts(f *testing.F) [][]byte {
	n := vt.NewNetwork(f)
	inter := n.Intermediate(f, n.CA)
	return [][]byte{
		n.SelfSigned(f).DER,
		n.SelfSigned(f, vt.WithKey(vt.KeyEd25519), vt.WithURI("urn:dev:1")).DER,
		n.SelfSigned(f, vt.WithKey(vt.KeyRSA2048)).DER,
		n.Leaf(f, n.CA).DER,
		inter.Cert.Raw,
	}
}

func FuzzParseDER(f *testing.F) {
	_, opts := newNet(f)
	for _, der := range seedCerts(f) {
		f.Add(der)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := validator.ParseDER(der)
		if err != nil {
			wantRuleOf(t, err, validator.RuleDER)
			return
		}
		if len(der) > validator.MaxCertSize || !bytes.Equal(c.Raw, der) {
			t.Fatalf("accepted %d bytes, Raw differs: %v", len(der), !bytes.Equal(c.Raw, der))
		}
		if _, err := validator.Check(der, nil, opts); err != nil {
			wantRuleOf(t, err, "")
		}
	})
}

func FuzzParsePEM(f *testing.F) {
	certs := seedCerts(f)
	f.Add(vt.PEM(certs[0]))
	f.Add(append(vt.PEM(certs[3]), vt.PEM(certs[4])...))
	f.Add(append([]byte("junk\n"), vt.PEM(certs[1])...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ders, err := validator.ParsePEM(data, 3)
		if err != nil {
			wantRuleOf(t, err, validator.RuleDER)
			return
		}
		if len(ders) == 0 || len(ders) > 3 {
			t.Fatalf("%d certificates, want 1 to 3", len(ders))
		}
		for i, der := range ders {
			if _, err := validator.ParseDER(der); err != nil {
				t.Fatalf("certificate %d does not re-parse: %v", i, err)
			}
		}
	})
}

// wantRuleOf fails unless err is a *RuleError (of rule, if not "").
func wantRuleOf(t *testing.T, err error, rule string) {
	t.Helper()
	var re *validator.RuleError
	if !errors.As(err, &re) || (rule != "" && re.Rule != rule) {
		t.Fatalf("error %v is not a %q RuleError", err, rule)
	}
}
