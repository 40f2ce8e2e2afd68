package validator

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// checkChain is rule "chain": a certificate that is not self-issued must
// have a certification path (RFC 5280 §6.1, as crypto/x509's Verify
// implements it: signatures, validity, basic constraints, path length,
// name constraints, critical extensions) from one of Options.Anchors
// through the transaction's intermediates, at most MaxChain of them.
// Any extended key usage is accepted: the ledger does not know what the
// certificate will be used for.
//
// It returns the member owning the anchor: if the certificate chains to the
// anchors of several members, the first anchor in Options.Anchors order
// wins, so every node picks the same. The intermediates of that path must
// meet rule "key-algorithm" too; the anchors were vetted by the genesis.
func checkChain(in *input, chain [][]byte) (string, *x509.Certificate, []*x509.Certificate, error) {
	if len(in.opts.Anchors) == 0 {
		return "", nil, nil, ruleErr(RuleChain, "no member CA is registered: only self-signed certificates can be published")
	}
	inter, err := parseChain(chain)
	if err != nil {
		return "", nil, nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range inter {
		pool.AddCert(c)
	}
	chains, err := in.cert.Verify(x509.VerifyOptions{
		Roots:         anchorPool(in.opts.Anchors),
		Intermediates: pool,
		CurrentTime:   verifyTime(in),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return "", nil, nil, chainError(err)
	}
	member, issuer, err := pickAnchor(in, chains)
	return member, issuer, inter, err
}

// verifyTime is Now, or the leaf's NotBefore when that lies within the
// clock skew rule "not-yet-valid" allowed: the chain must then be valid
// when the leaf becomes valid.
func verifyTime(in *input) time.Time {
	if nb := in.cert.NotBefore; nb.After(in.opts.Now) {
		return nb
	}
	return in.opts.Now
}

func parseChain(chain [][]byte) ([]*x509.Certificate, error) {
	if len(chain) > MaxChain {
		return nil, ruleErr(RuleChain, fmt.Sprintf("%d intermediates, at most %d allowed", len(chain), MaxChain))
	}
	out := make([]*x509.Certificate, 0, len(chain))
	for i, der := range chain {
		c, err := ParseDER(der)
		if err != nil {
			re := err.(*RuleError)
			return nil, &RuleError{Rule: RuleChain, Detail: fmt.Sprintf("intermediate %d: %s", i+1, re.Detail), Cause: re.Cause}
		}
		out = append(out, c)
	}
	return out, nil
}

func anchorPool(anchors []Anchor) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a.Cert)
	}
	return pool
}

// pickAnchor chooses among the verified chains by anchor order and
// returns the anchor's member and the leaf's issuer on that chain.
func pickAnchor(in *input, chains [][]*x509.Certificate) (string, *x509.Certificate, error) {
	for _, a := range in.opts.Anchors {
		for _, ch := range chains {
			if bytes.Equal(ch[len(ch)-1].Raw, a.Cert.Raw) {
				return a.Member, ch[1], checkIntermediateKeys(in, ch[1:len(ch)-1])
			}
		}
	}
	return "", nil, ruleErr(RuleChain, "does not chain to a member CA certificate")
}

func checkIntermediateKeys(in *input, inter []*x509.Certificate) error {
	for _, c := range inter {
		if reason := keyProblem(c, in.policy.MinRSABits); reason != "" {
			return ruleErr(RuleKeyAlgorithm, fmt.Sprintf("intermediate %s: %s", quoteShort(c.Subject.String()), reason))
		}
	}
	return nil
}

// invalidReasons words crypto/x509's reasons in this package's own stable
// terms (verdict reasons must not change with the Go version).
var invalidReasons = map[x509.InvalidReason]string{
	x509.NotAuthorizedToSign:           "is not a CA certificate",
	x509.Expired:                       "is expired or not yet valid",
	x509.CANotAuthorizedForThisName:    "is not authorized by its CA's name constraints",
	x509.TooManyIntermediates:          "exceeds a CA's path length constraint",
	x509.IncompatibleUsage:             "has an incompatible key usage",
	x509.NameConstraintsWithoutSANs:    "has no SANs to check against name constraints",
	x509.UnconstrainedName:             "has a name that name constraints cannot check",
	x509.TooManyConstraints:            "needs too many name constraint checks",
	x509.CANotAuthorizedForExtKeyUsage: "has an extended key usage its CA may not issue",
	x509.NoValidChains:                 "has no valid chain",
}

// chainError maps a Verify error to a RuleError with a stable detail.
func chainError(err error) *RuleError {
	var (
		invalid  x509.CertificateInvalidError
		critical x509.UnhandledCriticalExtension
		insecure x509.InsecureAlgorithmError
		detail   = "does not chain to a member CA certificate"
	)
	switch {
	case errors.As(err, &invalid) && invalid.Cert != nil:
		detail = fmt.Sprintf("%s %s", quoteShort(invalid.Cert.Subject.String()), reasonText(invalid.Reason))
	case errors.As(err, &critical):
		detail = "a chain certificate has an unhandled critical extension"
	case errors.As(err, &insecure):
		detail = fmt.Sprintf("a chain certificate is signed with the insecure algorithm %s", x509.SignatureAlgorithm(insecure))
	}
	return &RuleError{Rule: RuleChain, Detail: detail, Cause: err}
}

func reasonText(r x509.InvalidReason) string {
	if s, ok := invalidReasons[r]; ok {
		return s
	}
	return fmt.Sprintf("is invalid (reason %d)", int(r))
}
