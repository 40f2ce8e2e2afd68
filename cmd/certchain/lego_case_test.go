package main

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/pki"
	xacme "golang.org/x/crypto/acme"
)

// mixedCase is an identifier as a person may type it: valid DNS, whose
// case a server must not change in the order (lego compares them).
const mixedCase = "Svc.Example.TEST"

// TestACMEMixedCaseWithXCrypto orders mixedCase with x/crypto/acme: the
// order and its authorization name the identifier exactly as sent, the
// CSR may spell it either way, and the certificate holds it in lower case
// (RFC 5280 §7.2 compares DNS names case-insensitively).
func TestACMEMixedCaseWithXCrypto(t *testing.T) {
	ch := newChallengeServers(t)
	ch.host(t, mixedCase)
	a := startACMEApp(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, csrName := range []string{mixedCase, strings.ToLower(mixedCase)} {
		t.Run("csr/"+csrName, func(t *testing.T) {
			c := acmeAccount(t, ctx, a, newKey(t, "p256"))
			o, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(mixedCase))
			if err != nil {
				t.Fatalf("new order: %v", err)
			}
			if want := xacme.DomainIDs(mixedCase); !slices.Equal(o.Identifiers, want) {
				t.Fatalf("order identifiers %+v, want %+v as sent", o.Identifiers, want)
			}
			az, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
			if err != nil || az.Identifier.Value != mixedCase {
				t.Fatalf("authorization identifier %+v (%v), want %q", az.Identifier, err, mixedCase)
			}
			ch.solve(t, ctx, c, o.AuthzURLs[0], "http-01")
			if o, err = c.WaitOrder(ctx, o.URI); err != nil || !slices.Equal(o.Identifiers, xacme.DomainIDs(mixedCase)) {
				t.Fatalf("ready order %+v: %v", o, err)
			}
			ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, newKey(t, "p256"), csrName), true)
			if err != nil {
				t.Fatalf("finalize with CSR for %s: %v", csrName, err)
			}
			leaf, err := x509.ParseCertificate(ders[0])
			if err != nil {
				t.Fatal(err)
			}
			checkIssued(t, a, leaf, nil, strings.ToLower(mixedCase), x509.ECDSA)
		})
	}
}

// TestACMECaseAndHostsWithLego runs the Debian lego for the two names
// people type that a CA may get wrong: mixedCase over http-01, where lego
// must see its own spelling in the authorization it solves (newer lego
// refuses an order whose identifiers differ from the request), and
// localhost over tls-alpn-01 on a node with no --acme-resolver, which
// finds it in the hosts file as the system does, without any DNS server.
func TestACMECaseAndHostsWithLego(t *testing.T) {
	lego := requireTool(t, "lego")
	cases := []struct {
		name, domain, stored string
		resolver             bool // a loopback DNS server knows the domain
		challenge            func(port int) []string
	}{
		{"http-01/mixed-case", mixedCase, strings.ToLower(mixedCase), true,
			func(p int) []string { return []string{"--http", "--http.port", "127.0.0.1:" + strconv.Itoa(p)} }},
		{"tls-alpn-01/localhost-from-hosts-file", "localhost", "localhost", false,
			func(p int) []string { return []string{"--tls", "--tls.port", "127.0.0.1:" + strconv.Itoa(p)} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			start := func() (*App, string) { return startWithSystemResolver(t, port) }
			if tc.resolver {
				start = func() (*App, string) { return startForClient(t, port, port, tc.domain) }
			}
			a, caBundle := start()
			home := t.TempDir()
			args := append([]string{"--server", a.APIURL + "/acme/directory", "--accept-tos", "--email", "ops@example.test",
				"--path", home, "--key-type", "ec256", "-d", tc.domain}, tc.challenge(port)...)
			out := runClient(t, home, []string{"LEGO_CA_CERTIFICATES=" + caBundle}, nil, lego, append(args, "run")...)
			if solving := "[" + tc.domain + "] acme: Trying to solve"; !strings.Contains(out, solving) {
				t.Fatalf("lego did not solve an authorization for %q as typed (no %q):\n%s", tc.domain, solving, out)
			}
			bundle := readCertsPEM(t, filepath.Join(home, "certificates", tc.domain+".crt"))
			if len(bundle) < 2 {
				t.Fatalf("lego stored %d certificates, want the leaf and its chain", len(bundle))
			}
			checkIssued(t, a, bundle[0], bundle[1:], tc.stored, x509.ECDSA)
		})
	}
}

// startWithSystemResolver starts a development node as an operator would
// without --acme-resolver, validating on port (http-01 and tls-alpn-01),
// and returns it with the network CA as a PEM file.
func startWithSystemResolver(t *testing.T, port int) (*App, string) {
	t.Helper()
	a := startAppWith(t, t.TempDir(), func(c *Config) { c.ACMEHTTPPort, c.ACMETLSPort = port, port })
	caBundle := filepath.Join(t.TempDir(), "network-ca.pem")
	writeFile(t, caBundle, pki.EncodeCertPEM(a.Network.CA.Raw))
	return a, caBundle
}
