package main

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// TestACMEWithCertbot runs the Debian certbot against a node: certonly
// with its standalone http-01 server on the port the node validates on,
// for an ECDSA and an RSA certificate key; the issued certificate names the
// domain, verifies to the member CA and is good on the ledger's OCSP; then
// `certbot revoke` (by the account key, and by the certificate's own key)
// makes it revoked for keyCompromise. certbot works only in temporary
// directories and trusts the network CA for the node's HTTPS API.
func TestACMEWithCertbot(t *testing.T) {
	certbot := requireTool(t, "certbot")
	const domain = "certbot.certchain.test"
	port := freePort(t)
	a, caBundle := startForClient(t, port, 0, domain)
	memberCA := a.Network.MemberCA

	cases := []struct {
		keyType         string
		algo            x509.PublicKeyAlgorithm
		revokeByCertKey bool
	}{
		{"ecdsa", x509.ECDSA, false},
		{"rsa", x509.RSA, true},
	}
	for _, tc := range cases {
		t.Run(tc.keyType, func(t *testing.T) {
			home := t.TempDir()
			dirs := []string{"--config-dir", filepath.Join(home, "config"), "--work-dir", filepath.Join(home, "work"),
				"--logs-dir", filepath.Join(home, "logs")}
			run := func(args ...string) {
				t.Helper()
				args = append(append(args, dirs...), "--server", a.APIURL+"/acme/directory", "--non-interactive", "-v")
				// XDG_CONFIG_HOME keeps certbot's per-user cli.ini lookups in
				// the temporary directory too.
				runClient(t, home, []string{"REQUESTS_CA_BUNDLE=" + caBundle, "XDG_CONFIG_HOME=" + filepath.Join(home, "xdg")},
					func() string {
						log, _ := os.ReadFile(filepath.Join(home, "logs", "letsencrypt.log"))
						return "\n--- letsencrypt.log ---\n" + string(log)
					}, certbot, args...)
			}

			run("certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
				"--http-01-port", strconv.Itoa(port), "--http-01-address", "127.0.0.1",
				"--key-type", tc.keyType, "--cert-name", domain, "-d", domain)

			live := filepath.Join(home, "config", "live", domain)
			certs := readCertsPEM(t, filepath.Join(live, "cert.pem"))
			chain := readCertsPEM(t, filepath.Join(live, "chain.pem"))
			full := readCertsPEM(t, filepath.Join(live, "fullchain.pem"))
			if len(certs) != 1 || len(chain) == 0 {
				t.Fatalf("cert.pem has %d certificates, chain.pem %d", len(certs), len(chain))
			}
			if want := append(slices.Clone(certs), chain...); len(full) != len(want) || !slices.EqualFunc(full, want, (*x509.Certificate).Equal) {
				t.Fatalf("fullchain.pem is not cert.pem followed by chain.pem")
			}
			leaf := certs[0]
			if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
				t.Fatalf("chain.pem starts with %s, not the leaf's issuer: %v", chain[0].Subject, err)
			}
			checkIssued(t, a, leaf, chain, domain, tc.algo)

			revoke := []string{"revoke", "--cert-path", filepath.Join(live, "cert.pem"), "--reason", "keycompromise", "--no-delete-after-revoke"}
			if tc.revokeByCertKey {
				revoke = append(revoke, "--key-path", filepath.Join(live, "privkey.pem"))
			}
			run(revoke...)
			r := ocspOf(t, a, leaf, memberCA)
			if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
				t.Fatalf("OCSP after certbot revoke: status %d reason %d", r.Status, r.RevocationReason)
			}
		})
	}
}
