package validator

import (
	"crypto/x509"
)

// checkCACert is rule "ca-cert": a certificate published to the ledger is
// an end-entity certificate. It must not assert cA in basic constraints
// (RFC 5280 §4.2.1.9) nor the keyCertSign key usage (§4.2.1.3: "If the
// keyCertSign bit is asserted, then the cA bit ... MUST also be
// asserted", so either one makes it a CA certificate).
//
// Why: devices are end entities. A self-signed CA certificate on the
// ledger would look, to a relying party that trusts the ledger, like a
// trust anchor, and its key could sign certificates that never pass
// through the ledger. Member CAs enter only through the genesis (and later
// membership transactions), where the consortium decides on them.
// `openssl req -x509` adds CA:TRUE by default, hence the hint.
func checkCACert(in *input) error {
	c := in.cert
	switch {
	case c.BasicConstraintsValid && c.IsCA:
		return ruleErr(RuleCACert, "a CA certificate (basicConstraints cA=TRUE) cannot be published as a device certificate; issue it with cA=FALSE (openssl: -addext basicConstraints=critical,CA:FALSE)")
	case c.KeyUsage&x509.KeyUsageCertSign != 0:
		return ruleErr(RuleCACert, "a certificate with the keyCertSign key usage cannot be published as a device certificate")
	}
	return nil
}
