package validator_test

import (
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestNetworkID(t *testing.T) {
	printable, _ := asn1.MarshalWithParams(vt.NetworkID, "printable")
	custom := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 7}
	useCustom := func(o *validator.Options) { o.NetworkIDOID = custom }
	runCheck(t, []certCase{
		{name: "ok/self-signed", make: self()},
		{name: "ok/custom-oid", make: self(vt.WithNetworkIDOID(custom)), opts: useCustom},
		{name: "ok/ca-signed-without", make: leaf()},
		{name: "ok/ca-signed-with-right-value", make: leaf(vt.WithNetworkID(vt.NetworkID))},
		{name: "fail/missing", make: self(vt.WithoutNetworkID()), rule: validator.RuleNetworkID, detail: "missing"},
		{name: "fail/default-oid-when-custom-configured", make: self(), opts: useCustom, rule: validator.RuleNetworkID, detail: "missing"},
		{name: "fail/wrong-value", make: self(vt.WithNetworkID("other-net")), rule: validator.RuleNetworkID, detail: `wrong value "other-net"`},
		{name: "fail/wrong-value-long", make: self(vt.WithNetworkID(strings.Repeat("x", 500))), rule: validator.RuleNetworkID, detail: `"...: this network`},
		{name: "fail/empty-value", make: self(vt.WithNetworkID("")), rule: validator.RuleNetworkID, detail: `wrong value ""`},
		{name: "fail/critical", make: self(vt.WithNetworkIDExt(vt.UTF8(vt.NetworkID), true)), rule: validator.RuleNetworkID, detail: "critical"},
		{name: "fail/printable-string", make: self(vt.WithNetworkIDExt(printable, false)), rule: validator.RuleNetworkID, detail: "not a DER UTF8String"},
		{name: "fail/trailing-bytes", make: self(vt.WithNetworkIDExt(append(vt.UTF8(vt.NetworkID), 0), false)), rule: validator.RuleNetworkID, detail: "not a DER UTF8String"},
		{name: "fail/invalid-utf8", make: self(vt.WithNetworkIDExt([]byte{0x0c, 0x02, 0xff, 0xfe}, false)), rule: validator.RuleNetworkID, detail: "not a DER UTF8String"},
		{name: "fail/not-der", make: self(vt.WithNetworkIDExt([]byte{0x0c, 0x81, 0x01, 'x'}, false)), rule: validator.RuleNetworkID, detail: "not a DER UTF8String"},
		{name: "fail/ca-signed-wrong-value", make: leaf(vt.WithNetworkID("other-net")), rule: validator.RuleNetworkID, detail: "wrong value"},
	})
}
