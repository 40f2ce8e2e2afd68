package validator_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestIdentityRule(t *testing.T) {
	runCheck(t, []certCase{
		{name: "ok/subject", make: self(vt.WithCN("device-1"))},
		{name: "ok/uri-and-empty-subject", make: self(vt.WithSubject(pkix.Name{}), vt.WithURI("urn:dev:1"))},
		{name: "ok/ca-signed-empty-subject", make: leaf(vt.WithSubject(pkix.Name{}))},
		{name: "fail/empty-subject-no-uri", make: self(vt.WithSubject(pkix.Name{})), rule: validator.RuleIdentity},
	})
}

func TestIdentity(t *testing.T) {
	u1, _ := url.Parse("urn:dev:1")
	u2, _ := url.Parse("spiffe://net/dev/2")
	subj := pkix.Name{CommonName: "dev", Organization: []string{"Acme"}}
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"ok/first-uri", &x509.Certificate{Subject: subj, URIs: []*url.URL{u1, u2}}, "urn:dev:1"},
		{"ok/subject-dn", &x509.Certificate{Subject: subj}, "CN=dev,O=Acme"},
		{"ok/empty", &x509.Certificate{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validator.Identity(tc.cert); got != tc.want {
				t.Fatalf("Identity = %q, want %q", got, tc.want)
			}
		})
	}
}
