package validator_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// newNet returns a test network and its options at vt.Now.
func newNet(t testing.TB) (*vt.Network, *validator.Options) {
	t.Helper()
	n := vt.NewNetwork(t)
	opts, err := validator.NewOptions(n.Genesis, n.Now)
	if err != nil {
		t.Fatal(err)
	}
	return n, opts
}

// wantRule fails t unless err is a *RuleError of rule whose detail
// contains detail; rule "" wants no error.
func wantRule(t *testing.T, err error, rule, detail string) {
	t.Helper()
	var re *validator.RuleError
	switch {
	case rule == "" && err != nil:
		t.Fatalf("got error %v, want none", err)
	case rule == "":
		return
	case !errors.As(err, &re):
		t.Fatalf("got error %v, want rule %q", err, rule)
	case re.Rule != rule || !strings.Contains(re.Detail, detail):
		t.Fatalf("got %q, want rule %q with detail containing %q", re.Error(), rule, detail)
	}
}

// certCase is one certificate of a rule's table.
type certCase struct {
	name   string
	make   func(t *testing.T, n *vt.Network) (der []byte, chain [][]byte)
	opts   func(o *validator.Options) // adjusts the options, if set
	rule   string                     // "" = accepted
	detail string                     // substring of the detail
}

// runCheck runs Check on each case on one network.
func runCheck(t *testing.T, cases []certCase) {
	t.Helper()
	n, base := newNet(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := base.At(base.Now)
			if tc.opts != nil {
				tc.opts(opts)
			}
			der, chain := tc.make(t, n)
			c, err := validator.Check(der, chain, opts)
			wantRule(t, err, tc.rule, tc.detail)
			if err == nil && c == nil {
				t.Fatal("Check returned neither a Cert nor an error")
			}
		})
	}
}

// self makes a self-signed certificate.
func self(opts ...vt.Option) func(*testing.T, *vt.Network) ([]byte, [][]byte) {
	return func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.SelfSigned(t, opts...).DER, nil
	}
}

// leaf makes a leaf signed by member CA's root.
func leaf(opts ...vt.Option) func(*testing.T, *vt.Network) ([]byte, [][]byte) {
	return func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.Leaf(t, n.CA, opts...).DER, nil
	}
}

// raw returns fixed bytes.
func raw(der []byte) func(*testing.T, *vt.Network) ([]byte, [][]byte) {
	return func(*testing.T, *vt.Network) ([]byte, [][]byte) { return der, nil }
}

func chainOf(issuers ...*vt.Issuer) [][]byte {
	var out [][]byte
	for _, i := range issuers {
		out = append(out, i.Cert.Raw)
	}
	return out
}
