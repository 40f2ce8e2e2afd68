package validator_test

import (
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestValidity(t *testing.T) {
	now, day, year := vt.Now, 24*time.Hour, 365*24*time.Hour
	window := func(nb, na time.Time) vt.Option { return vt.WithValidity(nb, na) }
	noExpiry := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	runCheck(t, []certCase{
		{name: "ok/current", make: self(window(now.Add(-day), now.Add(year)))},
		{name: "ok/expires-at-block-time", make: self(window(now.Add(-day), now))},
		{name: "ok/starts-at-block-time", make: self(window(now, now.Add(year)))},
		{name: "ok/starts-within-clock-skew", make: self(window(now.Add(23*time.Hour), now.Add(year)))},
		{name: "ok/starts-at-clock-skew", make: self(window(now.Add(day), now.Add(year)))},
		{name: "ok/exactly-max-validity", make: self(window(now.Add(-time.Hour), now.Add(-time.Hour+20*year)))},
		{name: "ok/ca-signed-within-clock-skew", make: leaf(window(now.Add(12*time.Hour), now.Add(year)))},
		{name: "fail/not-before-after-not-after", make: self(window(now.Add(time.Hour), now.Add(-time.Hour))),
			rule: validator.RuleValidity, detail: "is after notAfter"},
		{name: "fail/expired", make: self(window(now.Add(-year), now.Add(-time.Second))), rule: validator.RuleExpired, detail: "before 2030-06-01T12:00:00Z"},
		{name: "fail/not-yet-valid", make: self(window(now.Add(25*time.Hour), now.Add(year))), rule: validator.RuleNotYetValid, detail: "more than 24h0m0s"},
		{name: "fail/validity-too-long", make: self(window(now.Add(-time.Hour), now.Add(21*year))), rule: validator.RuleValidityTooLong},
		{name: "fail/no-well-defined-expiration", make: self(window(now.Add(-time.Hour), noExpiry)), rule: validator.RuleValidityTooLong},
		{name: "fail/ca-signed-expired", make: leaf(window(now.Add(-year), now.Add(-time.Hour))), rule: validator.RuleExpired},
		{name: "fail/longer-than-policy", make: self(window(now.Add(-time.Hour), now.Add(2*year))), rule: validator.RuleValidityTooLong,
			opts: func(o *validator.Options) { o.Policy.MaxValidity = certchain.Duration(year) }, detail: "exceeds the policy's 8760h0m0s"},
		{name: "ok/zero-clock-skew-is-default", make: self(window(now.Add(time.Hour), now.Add(year))),
			opts: func(o *validator.Options) { o.Policy.ClockSkew = 0 }},
	})
}
