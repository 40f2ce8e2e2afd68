package validator_test

import (
	"encoding/asn1"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidUnknown7    = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 99} // same encoded length
)

func TestKeyAlgorithm(t *testing.T) {
	unknownKey := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return vt.ReplaceOID(t, n.SelfSigned(t).DER, oidECPublicKey, oidUnknown7), nil
	}
	weakIntermediate := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		inter := n.Intermediate(t, n.CA, vt.WithKey(vt.KeyRSA1024))
		return n.Leaf(t, inter).DER, chainOf(inter)
	}
	runCheck(t, []certCase{
		{name: "ok/self-signed-p256", make: self(vt.WithKey(vt.KeyP256))},
		{name: "ok/self-signed-p384", make: self(vt.WithKey(vt.KeyP384))},
		{name: "ok/self-signed-ed25519", make: self(vt.WithKey(vt.KeyEd25519))},
		{name: "ok/self-signed-rsa2048", make: self(vt.WithKey(vt.KeyRSA2048))},
		{name: "ok/self-signed-rsa3072", make: self(vt.WithKey(vt.KeyRSA3072))},
		{name: "ok/rsa1024-when-policy-allows", make: self(vt.WithKey(vt.KeyRSA1024)),
			opts: func(o *validator.Options) { o.Policy.MinRSABits = 1024 }},
		{name: "fail/p224", make: self(vt.WithKey(vt.KeyP224)), rule: validator.RuleKeyAlgorithm, detail: "P-224"},
		{name: "fail/p521", make: self(vt.WithKey(vt.KeyP521)), rule: validator.RuleKeyAlgorithm, detail: "P-521"},
		{name: "fail/rsa1024", make: self(vt.WithKey(vt.KeyRSA1024)), rule: validator.RuleKeyAlgorithm, detail: "1024 bits"},
		{name: "fail/rsa2048-below-policy", make: self(vt.WithKey(vt.KeyRSA2048)), rule: validator.RuleKeyAlgorithm, detail: "2048 bits",
			opts: func(o *validator.Options) { o.Policy.MinRSABits = 3072 }},
		{name: "fail/unknown-algorithm", make: unknownKey, rule: validator.RuleKeyAlgorithm, detail: "algorithm unknown is not allowed"},
		{name: "fail/ca-signed-p521", make: leaf(vt.WithKey(vt.KeyP521)), rule: validator.RuleKeyAlgorithm, detail: "P-521"},
		{name: "fail/intermediate-rsa1024", make: weakIntermediate, rule: validator.RuleKeyAlgorithm, detail: "intermediate"},
	})
}

func TestDefaultPolicyAppliesToZeroFields(t *testing.T) {
	runCheck(t, []certCase{
		{name: "fail/zero-min-rsa-bits-is-2048", make: self(vt.WithKey(vt.KeyRSA1024)), rule: validator.RuleKeyAlgorithm,
			opts: func(o *validator.Options) { o.Policy = certchain.Policy{} }},
		{name: "ok/zero-policy", make: self(), opts: func(o *validator.Options) { o.Policy = certchain.Policy{} }},
	})
}
