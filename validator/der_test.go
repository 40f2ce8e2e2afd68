package validator_test

import (
	"bytes"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestParseDER(t *testing.T) {
	n := vt.NewNetwork(t)
	good := n.SelfSigned(t).DER
	big := n.SelfSigned(t, vt.WithURI("urn:x:"+string(bytes.Repeat([]byte("a"), validator.MaxCertSize)))).DER
	for _, tc := range []struct {
		name   string
		der    []byte
		rule   string
		detail string
	}{
		{"ok/p256", good, "", ""},
		{"fail/empty", nil, validator.RuleDER, "empty"},
		{"fail/too-large", big, validator.RuleDER, "more than the 16384 allowed"},
		{"fail/garbage", []byte("not a certificate"), validator.RuleDER, "not a valid DER"},
		{"fail/trailing-data", append(bytes.Clone(good), 0), validator.RuleDER, "not a valid DER"},
		{"fail/truncated", good[:len(good)-1], validator.RuleDER, "not a valid DER"},
		{"fail/ber-long-length", berLength(good), validator.RuleDER, "not a valid DER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := validator.ParseDER(tc.der)
			wantRule(t, err, tc.rule, tc.detail)
			if err == nil && !bytes.Equal(c.Raw, tc.der) {
				t.Fatal("Raw differs from the input")
			}
		})
	}
}

// berLength re-encodes the outer SEQUENCE length of der in a non-minimal
// long form (valid BER, invalid DER).
func berLength(der []byte) []byte {
	// der starts 0x30 0x82 hi lo; write it as 0x30 0x83 0x00 hi lo.
	out := []byte{0x30, 0x83, 0x00, der[2], der[3]}
	return append(out, der[4:]...)
}

func TestCheckRejectsBadDER(t *testing.T) {
	runCheck(t, []certCase{
		{name: "fail/garbage", make: raw([]byte{0x30, 0x00}), rule: validator.RuleDER},
		{name: "fail/empty", make: raw(nil), rule: validator.RuleDER, detail: "empty"},
	})
}
