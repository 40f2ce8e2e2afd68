package validator

import (
	"crypto/x509"
	"fmt"
)

// allowedSignatureAlgorithms are the signature algorithms of RFC 5758
// (ECDSA with SHA-2), RFC 8410 (Ed25519), RFC 4055 (RSA PKCS #1 v1.5 with
// SHA-2, and RSASSA-PSS).
var allowedSignatureAlgorithms = map[x509.SignatureAlgorithm]bool{
	x509.ECDSAWithSHA256: true, x509.ECDSAWithSHA384: true, x509.ECDSAWithSHA512: true,
	x509.PureEd25519:   true,
	x509.SHA256WithRSA: true, x509.SHA384WithRSA: true, x509.SHA512WithRSA: true,
	x509.SHA256WithRSAPSS: true, x509.SHA384WithRSAPSS: true, x509.SHA512WithRSAPSS: true,
}

// checkSignatureAlgorithm is rule "signature-algorithm": the certificate's
// signature algorithm (RFC 5280 §4.1.1.2) must be one of the above. MD5
// and SHA-1 are broken for collision resistance (RFC 6151, SHAttered), DSA
// is withdrawn (FIPS 186-5), and anything unknown cannot be verified.
// crypto/x509 still verifies SHA-1 signatures through CheckSignature, so
// this rule is what keeps them out.
func checkSignatureAlgorithm(in *input) error {
	if a := in.cert.SignatureAlgorithm; !allowedSignatureAlgorithms[a] {
		return ruleErr(RuleSignatureAlgorithm, fmt.Sprintf("signature algorithm %s is not allowed (use ECDSA or RSA with SHA-2, RSA-PSS, or Ed25519)", a))
	}
	return nil
}
