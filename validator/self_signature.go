package validator

// checkSelfSignature is rule "self-signature": a self-issued certificate
// (issuer and subject names equal byte for byte, RFC 5280 §3.2 and §6.1)
// is treated as self-signed, and its signature must verify with its own
// public key (§6.1.3 (a)(1), with the certificate as its own trust
// anchor). It is the device's proof of possession of its key.
//
// Self-issued is decided by names alone, without trying the chain: RFC
// 5280's self-issued certificates that are not self-signed are CA key
// rollover certificates, which rule "ca-cert" refuses anyway. So a
// self-signed certificate costs exactly one signature verification.
// CheckSignatureFrom is not used: it requires the parent to be a CA.
func checkSelfSignature(in *input) error {
	c := in.cert
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return &RuleError{Rule: RuleSelfSignature, Detail: "the signature does not verify with the certificate's own key", Cause: err}
	}
	return nil
}
