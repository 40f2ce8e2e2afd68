package main

import (
	"crypto/x509"
	"path/filepath"
	"strconv"
	"testing"

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
	domains := make([]string, len(cases))
	for i, tc := range cases {
		domains[i] = tc.domain
	}
	a, caBundle := startForClient(t, httpPort, tlsPort, domains...)
	memberCA := a.Network.MemberCA

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			run := func(args ...string) {
				t.Helper()
				global := []string{"--server", a.APIURL + "/acme/directory", "--accept-tos", "--email", "ops@example.test",
					"--path", home, "--key-type", tc.keyType, "-d", tc.domain}
				runClient(t, home, []string{"LEGO_CA_CERTIFICATES=" + caBundle}, nil, lego, append(append(global, tc.challenge...), args...)...)
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
