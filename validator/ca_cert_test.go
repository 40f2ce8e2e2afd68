package validator_test

import (
	"crypto/x509"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestCACert(t *testing.T) {
	intermediateAsLeaf := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.Intermediate(t, n.CA).Cert.Raw, nil
	}
	anchorAsLeaf := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) { return n.CA.Cert.Raw, nil }
	runCheck(t, []certCase{
		{name: "ok/end-entity-key-usage", make: self(vt.WithKeyUsage(x509.KeyUsageDigitalSignature))},
		{name: "fail/self-signed-ca", make: self(vt.WithCA()), rule: validator.RuleCACert, detail: "cA=TRUE"},
		{name: "fail/key-cert-sign-without-ca", make: self(vt.WithKeyUsage(x509.KeyUsageCertSign)), rule: validator.RuleCACert, detail: "keyCertSign"},
		{name: "fail/ca-signed-intermediate", make: intermediateAsLeaf, rule: validator.RuleCACert},
		{name: "fail/member-anchor", make: anchorAsLeaf, rule: validator.RuleCACert},
	})
}
