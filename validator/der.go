package validator

import (
	"crypto/x509"
	"fmt"
)

// MaxCertSize bounds the DER size of one certificate (16 KiB).
//
// Device certificates are 0.4–2 KiB; an RSA-8192 certificate with a
// hundred SANs still fits in 8 KiB. 16 KiB leaves room for real-world
// extensions while bounding what a single transaction can make every node
// parse and store: a full block (certchain.DefaultPolicy: 2000 txs) stays
// under 32 MiB of certificates.
const MaxCertSize = 16 << 10

// ParseDER parses one DER certificate strictly (rule "der", RFC 5280 §4.1
// with X.690 DER): it must be non-empty, at most MaxCertSize bytes, and
// parse with crypto/x509, which rejects BER encodings and trailing data.
func ParseDER(der []byte) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, ruleErr(RuleDER, "empty certificate")
	}
	if len(der) > MaxCertSize {
		return nil, ruleErr(RuleDER, fmt.Sprintf("certificate is %d bytes, more than the %d allowed", len(der), MaxCertSize))
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &RuleError{Rule: RuleDER, Detail: "not a valid DER X.509 certificate", Cause: err}
	}
	return c, nil
}
