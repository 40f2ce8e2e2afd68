package certchain

import (
	"fmt"
	"strings"
)

// Reason is an RFC 5280 §5.3.1 CRLReason code.
type Reason uint8

// RFC 5280 §5.3.1 reason codes (7 is unused by the RFC).
const (
	ReasonUnspecified          Reason = 0
	ReasonKeyCompromise        Reason = 1
	ReasonCACompromise         Reason = 2
	ReasonAffiliationChanged   Reason = 3
	ReasonSuperseded           Reason = 4
	ReasonCessationOfOperation Reason = 5
	ReasonCertificateHold      Reason = 6
	ReasonRemoveFromCRL        Reason = 8
	ReasonPrivilegeWithdrawn   Reason = 9
	ReasonAACompromise         Reason = 10
)

var reasonNames = map[Reason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// String returns the RFC 5280 name (e.g. "keyCompromise").
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ValidForRevoke reports whether r may be given to a revoke transaction.
// certificateHold is what suspend means, and removeFromCRL is what resume
// means (RFC 5280 §5.3.1), so neither is a revocation reason here.
func (r Reason) ValidForRevoke() bool {
	_, known := reasonNames[r]
	return known && r != ReasonCertificateHold && r != ReasonRemoveFromCRL
}

// ParseReason accepts an RFC 5280 name (case-insensitive, e.g.
// "keyCompromise" or "key-compromise") or its decimal code.
func ParseReason(s string) (Reason, error) {
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
	for r, n := range reasonNames {
		if strings.ToLower(n) == norm || fmt.Sprint(uint8(r)) == norm {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown revocation reason %q", ErrInvalid, s)
}
