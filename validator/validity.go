package validator

import (
	"fmt"
	"time"
)

// checkValidity checks the validity period (RFC 5280 §4.1.2.5) against
// Options.Now, the block time:
//
//   - "validity": NotBefore must not be after NotAfter;
//   - "expired": NotAfter must not be before Now;
//   - "not-yet-valid": NotBefore may be at most Policy.ClockSkew after Now
//     (factory clocks drift; a device certificate made on the line a few
//     hours "early" is still accepted);
//   - "validity-too-long": NotAfter - NotBefore may be at most
//     Policy.MaxValidity (so the RFC 5280 "no well-defined expiration"
//     value 99991231235959Z is refused).
func checkValidity(in *input) error {
	nb, na, now := in.cert.NotBefore, in.cert.NotAfter, in.opts.Now
	switch {
	case nb.After(na):
		return ruleErr(RuleValidity, fmt.Sprintf("notBefore %s is after notAfter %s", stamp(nb), stamp(na)))
	case na.Before(now):
		return ruleErr(RuleExpired, fmt.Sprintf("notAfter %s is before %s", stamp(na), stamp(now)))
	case nb.After(now.Add(in.policy.ClockSkew.D())):
		return ruleErr(RuleNotYetValid, fmt.Sprintf("notBefore %s is more than %s after %s", stamp(nb), in.policy.ClockSkew.D(), stamp(now)))
	case na.Sub(nb) > in.policy.MaxValidity.D():
		return ruleErr(RuleValidityTooLong, fmt.Sprintf("validity of %s exceeds the policy's %s", na.Sub(nb), in.policy.MaxValidity.D()))
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
