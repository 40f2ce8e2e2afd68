package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
)

// The JWS algorithms accepted for account keys (and for revocation requests
// signed by a certificate's key).
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
	AlgES384 = "ES384" // ECDSA P-384 with SHA-384
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048 to 8192 bits
	AlgEdDSA = "EdDSA" // Ed25519 (RFC 8037)
)

// RSA modulus bounds for account keys: below the minimum is weak, above the
// maximum only costs the server verification time.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

var supportedAlgs = []string{AlgES256, AlgES384, AlgRS256, AlgEdDSA}

// SupportedAlgorithms returns the accepted JWS algorithms, the list a
// badSignatureAlgorithm problem carries.
func SupportedAlgorithms() []string { return slices.Clone(supportedAlgs) }

// badAlg returns a badSignatureAlgorithm problem listing what is accepted.
func badAlg(format string, args ...any) *Problem {
	p := ErrBadSignatureAlgorithm.Errorf(format, args...)
	p.Algorithms = SupportedAlgorithms()
	return p
}

// CheckAccountKey applies the account key policy: RSA of MinRSABits to
// MaxRSABits, ECDSA on P-256 or P-384, or Ed25519. Anything else is a
// badPublicKey problem.
func CheckAccountKey(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return ErrBadPublicKey.Errorf("empty RSA key")
		}
		if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return ErrBadPublicKey.Errorf("RSA key of %d bits is outside the accepted %d to %d bits", bits, MinRSABits, MaxRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		if k == nil || (k.Curve != elliptic.P256() && k.Curve != elliptic.P384()) {
			return ErrBadPublicKey.Errorf("ECDSA key must be on curve P-256 or P-384")
		}
		return nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return ErrBadPublicKey.Errorf("Ed25519 key of %d bytes", len(k))
		}
		return nil
	default:
		return ErrBadPublicKey.Errorf("unsupported key type %T", key)
	}
}

// keyAlg returns the one JWS algorithm that goes with a key that passed
// CheckAccountKey.
func keyAlg(key crypto.PublicKey) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return AlgRS256
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return AlgES384
		}
		return AlgES256
	case ed25519.PublicKey:
		return AlgEdDSA
	}
	return ""
}

// checkKeyAlg checks an embedded key against the policy and that alg is
// the algorithm that goes with it.
func checkKeyAlg(key crypto.PublicKey, alg string) error {
	if err := CheckAccountKey(key); err != nil {
		return err
	}
	if want := keyAlg(key); alg != want {
		return badAlg("JWS algorithm %q does not match the key (%s expected)", alg, want)
	}
	return nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of key: SHA-256 over the
// key's canonical JWK members, base64url without padding. A caller holding
// a *jose.JSONWebKey passes its Key field.
func Thumbprint(key crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: key}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwk thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// KeyAuthorization returns token + "." + Thumbprint(key), the string a
// client proves control with (RFC 8555 §8.1).
func KeyAuthorization(token string, key crypto.PublicKey) (string, error) {
	th, err := Thumbprint(key)
	if err != nil {
		return "", err
	}
	return token + "." + th, nil
}

// NewToken returns a fresh challenge token: 32 random bytes (256 bits, more
// than the 128 RFC 8555 §8.1 asks for), base64url without padding.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && ak.Equal(b)
}

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
