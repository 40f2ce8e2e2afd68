package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certchain/certchain/internal/pki"
	"golang.org/x/crypto/ocsp"
)

// TestOCSPRelyingPartyWithOpenSSL is the security-gateway operator's path:
// a factory-made device certificate names the node's OCSP URL in its AIA;
// `openssl ocsp` asks that URL, verifies the response against the
// responder certificate fetched from the node, and sees each status change.
func TestOCSPRelyingPartyWithOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--count", "1", "--prefix", "SEGW-", "--out", devs)
	dev := filepath.Join(devs, "SEGW-0000001.pem")
	cert, _, err := pki.LoadKeyPair(dev, strings.TrimSuffix(dev, ".pem")+".key")
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != a.HTTPURL+"/ocsp" {
		t.Fatalf("AIA OCSP %v, want %s/ocsp", cert.OCSPServer, a.HTTPURL)
	}
	responder := filepath.Join(dir, "responder.pem")
	writeFile(t, responder, httpGet(t, a.HTTPURL+"/v1/ocsp/responder.pem"))
	ask := func(want string) {
		t.Helper()
		out, err := exec.Command(openssl, "ocsp", "-url", cert.OCSPServer[0], "-issuer", dev, "-cert", dev,
			"-VAfile", responder, "-resp_text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), dev+": "+want) {
			t.Fatalf("openssl ocsp, want %q: %v\n%s", want, err, out)
		}
	}
	ask("unknown") // not published yet: a relying party must refuse it
	mustCLI(t, dir, "publish", "--quiet", devs)
	ask("good")
	mustCLI(t, dir, "suspend", dev)
	ask("revoked")
	if out, _ := exec.Command(openssl, "ocsp", "-url", cert.OCSPServer[0], "-issuer", dev, "-cert", dev, "-VAfile", responder).CombinedOutput(); !strings.Contains(string(out), "certificateHold") {
		t.Fatalf("suspended: %s", out)
	}
	mustCLI(t, dir, "resume", dev)
	ask("good")
	mustCLI(t, dir, "revoke", "--reason", "keyCompromise", dev)
	ask("revoked")
}

// requireTool returns the path of a tool the test needs; `make test`
// installs it (make tools), so a missing tool is a failure, never a skip.
func requireTool(t testing.TB, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (make tools installs it): %v", name, err)
	}
	return p
}

func httpGet(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// ocspAnswer asks url about the self-signed certificate in certFile with
// golang.org/x/crypto/ocsp (GET) and returns the response, verified to come
// from a responder certificate issued by the network CA in caFile.
func ocspAnswer(t *testing.T, url, certFile, caFile string) *ocsp.Response {
	t.Helper()
	cert, err := x509.ParseCertificate(mustPEM(t, certFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(mustPEM(t, caFile))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.CreateRequest(cert, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := httpGet(t, url+"/"+base64.StdEncoding.EncodeToString(req))
	resp, err := ocsp.ParseResponseForCert(body, cert, ca)
	if err != nil {
		t.Fatalf("OCSP response from %s: %v", url, err)
	}
	return resp
}

func mustPEM(t *testing.T, file string) []byte {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	return blk.Bytes
}
