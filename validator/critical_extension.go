package validator

import (
	"fmt"
)

// checkCriticalExtensions is rule "critical-extension": RFC 5280 §4.2
// says "A certificate-using system MUST reject the certificate if it
// encounters a critical extension it does not recognize". crypto/x509
// lists those in UnhandledCriticalExtensions. The network-ID extension is
// recognized here and left to rule "network-id", which refuses it when
// critical with a precise reason.
func checkCriticalExtensions(in *input) error {
	netID := in.opts.networkIDOID()
	for _, oid := range in.cert.UnhandledCriticalExtensions {
		if !oid.Equal(netID) {
			return ruleErr(RuleCriticalExtension, fmt.Sprintf("unhandled critical extension %s", oid))
		}
	}
	return nil
}
