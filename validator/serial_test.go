package validator_test

import (
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestSerialOfMatchesX509(t *testing.T) {
	n, _ := newNet(t)
	for _, d := range []*vt.Device{n.SelfSigned(t), n.Leaf(t, n.CA), n.SelfSigned(t, vt.WithKey(vt.KeyEd25519))} {
		got, ok := validator.SerialOf(d.DER)
		if !ok || got.Cmp(d.Cert.SerialNumber) != 0 {
			t.Fatalf("SerialOf = %v %v, want %v", got, ok, d.Cert.SerialNumber)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x03, 0x30, 0x01, 0x00}, []byte("not DER")} {
		if s, ok := validator.SerialOf(bad); ok {
			t.Fatalf("SerialOf(%x) = %v, want failure", bad, s)
		}
	}
}

func FuzzSerialOf(f *testing.F) {
	n := vt.NewNetwork(f)
	f.Add(n.SelfSigned(f).DER)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		if s, ok := validator.SerialOf(der); ok && s == nil {
			t.Fatal("ok without a serial")
		}
	})
}
