package validator_test

import (
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestSelfSignature(t *testing.T) {
	corrupt := func(opts ...vt.Option) func(*testing.T, *vt.Network) ([]byte, [][]byte) {
		return func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
			return vt.Corrupt(n.SelfSigned(t, opts...).DER), nil
		}
	}
	otherKey := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.SelfSigned(t, vt.WithSigner(vt.NewKey(t, vt.KeyP256))).DER, nil
	}
	withChain := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.SelfSigned(t).DER, chainOf(n.CA)
	}
	runCheck(t, []certCase{
		{name: "ok/p256", make: self()},
		{name: "ok/ed25519", make: self(vt.WithKey(vt.KeyEd25519))},
		{name: "ok/rsa-pss", make: self(vt.WithKey(vt.KeyRSA2048))},
		{name: "fail/corrupt-p256", make: corrupt(), rule: validator.RuleSelfSignature, detail: "own key"},
		{name: "fail/corrupt-ed25519", make: corrupt(vt.WithKey(vt.KeyEd25519)), rule: validator.RuleSelfSignature},
		{name: "fail/corrupt-rsa", make: corrupt(vt.WithKey(vt.KeyRSA2048)), rule: validator.RuleSelfSignature},
		{name: "fail/signed-by-other-key", make: otherKey, rule: validator.RuleSelfSignature},
		{name: "fail/with-chain", make: withChain, rule: validator.RuleChain, detail: "takes no chain"},
	})
}
