package acme

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// serveTLS accepts TLS connections on a loopback listener with cfg, shakes
// hands and hangs up. It returns the port.
func serveTLS(t *testing.T, addr string, cfg *tls.Config) int {
	t.Helper()
	l := listen(t, addr)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = tls.Server(c, cfg).Handshake()
			}()
		}
	}()
	return port(l)
}

// serveRaw answers every TCP connection with reply and hangs up.
func serveRaw(t *testing.T, reply string) int {
	t.Helper()
	l := listen(t, "127.0.0.1:0")
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(reply))
			c.Close()
		}
	}()
	return port(l)
}

// alpnConfig serves cert to clients asking for acme-tls/1 with server name
// sni; alpn false leaves ALPN out of the server's config.
func alpnConfig(t *testing.T, cert tls.Certificate, sni string, alpn bool) *tls.Config {
	cfg := &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hello.ServerName != sni {
			t.Errorf("server name %q, want %q", hello.ServerName, sni)
			return nil, errors.New("unexpected server name")
		}
		if !slices.Equal(hello.SupportedProtos, []string{ALPNProto}) {
			t.Errorf("ALPN offer %q", hello.SupportedProtos)
		}
		return &cert, nil
	}}
	if alpn {
		cfg.NextProtos = []string{ALPNProto}
	}
	return cfg
}

// acmeExtension returns an id-pe-acmeIdentifier extension for keyAuth.
func acmeExtension(keyAuth string, critical bool) pkix.Extension {
	sum := sha256.Sum256([]byte(keyAuth))
	v, _ := asn1.Marshal(sum[:])
	return pkix.Extension{Id: OIDACMEIdentifier, Critical: critical, Value: v}
}

// handCert makes a certificate from tmpl with key, signed by signer (nil:
// self-signed), for the cases x/crypto/acme will not make.
func handCert(t *testing.T, tmpl *x509.Certificate, key crypto.Signer, signer crypto.Signer) tls.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(42)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent := tmpl
	if signer == nil {
		signer = key
	} else {
		parent = &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
			NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, IsCA: true, BasicConstraintsValid: true}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestValidateTLSALPN01(t *testing.T) {
	env := newChallengeEnv(t)
	const name, sni = "svc.example.test", "svc.example.test"
	svc := Identifier{"dns", name}

	for _, tc := range []struct {
		name  string
		ident Identifier
		// port starts the client's server for token and keyAuth.
		port func(t *testing.T, token, keyAuth string) int
		cfg  ValidatorConfig
		want ProblemType
	}{
		{name: "ok/dns", ident: svc, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, name))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "ok/rsa-certificate-key", ident: svc, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, name, xacme.WithKey(keyRS2048())))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "ok/mixed-case-server-name-as-spelled", ident: Identifier{"dns", "Svc.Example.TEST"}, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, name)) // names compare in any case
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, "Svc.Example.TEST", true))
		}},
		{name: "ok/ipv4-reverse-dns-server-name", ident: Identifier{"ip", "127.0.0.1"}, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, "127.0.0.1"))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, "1.0.0.127.in-addr.arpa", true))
		}},
		{name: "fail/other-account-key", ident: svc, want: ErrUnauthorized, port: func(t *testing.T, token, _ string) int {
			cert := must((&xacme.Client{Key: keyES256b()}).TLSALPN01ChallengeCert(token, name))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/certificate-for-another-name", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, "other.example.test"))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/ip-certificate-for-dns-name", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, "127.0.0.1"))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/two-names", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name, "other.example.test"},
				ExtraExtensions: []pkix.Extension{acmeExtension(ka, true)}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/extra-uri-name", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name}, URIs: []*url.URL{{Scheme: "spiffe", Host: "x"}},
				ExtraExtensions: []pkix.Extension{acmeExtension(ka, true)}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/missing-acme-extension", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, _ string) int {
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/acme-extension-not-critical", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name},
				ExtraExtensions: []pkix.Extension{acmeExtension(ka, false)}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/acme-extension-not-octet-string", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			v, _ := asn1.MarshalWithParams(DNS01Record(ka), "utf8")
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name},
				ExtraExtensions: []pkix.Extension{{Id: OIDACMEIdentifier, Critical: true, Value: v}}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/raw-digest-not-der", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			sum := sha256.Sum256([]byte(ka))
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name},
				ExtraExtensions: []pkix.Extension{{Id: OIDACMEIdentifier, Critical: true, Value: sum[:]}}}, keyES256b(), nil)
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/not-self-signed", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, _, ka string) int {
			cert := handCert(t, &x509.Certificate{DNSNames: []string{name},
				ExtraExtensions: []pkix.Extension{acmeExtension(ka, true)}}, keyES256b(), keyES384())
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, true))
		}},
		{name: "fail/no-alpn", ident: svc, want: ErrIncorrectResponse, port: func(t *testing.T, token, _ string) int {
			cert := must(env.client.TLSALPN01ChallengeCert(token, name))
			return serveTLS(t, "127.0.0.1:0", alpnConfig(t, cert, sni, false))
		}},
		{name: "fail/handshake-refused", ident: svc, want: ErrTLS, port: func(t *testing.T, _, _ string) int {
			return serveTLS(t, "127.0.0.1:0", &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return nil, errors.New("no certificate for you")
			}})
		}},
		{name: "fail/not-tls", ident: svc, want: ErrTLS, port: func(t *testing.T, _, _ string) int {
			return serveRaw(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		}},
		{name: "fail/connection-refused", ident: svc, want: ErrConnection, port: func(t *testing.T, _, _ string) int { return refusedPort(t) }},
		{name: "fail/timeout", ident: svc, want: ErrConnection, cfg: ValidatorConfig{Timeout: 300 * time.Millisecond},
			port: func(t *testing.T, _, _ string) int { return blackhole(t) }},
		{name: "fail/nxdomain", ident: Identifier{"dns", "missing.example.test"}, want: ErrDNS,
			port: func(t *testing.T, _, _ string) int { return refusedPort(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := NewToken()
			ka := env.keyAuth(t, token)
			cfg := tc.cfg
			cfg.TLSPort = tc.port(t, token, ka)
			v := env.validator(t, cfg)
			start := time.Now()
			err := v.Validate(context.Background(), ChallengeTLSALPN01, tc.ident, token, ka)
			if p := wantProblem(t, err, tc.want); p != nil {
				t.Logf("%s: %s", p.Type.Name(), p.Detail)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("validation took %s", elapsed)
			}
		})
	}
}

func TestValidateTLSALPN01IPv6(t *testing.T) {
	if !haveIPv6() {
		t.Skip("no IPv6 loopback")
	}
	env := newChallengeEnv(t)
	token := NewToken()
	ka := env.keyAuth(t, token)
	cert := must(env.client.TLSALPN01ChallengeCert(token, "::1"))
	const rev = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"
	p := serveTLS(t, "[::1]:0", alpnConfig(t, cert, rev, true))
	v := env.validator(t, ValidatorConfig{TLSPort: p})
	if err := v.ValidateTLSALPN01(context.Background(), Identifier{"ip", "::1"}, ka); err != nil {
		t.Fatal(err)
	}
}

func TestReverseName(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.1":   "1.2.0.192.in-addr.arpa",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", // RFC 3596 §2.5 style
	} {
		ident, err := checkIdentifier(Identifier{"ip", ip}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := reverseName(ident.ip); got != want {
			t.Errorf("reverseName(%s) = %s, want %s", ip, got, want)
		}
	}
}
