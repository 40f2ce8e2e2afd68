package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestACMEWithDehydrated runs the Debian dehydrated (0.7.0, an ACME client
// in bash over curl and openssl) against a node as a third independent
// client. dehydrated has no challenge server of its own: for http-01 it
// writes the key authorizations into its WELLKNOWN directory, which the test
// serves under /.well-known/acme-challenge/ on the loopback port the node
// validates on. `--register --accept-terms` makes an account (dehydrated
// signs with an RSA account key of KEYSIZE bits, so the node sees RS256);
// `-c -d` issues a P-384 certificate (KEY_ALGO) that names the domain,
// verifies through chain.pem to the member CA and is good on the ledger's
// OCSP; a second `-c` leaves it alone (not due); `-c --force` renews it
// under another serial, also good; `--revoke` (by the account, with no
// reason) makes the renewal revoked, reason unspecified, while the replaced
// one stays good. dehydrated keeps everything in a temporary directory,
// reads only the config given with -f, and trusts the network CA for the
// node's HTTPS API through curl's CURL_CA_BUNDLE.
func TestACMEWithDehydrated(t *testing.T) {
	dehydrated := requireTool(t, "dehydrated")
	const domain = "dehydrated.certchain.test"

	home := t.TempDir()
	wellKnown := filepath.Join(home, "wellknown")
	if err := os.Mkdir(wellKnown, 0o755); err != nil {
		t.Fatal(err)
	}
	// The http-01 responder: dehydrated's token files, as a web server
	// pointed at WELLKNOWN would serve them on port 80.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/acme-challenge/", http.StripPrefix("/.well-known/acme-challenge/", http.FileServer(http.Dir(wellKnown))))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	a, caBundle := startForClient(t, port, 0, domain)
	memberCA := a.Network.MemberCA

	baseDir := filepath.Join(home, "base")
	if err := os.Mkdir(baseDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// dehydrated sources its config as bash; %q quotes the paths.
	cfg := filepath.Join(home, "config")
	writeFile(t, cfg, []byte(fmt.Sprintf(`CA=%q
BASEDIR=%q
WELLKNOWN=%q
CHALLENGETYPE="http-01"
KEY_ALGO="secp384r1"
KEYSIZE="2048"
CONTACT_EMAIL="ops@example.test"
IP_VERSION="4"
`, a.APIURL+"/acme/directory", baseDir, wellKnown)))

	run := func(args ...string) string {
		t.Helper()
		return runClient(t, home, []string{"CURL_CA_BUNDLE=" + caBundle, "SSL_CERT_FILE=" + caBundle}, nil,
			dehydrated, append(args, "-f", cfg)...)
	}

	live := filepath.Join(baseDir, "certs", domain)
	// check verifies what dehydrated stored and returns the leaf.
	check := func(when string) *x509.Certificate {
		t.Helper()
		certs := readCertsPEM(t, filepath.Join(live, "cert.pem"))
		chain := readCertsPEM(t, filepath.Join(live, "chain.pem"))
		full := readCertsPEM(t, filepath.Join(live, "fullchain.pem"))
		if len(certs) != 1 || len(chain) == 0 || len(full) != 1+len(chain) {
			t.Fatalf("%s: cert.pem has %d certificates, chain.pem %d, fullchain.pem %d", when, len(certs), len(chain), len(full))
		}
		leaf := certs[0]
		if !full[0].Equal(leaf) {
			t.Fatalf("%s: fullchain.pem does not start with cert.pem", when)
		}
		if err := leaf.CheckSignatureFrom(chain[0]); err != nil {
			t.Fatalf("%s: chain.pem starts with %s, not the leaf's issuer: %v", when, chain[0].Subject, err)
		}
		checkIssued(t, a, leaf, chain, domain, x509.ECDSA)
		if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
			t.Fatalf("%s: certificate key %T is not the P-384 key of KEY_ALGO=secp384r1", when, leaf.PublicKey)
		}
		return leaf
	}

	run("--register", "--accept-terms")
	run("-c", "-d", domain)
	first := check("after dehydrated -c")
	if entries, _ := os.ReadDir(wellKnown); len(entries) != 0 {
		t.Errorf("dehydrated left %d challenge files in WELLKNOWN", len(entries))
	}

	// Not due for renewal (RENEW_DAYS 30 of 90): nothing new.
	if out := run("-c", "-d", domain); !strings.Contains(out, "Skipping renew") {
		t.Fatalf("second dehydrated -c did not skip the renewal:\n%s", out)
	}
	run("-c", "-d", domain, "--force")
	renewed := check("after dehydrated -c --force")
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("dehydrated --force kept serial %x", first.SerialNumber)
	}

	// --revoke renames the file it revokes to cert-<timestamp>.pem-revoked.
	run("--revoke", filepath.Join(live, "cert.pem"))
	r := ocspOf(t, a, renewed, memberCA)
	if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Unspecified {
		t.Fatalf("OCSP after dehydrated --revoke: status %d reason %d", r.Status, r.RevocationReason)
	}
	if r := ocspOf(t, a, first, memberCA); r.Status != ocsp.Good {
		t.Fatalf("OCSP of the replaced certificate after revoking its renewal: status %d", r.Status)
	}
}
