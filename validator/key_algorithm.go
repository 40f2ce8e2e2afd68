package validator

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // only to name a refused key
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// maxRSABits bounds RSA moduli: bigger keys add no security a relying
// party can use but make every node's verification slower.
const maxRSABits = 8192

// checkKeyAlgorithm is rule "key-algorithm": the subject public key
// (RFC 5280 §4.1.2.7) must be ECDSA on P-256 or P-384 (RFC 5480),
// Ed25519 (RFC 8410), or RSA (RFC 8017) of Policy.MinRSABits to 8192 bits.
//
// P-224 is too weak. P-521 is refused too although it is strong: the
// Mozilla root store policy (§5.1) allows only P-256 and P-384 and major
// TLS stacks no longer offer P-521, and every relying party must be able to
// verify every certificate on the ledger, so the ledger takes the curves
// all of them have. DSA, X25519 (not a signature key) and unknown
// algorithms are refused.
func checkKeyAlgorithm(in *input) error {
	if reason := keyProblem(in.cert, in.policy.MinRSABits); reason != "" {
		return ruleErr(RuleKeyAlgorithm, reason)
	}
	return nil
}

// CheckPublicKey applies the key-algorithm rule to a key that is not on
// the ledger yet, such as the key of a CSR an ACME client sends: a CA
// member must not sign what the ledger would refuse.
func CheckPublicKey(pub crypto.PublicKey, p certchain.Policy) error {
	if reason := publicKeyProblem(pub, p.MinRSABits); reason != "" {
		return ruleErr(RuleKeyAlgorithm, reason)
	}
	return nil
}

// keyProblem returns why c's public key is not allowed, or "".
func keyProblem(c *x509.Certificate, minRSABits int) string {
	if c.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		return "public key algorithm unknown is not allowed (use ECDSA P-256/P-384, Ed25519 or RSA)"
	}
	return publicKeyProblem(c.PublicKey, minRSABits)
}

func publicKeyProblem(pub crypto.PublicKey, minRSABits int) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Sprintf("ECDSA curve %s is not allowed (use P-256 or P-384)", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Sprintf("RSA key of %d bits is not allowed (use %d to %d bits)", n, minRSABits, maxRSABits)
		}
	default:
		return fmt.Sprintf("public key algorithm %s is not allowed (use ECDSA P-256/P-384, Ed25519 or RSA)", algorithmName(pub))
	}
	return ""
}

func algorithmName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *dsa.PublicKey:
		return "DSA"
	case *ecdh.PublicKey:
		return "X25519"
	}
	return fmt.Sprintf("%T", pub)
}
