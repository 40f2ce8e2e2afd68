package validator_test

import (
	"testing"
	"time"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// TestValidAt checks the window over which a Check result stands: it ends
// at the first validity boundary of the certificate or its chain, so a
// pre-checked certificate is never reused across one.
func TestValidAt(t *testing.T) {
	n, opts := newNet(t)
	now := n.Now
	dev := n.SelfSigned(t)
	inter := n.Intermediate(t, n.CA, vt.WithValidity(now.Add(-2*time.Hour), now.Add(2*time.Hour)))
	leaf := n.Leaf(t, inter)
	interDER := [][]byte{inter.Cert.Raw}
	for _, tc := range []struct {
		name  string
		der   []byte
		chain [][]byte
		at    time.Time
		want  bool
	}{
		{"self-signed/same-time", dev.DER, nil, now, true},
		{"self-signed/later", dev.DER, nil, now.Add(time.Hour), true},
		{"self-signed/at-notafter", dev.DER, nil, dev.Cert.NotAfter, true},
		{"self-signed/past-notafter", dev.DER, nil, dev.Cert.NotAfter.Add(time.Nanosecond), false},
		{"self-signed/at-notbefore", dev.DER, nil, dev.Cert.NotBefore, true},
		{"self-signed/before-notbefore", dev.DER, nil, dev.Cert.NotBefore.Add(-time.Nanosecond), false},
		{"ca-signed/same-time", leaf.DER, interDER, now, true},
		{"ca-signed/at-intermediate-notafter", leaf.DER, interDER, inter.Cert.NotAfter, true},
		{"ca-signed/past-intermediate-notafter", leaf.DER, interDER, inter.Cert.NotAfter.Add(time.Nanosecond), false},
		{"ca-signed/before-leaf-notbefore", leaf.DER, interDER, leaf.Cert.NotBefore.Add(-time.Nanosecond), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := validator.Check(tc.der, tc.chain, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ValidAt(opts.At(tc.at)); got != tc.want {
				t.Fatalf("ValidAt(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}
