package acme

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestValidateFromHostsFile validates names the hosts file knows
// (localhost, in any case) against servers on loopback, as the system
// resolves them: with no resolver configured (no DNS server is asked, and
// none here knows localhost) and with a configured DNS server that does
// not know the name. dns-01 asks DNS only: the hosts file has no TXT.
func TestValidateFromHostsFile(t *testing.T) {
	env := newChallengeEnv(t) // its DNS server knows no localhost
	token := NewToken()
	ka := env.keyAuth(t, token)
	httpL := listen(t, "127.0.0.1:0")
	serveHTTP(t, httpL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/acme-challenge/"+token {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, ka)
	}), false)
	cert := must(env.client.TLSALPN01ChallengeCert(token, "localhost"))
	tlsPort := serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, "localhost", true))

	for _, tc := range []struct {
		name, typ, host string
		resolver        string // "" is the system resolver
		want            ProblemType
	}{
		{name: "ok/http-01/system-resolver", typ: ChallengeHTTP01, host: "localhost"},
		{name: "ok/tls-alpn-01/system-resolver", typ: ChallengeTLSALPN01, host: "localhost"},
		{name: "ok/http-01/mixed-case", typ: ChallengeHTTP01, host: "LocalHost"},
		{name: "ok/http-01/configured-resolver", typ: ChallengeHTTP01, host: "localhost", resolver: env.dns.Addr},
		{name: "ok/tls-alpn-01/configured-resolver", typ: ChallengeTLSALPN01, host: "localhost", resolver: env.dns.Addr},
		{name: "fail/dns-01/no-txt-in-hosts-file", typ: ChallengeDNS01, host: "localhost", resolver: env.dns.Addr, want: ErrDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewValidator(ValidatorConfig{HTTPPort: port(httpL), TLSPort: tlsPort, Resolver: tc.resolver, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = v.Validate(context.Background(), tc.typ, Identifier{IdentifierDNS, tc.host}, token, ka)
			if p := wantProblem(t, err, tc.want); p != nil {
				t.Logf("%s: %s", p.Type.Name(), p.Detail)
			}
		})
	}
}
