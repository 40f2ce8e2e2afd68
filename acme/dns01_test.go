package acme

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/dnstest"
	"github.com/miekg/dns"
	xacme "golang.org/x/crypto/acme"
)

func TestValidateDNS01(t *testing.T) {
	env := newChallengeEnv(t)
	for _, tc := range []struct {
		name  string
		ident Identifier
		// zone publishes the client's records; record is what
		// x/crypto/acme says to publish.
		zone   func(t *testing.T, d *dnstest.Server, token, record string)
		cfg    ValidatorConfig
		silent bool // ask a resolver that never answers
		want   ProblemType
	}{
		{name: "ok/record", ident: Identifier{"dns", "a.example.test"}, zone: func(t *testing.T, d *dnstest.Server, _, rec string) {
			d.Add(t, fmt.Sprintf("_acme-challenge.a.example.test. 60 IN TXT %q", rec))
		}},
		{name: "ok/one-of-several", ident: Identifier{"dns", "b.example.test"}, zone: func(t *testing.T, d *dnstest.Server, _, rec string) {
			d.Add(t, `_acme-challenge.b.example.test. 60 IN TXT "stale-record-from-last-month"`,
				fmt.Sprintf("_acme-challenge.b.example.test. 60 IN TXT %q", rec))
		}},
		{name: "ok/wildcard-uses-base-name", ident: Identifier{"dns", "*.c.example.test"}, zone: func(t *testing.T, d *dnstest.Server, _, rec string) {
			d.Add(t, fmt.Sprintf("_acme-challenge.c.example.test. 60 IN TXT %q", rec))
		}},
		{name: "ok/cname-delegation", ident: Identifier{"dns", "d.example.test"}, zone: func(t *testing.T, d *dnstest.Server, _, rec string) {
			d.Add(t, "_acme-challenge.d.example.test. 60 IN CNAME d.validation.example.test.",
				fmt.Sprintf("d.validation.example.test. 60 IN TXT %q", rec))
		}},
		{name: "ok/upper-case-name", ident: Identifier{"dns", "E.Example.Test"}, zone: func(t *testing.T, d *dnstest.Server, _, rec string) {
			d.Add(t, fmt.Sprintf("_acme-challenge.e.example.test. 60 IN TXT %q", rec))
		}},
		{name: "fail/wrong-record", ident: Identifier{"dns", "f.example.test"}, want: ErrUnauthorized,
			zone: func(t *testing.T, d *dnstest.Server, token, _ string) {
				other, _ := (&xacme.Client{Key: keyES256b()}).DNS01ChallengeRecord(token)
				d.Add(t, fmt.Sprintf("_acme-challenge.f.example.test. 60 IN TXT %q", other))
			}},
		{name: "fail/key-authorization-not-hashed", ident: Identifier{"dns", "g.example.test"}, want: ErrUnauthorized,
			zone: func(t *testing.T, d *dnstest.Server, token, _ string) {
				d.Add(t, fmt.Sprintf("_acme-challenge.g.example.test. 60 IN TXT %q", env.keyAuth(t, token)))
			}},
		{name: "fail/nxdomain", ident: Identifier{"dns", "h.example.test"}, want: ErrDNS},
		{name: "fail/no-txt-record", ident: Identifier{"dns", "i.example.test"}, want: ErrDNS,
			zone: func(t *testing.T, d *dnstest.Server, _, _ string) {
				d.Add(t, "_acme-challenge.i.example.test. 60 IN A 127.0.0.1")
			}},
		{name: "fail/servfail", ident: Identifier{"dns", "j.example.test"}, want: ErrDNS,
			zone: func(t *testing.T, d *dnstest.Server, _, _ string) {
				d.FailWith("_acme-challenge.j.example.test", dns.RcodeServerFailure)
			}},
		{name: "fail/refused", ident: Identifier{"dns", "k.example.test"}, want: ErrDNS,
			zone: func(t *testing.T, d *dnstest.Server, _, _ string) {
				d.FailWith("_acme-challenge.k.example.test", dns.RcodeRefused)
			}},
		{name: "fail/resolver-timeout", ident: Identifier{"dns", "a.example.test"}, want: ErrDNS, silent: true,
			cfg: ValidatorConfig{Timeout: 300 * time.Millisecond}},
		{name: "fail/ip-identifier", ident: Identifier{"ip", "127.0.0.1"}, want: ErrMalformed},
		{name: "fail/invalid-name", ident: Identifier{"dns", "a..example.test"}, want: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dnstest.New(t)
			token := NewToken()
			ka := env.keyAuth(t, token)
			rec, err := env.client.DNS01ChallengeRecord(token)
			if err != nil {
				t.Fatal(err)
			}
			if tc.zone != nil {
				tc.zone(t, d, token, rec)
			}
			cfg := tc.cfg
			cfg.Resolver = d.Addr
			if tc.silent {
				cfg.Resolver = silentUDP(t)
			}
			v := env.validator(t, cfg)
			start := time.Now()
			err = v.Validate(context.Background(), ChallengeDNS01, tc.ident, token, ka)
			if p := wantProblem(t, err, tc.want); p != nil {
				t.Logf("%s: %s", p.Type.Name(), p.Detail)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("validation took %s", elapsed)
			}
		})
	}
}
