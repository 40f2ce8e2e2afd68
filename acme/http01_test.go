package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/dnstest"
	xacme "golang.org/x/crypto/acme"
)

// challengeEnv is a DNS server with test names pointing at loopback and a
// client account (an x/crypto/acme client) whose key authorizations the
// validator expects.
type challengeEnv struct {
	dns    *dnstest.Server
	client *xacme.Client
}

func newChallengeEnv(t *testing.T) *challengeEnv {
	d := dnstest.New(t)
	d.Add(t,
		"svc.example.test. 60 IN A 127.0.0.1",
		"other.example.test. 60 IN A 127.0.0.1",
		"v6.example.test. 60 IN AAAA ::1",
		"txtonly.example.test. 60 IN TXT \"hello\"",
		"www.svc.example.test. 60 IN CNAME svc.example.test.",
	)
	return &challengeEnv{dns: d, client: &xacme.Client{Key: keyES256()}}
}

// keyAuth returns the key authorization of token, as the client computes it.
func (e *challengeEnv) keyAuth(t *testing.T, token string) string {
	t.Helper()
	ka, err := e.client.HTTP01ChallengeResponse(token)
	if err != nil {
		t.Fatal(err)
	}
	if ours, _ := KeyAuthorization(token, e.client.Key.Public()); ours != ka {
		t.Fatalf("key authorizations differ: %q vs %q", ours, ka)
	}
	return ka
}

