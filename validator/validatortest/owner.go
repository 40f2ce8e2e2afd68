package validatortest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// OwnerProof signs req (a validator.OwnerRequest or any JSON value) as a
// compact JWS with an owner's P-256 (ES256) or Ed25519 (EdDSA) key, as a
// device does to revoke, suspend or resume its own certificate.
func OwnerProof(t testing.TB, key crypto.Signer, req any) []byte {
	t.Helper()
	alg := "ES256"
	if _, ok := key.(ed25519.PrivateKey); ok {
		alg = "EdDSA"
	}
	h, _ := json.Marshal(map[string]string{"alg": alg})
	p, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(signed))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(signed))
	default:
		t.Fatalf("validatortest: owner key %T", key)
	}
	return []byte(signed + "." + base64.RawURLEncoding.EncodeToString(sig))
}
