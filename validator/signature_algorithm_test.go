package validator_test

import (
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

var (
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
)

func TestSignatureAlgorithm(t *testing.T) {
	md5 := func(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
		d := n.SelfSigned(t, vt.WithKey(vt.KeyRSA2048), vt.WithSignatureAlgorithm(x509.SHA256WithRSA))
		return vt.ReplaceOID(t, d.DER, oidSHA256WithRSA, oidMD5WithRSA), nil
	}
	rsa := vt.WithKey(vt.KeyRSA2048)
	runCheck(t, []certCase{
		{name: "ok/ecdsa-sha256", make: self(vt.WithSignatureAlgorithm(x509.ECDSAWithSHA256))},
		{name: "ok/ecdsa-sha384", make: self(vt.WithSignatureAlgorithm(x509.ECDSAWithSHA384))},
		{name: "ok/ecdsa-sha512", make: self(vt.WithSignatureAlgorithm(x509.ECDSAWithSHA512))},
		{name: "ok/ed25519", make: self(vt.WithKey(vt.KeyEd25519))},
		{name: "ok/rsa-sha256", make: self(rsa, vt.WithSignatureAlgorithm(x509.SHA256WithRSA))},
		{name: "ok/rsa-sha512", make: self(rsa, vt.WithSignatureAlgorithm(x509.SHA512WithRSA))},
		{name: "ok/rsa-pss-sha256", make: self(rsa, vt.WithSignatureAlgorithm(x509.SHA256WithRSAPSS))},
		{name: "ok/rsa-pss-sha384", make: self(rsa, vt.WithSignatureAlgorithm(x509.SHA384WithRSAPSS))},
		{name: "fail/rsa-sha1", make: self(rsa, vt.WithSignatureAlgorithm(x509.SHA1WithRSA)), rule: validator.RuleSignatureAlgorithm, detail: "SHA1-RSA"},
		{name: "fail/ecdsa-sha1", make: self(vt.WithSignatureAlgorithm(x509.ECDSAWithSHA1)), rule: validator.RuleSignatureAlgorithm, detail: "ECDSA-SHA1"},
		{name: "fail/rsa-md5", make: md5, rule: validator.RuleSignatureAlgorithm, detail: "MD5-RSA"},
		{name: "fail/ca-signed-sha1", make: leafSignedSHA1, rule: validator.RuleSignatureAlgorithm},
	})
}

// leafSignedSHA1 is a leaf whose RSA CA signed it with SHA-1.
func leafSignedSHA1(t *testing.T, n *vt.Network) ([]byte, [][]byte) {
	root := n.Root(t, vt.CA, vt.KeyRSA2048)
	return n.Leaf(t, root, vt.WithSignatureAlgorithm(x509.SHA1WithRSA)).DER, nil
}