func (e *challengeEnv) validator(t *testing.T, cfg ValidatorConfig) *Validator {
	t.Helper()
	if cfg.Resolver == "" {
		cfg.Resolver = e.dns.Addr
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// listen returns a loopback listener on network address addr ("127.0.0.1:0").
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serveHTTP serves h on l until the test ends.
func serveHTTP(t *testing.T, l net.Listener, h http.Handler, tls bool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
}

func TestValidateHTTP01(t *testing.T) {
	env := newChallengeEnv(t)
	httpL := listen(t, "127.0.0.1:0")
	tlsL := listen(t, "127.0.0.1:0")
	httpPort, tlsPort := port(httpL), port(tlsL)

	// Each case serves its own token; the handler records the Host header.
	mux := http.NewServeMux()
	var mu sync.Mutex
	hosts := map[string]string{}
	serve := func(token string, h http.HandlerFunc) {
		mux.HandleFunc("/.well-known/acme-challenge/"+token, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hosts[token] = r.Host
			mu.Unlock()
			h(w, r)
		})
	}
	serveHTTP(t, httpL, mux, false)
	serveHTTP(t, tlsL, mux, true)

	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) }
	}
	redirect := func(url string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, url, http.StatusFound) }
	}
	slowBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		fmt.Fprint(w, "partial")
		w.(http.Flusher).Flush()
		select { // until the validator hangs up
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}

	for _, tc := range []struct {
		name     string
		ident    Identifier
		handler  func(token, keyAuth string) http.HandlerFunc
		cfg      ValidatorConfig // HTTPPort, TLSPort default to the test servers
		want     ProblemType
		wantHost string // Host header the server saw
	}{
		{name: "ok/dns-name", ident: Identifier{"dns", "svc.example.test"}, wantHost: "svc.example.test",
			handler: func(_, ka string) http.HandlerFunc { return answer(ka) }},
		{name: "ok/trailing-whitespace", ident: Identifier{"dns", "svc.example.test"},
			handler: func(_, ka string) http.HandlerFunc { return answer(ka + " \r\n\t\n") }},
		{name: "ok/cname", ident: Identifier{"dns", "www.svc.example.test"}, wantHost: "www.svc.example.test",
			handler: func(_, ka string) http.HandlerFunc { return answer(ka) }},
		{name: "ok/upper-case-name-sent-as-spelled", ident: Identifier{"dns", "SVC.Example.TEST"}, wantHost: "SVC.Example.TEST",
			handler: func(_, ka string) http.HandlerFunc { return answer(ka) }},
		{name: "ok/ipv4", ident: Identifier{"ip", "127.0.0.1"}, wantHost: "127.0.0.1",
			handler: func(_, ka string) http.HandlerFunc { return answer(ka) }},
		{name: "ok/redirect-path", ident: Identifier{"dns", "svc.example.test"},
			handler: func(tok, ka string) http.HandlerFunc {
				serve(tok+"-moved", answer(ka))
				return redirect("/.well-known/acme-challenge/" + tok + "-moved")
			}},
		{name: "ok/redirect-to-https-on-tls-port", ident: Identifier{"dns", "svc.example.test"},
			handler: func(tok, ka string) http.HandlerFunc {
				serve(tok+"-tls", func(w http.ResponseWriter, r *http.Request) {
					if r.TLS == nil {
						http.Error(w, "want https", http.StatusBadRequest)
						return
					}
					fmt.Fprint(w, ka)
				})
				return redirect(fmt.Sprintf("https://other.example.test:%d/.well-known/acme-challenge/%s-tls", tlsPort, tok))
			}},
		{name: "fail/wrong-content", ident: Identifier{"dns", "svc.example.test"}, want: ErrUnauthorized,
			handler: func(tok, _ string) http.HandlerFunc { return answer(tok + ".not-the-thumbprint") }},
		{name: "fail/other-account-key", ident: Identifier{"dns", "svc.example.test"}, want: ErrUnauthorized,
			handler: func(tok, _ string) http.HandlerFunc {
				ka, _ := (&xacme.Client{Key: keyES256b()}).HTTP01ChallengeResponse(tok)
				return answer(ka)
			}},
		{name: "fail/leading-whitespace", ident: Identifier{"dns", "svc.example.test"}, want: ErrUnauthorized,
			handler: func(_, ka string) http.HandlerFunc { return answer(" " + ka) }},
		{name: "fail/not-found", ident: Identifier{"dns", "svc.example.test"}, want: ErrIncorrectResponse,
			handler: func(_, _ string) http.HandlerFunc { return http.NotFound }},
		{name: "fail/too-large", ident: Identifier{"dns", "svc.example.test"}, want: ErrIncorrectResponse,
			cfg:     ValidatorConfig{MaxResponseSize: 1024},
			handler: func(_, ka string) http.HandlerFunc { return answer(ka + strings.Repeat(" ", 2000)) }},
		{name: "fail/huge-headers", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			cfg: ValidatorConfig{MaxResponseSize: 1024},
			handler: func(_, ka string) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("X-Padding", strings.Repeat("x", 8000))
					fmt.Fprint(w, ka)
				}
			}},
		{name: "fail/redirect-other-port", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			handler: func(tok, _ string) http.HandlerFunc {
				return redirect(fmt.Sprintf("http://svc.example.test:%d/x", tlsPort))
			}},
		{name: "fail/redirect-https-on-http-port", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			handler: func(tok, _ string) http.HandlerFunc {
				return redirect(fmt.Sprintf("https://svc.example.test:%d/x", httpPort))
			}},
		{name: "fail/redirect-ftp", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			handler: func(tok, _ string) http.HandlerFunc { return redirect("ftp://svc.example.test/x") }},
		{name: "fail/redirect-loop", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			handler: func(tok, _ string) http.HandlerFunc { return redirect("/.well-known/acme-challenge/" + tok) }},
		{name: "fail/redirect-nxdomain", ident: Identifier{"dns", "svc.example.test"}, want: ErrDNS,
			handler: func(_, _ string) http.HandlerFunc {
				return redirect(fmt.Sprintf("http://gone.example.test:%d/x", httpPort))
			}},
		{name: "fail/nxdomain", ident: Identifier{"dns", "missing.example.test"}, want: ErrDNS},
		{name: "fail/no-address-records", ident: Identifier{"dns", "txtonly.example.test"}, want: ErrDNS},
		{name: "fail/connection-refused", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			cfg: ValidatorConfig{HTTPPort: refusedPort(t)}},
		{name: "fail/timeout-no-answer", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			cfg: ValidatorConfig{HTTPPort: blackhole(t), Timeout: 300 * time.Millisecond}},
		{name: "fail/timeout-slow-body", ident: Identifier{"dns", "svc.example.test"}, want: ErrConnection,
			cfg:     ValidatorConfig{Timeout: 300 * time.Millisecond},
			handler: func(_, _ string) http.HandlerFunc { return slowBody }},
		{name: "fail/dns-timeout", ident: Identifier{"dns", "svc.example.test"}, want: ErrDNS,
			cfg: ValidatorConfig{Resolver: silentUDP(t), Timeout: 300 * time.Millisecond}},
		{name: "fail/invalid-name", ident: Identifier{"dns", "svc.example.test/evil?"}, want: ErrMalformed},
		{name: "fail/wildcard", ident: Identifier{"dns", "*.svc.example.test"}, want: ErrMalformed},
		{name: "fail/ip-with-zone", ident: Identifier{"ip", "fe80::1%lo"}, want: ErrMalformed},
		{name: "fail/unknown-identifier-type", ident: Identifier{"email", "a@b"}, want: ErrUnsupportedIdentifier},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := NewToken()
			ka := env.keyAuth(t, token)
			if tc.handler != nil {
				serve(token, tc.handler(token, ka))
			}
			cfg := tc.cfg
			if cfg.HTTPPort == 0 {
				cfg.HTTPPort = httpPort
			}
			if cfg.TLSPort == 0 {
				cfg.TLSPort = tlsPort
			}
			v := env.validator(t, cfg)
			start := time.Now()
			err := v.Validate(context.Background(), ChallengeHTTP01, tc.ident, token, ka)
			if p := wantProblem(t, err, tc.want); p != nil {
				t.Logf("%s: %s", p.Type.Name(), p.Detail)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("validation took %s", elapsed)
			}
			if tc.wantHost != "" {
				mu.Lock()
				defer mu.Unlock()
				if hosts[token] != tc.wantHost {
					t.Errorf("Host header %q, want %q", hosts[token], tc.wantHost)
				}
			}
		})
	}
}

