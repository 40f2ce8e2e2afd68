package validator_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestCriticalExtension(t *testing.T) {
	unknown := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 9, 9}
	ext := func(critical bool) vt.Option {
		return vt.WithExtension(pkix.Extension{Id: unknown, Critical: critical, Value: []byte{0x05, 0x00}})
	}
	runCheck(t, []certCase{
		{name: "ok/unknown-non-critical", make: self(ext(false))},
		{name: "fail/unknown-critical", make: self(ext(true)), rule: validator.RuleCriticalExtension, detail: "1.3.6.1.4.1.32473.9.9"},
		{name: "fail/ca-signed-unknown-critical", make: leaf(ext(true)), rule: validator.RuleCriticalExtension},
		{name: "fail/critical-network-id-is-network-id-rule", make: self(vt.WithNetworkIDExt(vt.UTF8(vt.NetworkID), true)),
			rule: validator.RuleNetworkID, detail: "critical"},
	})
}
