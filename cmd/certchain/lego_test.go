package main

import (
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/dnstest"
	"github.com/certchain/certchain/internal/pki"
	"golang.org/x/crypto/ocsp"
)

// TestACMEWithLego runs the Debian lego (4.9.1, which has no ACME Renewal
// Information support) against a node as a second independent client: `run`
// with its own http-01 server for an ECDSA certificate and its own
// tls-alpn-01 server for an RSA one, on the ports the node validates on
// (--key-type also makes the account key, so the node sees ES256 and RS256
// requests); the stored bundle names the domain, verifies to the member CA
// and is good on the ledger's OCSP; `renew --days 100` (more than the
// certificate's 90) forces a new certificate with another serial, also good;
// `revoke --reason 1` makes it revoked for keyCompromise while the replaced
// one stays good. lego trusts the network CA for the node's HTTPS API
// through LEGO_CA_CERTIFICATES and keeps everything in a temporary directory.
func TestACMEWithLego(t *testing.T) {
	lego := requireTool(t, "lego")
	httpPort, tlsPort := freePort(t), freePort(t)
	cases := []struct {
		name, domain, keyType string
		algo                  x509.PublicKeyAlgorithm
		challenge             []string // lego's solver flags
	}{
		{"http-01/ec256", "lego-http.certchain.test", "ec256", x509.ECDSA,
			[]string{"--http", "--http.port", "127.0.0.1:" + strconv.Itoa(httpPort)}},
		{"tls-alpn-01/rsa2048", "lego-tls.certchain.test", "rsa2048", x509.RSA,
			[]string{"--tls", "--tls.port", "127.0.0.1:" + strconv.Itoa(tlsPort)}},
	}
	resolver := dnstest.New(t)
	for _, tc := range cases {
		resolver.Add(t, tc.domain+". 60 IN A 127.0.0.1")
	}
	a := startAppWith(t, t.TempDir(), func(c *Config) {
		c.ACMEHTTPPort, c.ACMETLSPort, c.ACMEResolver = httpPort, tlsPort, resolver.Addr
	})
	caBundle := filepath.Join(t.TempDir(), "network-ca.pem")
	writeFile(t, caBundle, pki.EncodeCertPEM(a.Network.CA.Raw))
	memberCA := a.Network.MemberCA

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			run := func(args ...string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				global := []string{"--server", a.APIURL + "/acme/directory", "--accept-tos", "--email", "ops@example.test",
					"--path", home, "--key-type", tc.keyType, "-d", tc.domain}
				global = append(global, tc.challenge...)
				cmd := exec.CommandContext(ctx, lego, append(global, args...)...)
				cmd.Env = append(os.Environ(), "LEGO_CA_CERTIFICATES="+caBundle, "HOME="+home,
					"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
				cmd.WaitDelay = 5 * time.Second
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("lego %s: %v (context: %v)\n--- output ---\n%s", strings.Join(cmd.Args[1:], " "), err, ctx.Err(), out)
				}
			}
			crt := filepath.Join(home, "certificates", tc.domain+".crt")
			// check verifies the bundle lego stored and returns its leaf.
			check := func(when string) *x509.Certificate {
				t.Helper()
				bundle := readCertsPEM(t, crt)
				if len(bundle) < 2 {
					t.Fatalf("%s: %s has %d certificates, want the leaf and its chain", when, crt, len(bundle))
				}
				leaf := bundle[0]
				checkIssued(t, a, leaf, bundle[1:], tc.domain, tc.algo)
				return leaf
			}

			run("run")
			first := check("after lego run")

			// lego 4.9.1 renews by its own --days threshold only (no ARI);
			// --no-random-sleep skips the up-to-8-minute jitter it adds
			// when stdout is not a terminal.
			run("renew", "--days", "100", "--no-random-sleep")
			renewed := check("after lego renew")
			if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Fatalf("lego renew kept serial %x", first.SerialNumber)
			}

			run("revoke", "--reason", "1", "--keep")
			r := ocspOf(t, a, renewed, memberCA)
			if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
				t.Fatalf("OCSP after lego revoke: status %d reason %d", r.Status, r.RevocationReason)
			}
			if r := ocspOf(t, a, first, memberCA); r.Status != ocsp.Good {
				t.Fatalf("OCSP of the replaced certificate after revoking its renewal: status %d", r.Status)
			}
		})
	}
}