func TestValidateHTTP01IPv6(t *testing.T) {
	if !haveIPv6() {
		t.Skip("no IPv6 loopback")
	}
	env := newChallengeEnv(t)
	l := listen(t, "[::1]:0")
	token := NewToken()
	ka := env.keyAuth(t, token)
	serveHTTP(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/acme-challenge/"+token {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, ka)
	}), false)
	v := env.validator(t, ValidatorConfig{HTTPPort: port(l)})
	for _, ident := range []Identifier{{"ip", "::1"}, {"dns", "v6.example.test"}} {
		if err := v.ValidateHTTP01(context.Background(), ident, token, ka); err != nil {
			t.Errorf("%s: %v", ident, err)
		}
	}
}

// A cancelled context ends a validation at once.
func TestValidateHTTP01Cancelled(t *testing.T) {
	env := newChallengeEnv(t)
	v := env.validator(t, ValidatorConfig{HTTPPort: blackhole(t), Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := v.ValidateHTTP01(ctx, Identifier{"dns", "svc.example.test"}, NewToken(), "x")
	wantProblem(t, err, ErrConnection)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
}

func TestValidatorConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ValidatorConfig
		ok   bool
	}{
		{"ok/zero", ValidatorConfig{}, true},
		{"ok/all-set", ValidatorConfig{HTTPPort: 5002, TLSPort: 5001, Resolver: "127.0.0.1:5353", Timeout: time.Second, MaxResponseSize: 100}, true},
		{"ok/ipv6-resolver", ValidatorConfig{Resolver: "[::1]:53"}, true},
		{"fail/port-too-big", ValidatorConfig{HTTPPort: 70000}, false},
		{"fail/negative-port", ValidatorConfig{TLSPort: -1}, false},
		{"fail/resolver-without-port", ValidatorConfig{Resolver: "127.0.0.1"}, false},
		{"fail/negative-timeout", ValidatorConfig{Timeout: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewValidator(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("NewValidator: %v", err)
			}
		})
	}
	v, _ := NewValidator(ValidatorConfig{})
	if v.cfg.HTTPPort != 80 || v.cfg.TLSPort != 443 || v.cfg.Timeout != DefaultValidationTimeout || v.cfg.MaxResponseSize != DefaultMaxResponseSize || v.resolver != net.DefaultResolver {
		t.Errorf("defaults: %+v", v.cfg)
	}
	wantProblem(t, v.Validate(context.Background(), "tls-sni-01", Identifier{"dns", "a.test"}, "t", "k"), ErrMalformed)
}
