package ocsp

import (
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/ocsp"
)

// opensslBin finds openssl; the tests need it (make tools / apt-get
// install openssl) and fail, never skip, without it.
func opensslBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required by the OCSP interoperability tests (apt-get install openssl): %v", err)
	}
	return bin
}

// files writes PEM files for openssl into a temporary directory.
type files struct{ dir string }

func (f files) pem(t *testing.T, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// write writes data as is (e.g. what GET /v1/ocsp/responder.pem serves).
func (f files) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f files) path(name string) string { return filepath.Join(f.dir, name) }

// runOpenSSL runs `openssl ocsp args...` and returns its combined output.
func runOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(opensslBin(t), append([]string{"ocsp"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl ocsp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var verdictLine = regexp.MustCompile(`(?m)cert\.pem: (good|revoked|unknown)$`)

// opensslVerdict checks openssl's output: the signature verified and the
// certificate's status line; it returns the status and the whole output.
func opensslVerdict(t *testing.T, out string) string {
	t.Helper()
	m := verdictLine.FindStringSubmatch(out)
	if !strings.Contains(out, "Response verify OK") || m == nil {
		t.Fatalf("openssl did not verify a status:\n%s", out)
	}
	return m[1]
}

// opensslVariant is one way a relying party runs openssl against the
// responder.
type opensslVariant struct {
	name  string
	hash  string // digest option for the CertID ("" = openssl's SHA-1 default)
	get   func(t *testing.T, l *ledger, f files, args []string) string
	nonce bool // the request carries a nonce that must come back
}

var opensslVariants = []opensslVariant{
	{"post/nonce", "", postOpenSSL, true},
	{"post/no-nonce/sha256", "-sha256", postOpenSSL, false},
	{"get/url-encoded", "", getOpenSSL(url.PathEscape), false},
	{"get/raw-base64/sha256", "-sha256", getOpenSSL(func(s string) string { return s }), false},
}

// postOpenSSL lets openssl POST the request itself.
func postOpenSSL(t *testing.T, l *ledger, _ files, args []string) string {
	return runOpenSSL(t, append(args, "-url", l.srv.URL+"/ocsp")...)
}

// getOpenSSL has openssl write the request (OpenSSL 3's ocsp client only
// POSTs), fetches it with GET as nginx would, and has openssl verify and
// print the response (-respin). GET variants send no nonce.
func getOpenSSL(escape func(string) string) func(*testing.T, *ledger, files, []string) string {
	return func(t *testing.T, l *ledger, f files, args []string) string {
		runOpenSSL(t, append(args, "-reqout", f.path("req.der"))...)
		der, err := os.ReadFile(f.path("req.der"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(l.srv.URL + "/ocsp/" + escape(base64.StdEncoding.EncodeToString(der)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || os.WriteFile(f.path("resp.der"), body, 0o600) != nil {
			t.Fatalf("GET: %v", err)
		}
		return runOpenSSL(t, append(args, "-respin", f.path("resp.der"))...)
	}
}

var opensslReasons = map[int]string{ocsp.KeyCompromise: "keyCompromise", ocsp.Superseded: "superseded", ocsp.CertificateHold: "certificateHold"}

// checkOpenSSL asks openssl about e in variant v and checks the verdict,
// the reason and the nonce. The responder is trusted with -VAfile, a
// delegated signer through its CA alone with -CAfile.
func (l *ledger) checkOpenSSL(t *testing.T, e expect, v opensslVariant) {
	t.Helper()
	f := files{t.TempDir()}
	args := []string{"-issuer", f.pem(t, "issuer.pem", e.s.issuer.Raw)}
	if v.hash != "" {
		args = append(args, v.hash)
	}
	args = append(args, "-cert", f.pem(t, "cert.pem", e.s.cert.Raw))
	if signer, root := l.signedBy(e); signer.Equal(l.pki.responder.Cert) {
		args = append(args, "-VAfile", f.write(t, "responder.pem", l.r.ResponderPEM()))
	} else {
		args = append(args, "-CAfile", f.pem(t, "member-ca.pem", root.Raw), "-no-CApath", "-no-CAstore")
	}
	if !v.nonce {
		args = append(args, "-no_nonce")
	}
	out := v.get(t, l, f, args)
	want := map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[e.status]
	if got := opensslVerdict(t, out); got != want {
		t.Fatalf("%s %s: openssl says %s, want %s:\n%s", e.s.name, v.name, got, want, out)
	}
	if e.status == ocsp.Revoked && !strings.Contains(out, "Reason: "+opensslReasons[e.reason]) {
		t.Fatalf("%s %s: want reason %s:\n%s", e.s.name, v.name, opensslReasons[e.reason], out)
	}
	if v.nonce && strings.Contains(out, "no nonce") {
		t.Fatalf("%s %s: nonce not echoed:\n%s", e.s.name, v.name, out)
	}
}

// TestLifecycleOpenSSL follows a self-signed and a CA-signed certificate
// through the lifecycle and asks `openssl ocsp` after each step, by POST
// (with and without a nonce) and by GET.
func TestLifecycleOpenSSL(t *testing.T) {
	opensslBin(t)
	l := newLedger(t, nil)
	pairs := map[string][2]subject{
		"self-signed": {l.selfSigned(t, "dev-1"), l.selfSigned(t, "dev-1")},
		"ca-signed":   {l.caSigned(t), l.caSigned(t)},
	}
	for name, p := range pairs {
		t.Run(name, func(t *testing.T) {
			for _, step := range lifecycle {
				if step.tx != nil {
					l.submit(t, *step.tx(p[0], p[1]))
				}
				for _, e := range step.want(p[0], p[1]) {
					for _, v := range opensslVariants {
						l.checkOpenSSL(t, e, v)
					}
				}
			}
		})
	}
}

// TestOpenSSLMultiCert: one openssl request for a self-signed and a
// CA-signed certificate gets one response, signed by the ledger responder
// (the issuers differ), answering both.
func TestOpenSSLMultiCert(t *testing.T) {
	opensslBin(t)
	l := newLedger(t, nil)
	self, leaf := l.selfSigned(t, "dev-multi"), l.caSigned(t)
	l.publish(t, self)
	l.publish(t, leaf)
	l.submit(t, certchain.Tx{Type: certchain.TxSuspend, Submitter: leaf.submitter, Target: leaf.id()})
	f := files{t.TempDir()}
	for _, nonce := range []string{"-nonce", "-no_nonce"} {
		out := runOpenSSL(t, "-issuer", f.pem(t, "self.pem", self.cert.Raw), "-cert", f.pem(t, "self.pem", self.cert.Raw),
			"-issuer", f.pem(t, "member-ca.pem", leaf.issuer.Raw), "-cert", f.pem(t, "leaf.pem", leaf.cert.Raw),
			"-VAfile", f.write(t, "responder.pem", l.r.ResponderPEM()), "-url", l.srv.URL+"/ocsp", nonce)
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "self.pem: good") ||
			!strings.Contains(out, "leaf.pem: revoked") || !strings.Contains(out, "Reason: certificateHold") {
			t.Fatalf("openssl %s:\n%s", nonce, out)
		}
	}
}
