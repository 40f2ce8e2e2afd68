package validator

// checkIdentity is rule "identity": a self-signed certificate must name
// its device, by a URI subject alternative name or a non-empty subject
// (RFC 5280 §4.1.2.6: the subject is non-empty unless subjectAltName is
// present; §4.2.1.6). The name is the key under which the ledger keeps
// one current certificate per self-signed device (see Identity). A
// CA-signed certificate's identity is informational (its CA vouches for
// the names, and many certificates may share one), so it may be empty.
func checkIdentity(in *input) error {
	if in.selfIssued && in.identity == "" {
		return ruleErr(RuleIdentity, "a self-signed certificate must name its device: a URI subject alternative name or a non-empty subject")
	}
	return nil
}
