package certreload

import (
	"crypto"
	"testing"
)

// FuzzParse: whatever the files hold, parse returns an error or a pair
// whose key is its certificate's, and never panics.
func FuzzParse(f *testing.F) {
	ca := newTestCA(f)
	cert, key := ca.issue(f, leaf{})
	f.Add(cert, key)
	f.Add(cert[:len(cert)/2], key)
	f.Add([]byte("garbage"), key[:10])
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := parse(certPEM, keyPEM)
		if err != nil {
			return
		}
		pub, ok := c.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(c.Leaf.PublicKey) {
			t.Fatal("a pair whose key is not its certificate's")
		}
	})
}
