package validator_test

import (
	"testing"
	"time"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

type maker = func(*testing.T, *vt.Network) ([]byte, [][]byte)

func TestChain(t *testing.T) {
	viaIntermediate := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		inter := n.Intermediate(t, n.CA)
		return n.Leaf(t, inter).DER, chainOf(inter)
	}
	missingIntermediate := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.Leaf(t, n.Intermediate(t, n.CA)).DER, nil
	}
	expiredIntermediate := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		inter := n.Intermediate(t, n.CA, vt.WithValidity(n.Now.Add(-48*time.Hour), n.Now.Add(-24*time.Hour)))
		return n.Leaf(t, inter).DER, chainOf(inter)
	}
	unknownCA := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.Leaf(t, n.Root(t, "stranger", vt.KeyP256)).DER, nil
	}
	signedByLeaf := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		d := n.Leaf(t, n.CA, vt.WithCN("not a CA"))
		return n.Leaf(t, &vt.Issuer{Cert: d.Cert, Key: d.Key}).DER, chainOf(&vt.Issuer{Cert: d.Cert})
	}
	tooLong := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		inter := n.Intermediate(t, n.CA)
		chain := make([][]byte, validator.MaxChain+1)
		for i := range chain {
			chain[i] = inter.Cert.Raw
		}
		return n.Leaf(t, inter).DER, chain
	}
	garbage := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		return n.Leaf(t, n.CA).DER, [][]byte{{0x30, 0x00}}
	}
	runCheck(t, []certCase{
		{name: "ok/leaf-of-ca", make: leaf()},
		{name: "ok/leaf-of-ca2", make: func(t *testing.T, n *vt.Network) ([]byte, [][]byte) { return n.Leaf(t, n.CA2).DER, nil }},
		{name: "ok/via-intermediate", make: viaIntermediate},
		{name: "ok/max-chain", make: maxChain},
		{name: "fail/missing-intermediate", make: missingIntermediate, rule: validator.RuleChain, detail: "does not chain"},
		{name: "fail/unknown-ca", make: unknownCA, rule: validator.RuleChain, detail: "does not chain"},
		{name: "fail/no-anchors", make: leaf(), rule: validator.RuleChain, detail: "no member CA",
			opts: func(o *validator.Options) { o.Anchors = nil }},
		{name: "fail/expired-intermediate", make: expiredIntermediate, rule: validator.RuleChain, detail: "is expired or not yet valid"},
		{name: "fail/signed-by-end-entity", make: signedByLeaf, rule: validator.RuleChain},
		{name: "fail/too-many-intermediates", make: tooLong, rule: validator.RuleChain, detail: "at most 8"},
		{name: "fail/garbage-intermediate", make: garbage, rule: validator.RuleChain, detail: "intermediate 1: not a valid DER"},
		{name: "fail/corrupt-leaf-signature", make: func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
			return vt.Corrupt(n.Leaf(t, n.CA).DER), nil
		}, rule: validator.RuleChain},
	})
}

// maxChain is a leaf with MaxChain intermediates (the same one repeated
// after the real one: extra pool entries are harmless).
func maxChain(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
	inter := n.Intermediate(t, n.CA)
	chain := make([][]byte, validator.MaxChain)
	for i := range chain {
		chain[i] = inter.Cert.Raw
	}
	return n.Leaf(t, inter).DER, chain
}

func TestChainPicksFirstAnchorInOrder(t *testing.T) {
	n, opts := newNet(t)
	der := n.Leaf(t, n.CA).DER
	for _, tc := range []struct {
		name    string
		anchors []validator.Anchor
		want    string
	}{
		{"ok/genesis-order", opts.Anchors, vt.CA},
		{"ok/x-first", []validator.Anchor{{Member: "x", Cert: n.CA.Cert}, {Member: "y", Cert: n.CA.Cert}}, "x"},
		{"ok/y-first", []validator.Anchor{{Member: "y", Cert: n.CA.Cert}, {Member: "x", Cert: n.CA.Cert}}, "y"},
		{"ok/other-anchor-first", []validator.Anchor{{Member: vt.CA2, Cert: n.CA2.Cert}, {Member: vt.CA, Cert: n.CA.Cert}}, vt.CA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts.At(opts.Now)
			o.Anchors = tc.anchors
			c, err := validator.Check(der, nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if c.CA != tc.want || c.SelfSigned {
				t.Fatalf("CA = %q (self-signed %v), want %q", c.CA, c.SelfSigned, tc.want)
			}
		})
	}
}
