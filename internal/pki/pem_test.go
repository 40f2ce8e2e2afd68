package pki

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/certchain/certchain/certchain"
)

func TestLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	der, key, err := NewDevice(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey(KeyP256)
	certFile := write("c.pem", EncodeCertPEM(der))
	keyFile := write("k.pem", mustKeyPEM(t, key))
	otherFile := write("o.pem", mustKeyPEM(t, other))
	garbage := write("g.pem", []byte("not pem"))

	tests := []struct {
		name           string
		cert, key      string
		wantErr, isInv bool
	}{
		{"ok/match", certFile, keyFile, false, false},
		{"fail/other-key", certFile, otherFile, true, true},
		{"fail/garbage-cert", garbage, keyFile, true, true},
		{"fail/garbage-key", certFile, garbage, true, true},
		{"fail/missing", filepath.Join(dir, "none"), keyFile, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadKeyPair(tt.cert, tt.key)
			if (err != nil) != tt.wantErr || (tt.isInv && !errors.Is(err, certchain.ErrInvalid)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func mustKeyPEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	b, err := EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
