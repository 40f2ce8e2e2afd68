package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/pki"
	cocsp "github.com/certchain/certchain/ocsp"
	"golang.org/x/crypto/ocsp"
)

// memberCA is a CA whose key no node holds, with files a CA member
// keeps on its own machine.
type memberCA struct {
	cert              *x509.Certificate
	key               crypto.Signer
	certFile, keyFile string
}

func newMemberCA(t *testing.T, name string) *memberCA {
	t.Helper()
	key, _ := pki.GenerateKey(pki.KeyP256)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte(name)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &memberCA{key: key}
	ca.cert, _ = x509.ParseCertificate(der)
	dir := t.TempDir()
	ca.certFile, ca.keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	keyPEM, _ := pki.EncodeKeyPEM(key)
	writeFile(t, ca.certFile, pki.EncodeCertPEM(der))
	writeFile(t, ca.keyFile, keyPEM)
	return ca
}

// leaf issues a TLS server certificate for host and writes it.
func (ca *memberCA) leaf(t *testing.T, host string) (*x509.Certificate, string) {
	t.Helper()
	key, _ := pki.GenerateKey(pki.KeyP256)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), host+".pem")
	writeFile(t, file, pki.EncodeCertPEM(der))
	c, _ := x509.ParseCertificate(der)
	return c, file
}

// startCluster starts n in-process development nodes sharing node1's
// network: node1 founds the cluster, the others join it as voters.
func startCluster(t *testing.T, n int) []*App {
	t.Helper()
	apps := []*App{startAppWith(t, t.TempDir(), nil)}
	for i := 2; i <= n; i++ {
		apps = append(apps, startAppWith(t, t.TempDir(), func(c *Config) {
			c.NodeID, c.Network, c.Join = "node"+string(rune('0'+i)), apps[0].Network.Dir, apps[0].HTTPSURL
		}))
	}
	for _, a := range apps[1:] {
		pollFor(t, 30*time.Second, a.Config.NodeID+" in the cluster", func() error {
			return a.Node.State().WaitHeight(t.Context(), apps[0].Node.State().Head().Height)
		})
	}
	return apps
}

// askOCSP asks url about cert and verifies the answer trusting only ca.
func askOCSP(url string, cert, ca *x509.Certificate) (*ocsp.Response, error) {
	req, err := ocsp.CreateRequest(cert, ca, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.Get(url + "/" + base64.StdEncoding.EncodeToString(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	return ocsp.ParseResponseForCert(body.Bytes(), cert, ca)
}

// opensslCAOnly runs `openssl ocsp` trusting only caFile (no system store)
// and returns the certificate's status, failing unless the response
// verified.
func opensslCAOnly(t *testing.T, url, caFile, certFile string) string {
	t.Helper()
	out, err := exec.Command(requireTool(t, "openssl"), "ocsp", "-CAfile", caFile, "-no-CApath", "-no-CAstore",
		"-issuer", caFile, "-cert", certFile, "-url", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Response verify OK") {
		t.Fatalf("openssl ocsp -CAfile %s -url %s: %v\n%s", caFile, url, err, out)
	}
	for _, st := range []string{"good", "revoked", "unknown"} {
		if strings.Contains(string(out), certFile+": "+st) {
			return st
		}
	}
	t.Fatalf("openssl printed no status:\n%s", out)
	return ""
}

// signersOf reads a node's GET /v1/ocsp/signers.
func signersOf(t *testing.T, a *App) []cocsp.SignerInfo {
	t.Helper()
	var v struct{ Signers []cocsp.SignerInfo }
	if err := json.Unmarshal(httpGet(t, a.HTTPURL+"/v1/ocsp/signers"), &v); err != nil {
		t.Fatal(err)
	}
	return v.Signers
}

// TestOCSPDelegateCommand is a CA member's path on a three-node cluster:
// its CA key stays on its machine, so at first no node can answer OCSP
// for its certificates in a way a relying party trusting only that CA
// accepts; `certchain ocsp delegate` issues each node a delegate for the
// node's own key and registers it on the ledger; then every node's
// answer verifies with openssl and x/crypto trusting the CA alone, each
// signed by its own node's delegate, through revocation.
func TestOCSPDelegateCommand(t *testing.T) {
	apps := startCluster(t, 3)
	dir := apps[0].Config.DataDir
	ca := newMemberCA(t, "CA C root")
	idCert, idKey := identity(t, "ca-c")
	mustCLI(t, dir, "member", "add", "ca-c", "--as", "admin", "--role", "ca", "--identity", idCert, "--ca-cert", ca.certFile)
	leaf, leafFile := ca.leaf(t, "gw.op-c.example")
	mustCLI(t, dir, "publish", "--quiet", "--cert", idCert, "--key", idKey, leafFile)
	for _, a := range apps {
		if _, err := askOCSP(a.HTTPURL+"/ocsp", leaf, ca.cert); err == nil {
			t.Fatalf("%s: an answer verified with CA C before any delegation", a.Config.NodeID)
		}
	}

	out := mustCLI(t, dir, "ocsp", "delegate", "--ca-cert", ca.certFile, "--ca-key", ca.keyFile, "--validity", "72h",
		"--cert", idCert, "--key", idKey)
	if strings.Count(out, "accepted") != 3 {
		t.Fatalf("ocsp delegate:\n%s", out)
	}
	keys := map[string]bool{}
	for _, a := range apps {
		r, err := askOCSP(a.HTTPURL+"/ocsp", leaf, ca.cert)
		if err != nil || r.Status != ocsp.Good || r.Certificate.Subject.CommonName != "certchain OCSP "+a.Config.NodeID {
			t.Fatalf("%s: %v %+v", a.Config.NodeID, err, r)
		}
		if d := r.Certificate.NotAfter.Sub(r.Certificate.NotBefore); d != 73*time.Hour {
			t.Fatalf("%s: delegate valid for %s", a.Config.NodeID, d)
		}
		keys[string(r.Certificate.RawSubjectPublicKeyInfo)] = true
		if st := opensslCAOnly(t, a.HTTPURL+"/ocsp", ca.certFile, leafFile); st != "good" {
			t.Fatalf("%s: openssl says %s", a.Config.NodeID, st)
		}
	}
	if len(keys) != 3 {
		t.Fatalf("%d delegate keys for 3 nodes", len(keys))
	}
	mustCLI(t, dir, "revoke", "--cert", idCert, "--key", idKey, "--reason", "keyCompromise", leafFile)
	for _, a := range apps {
		pollFor(t, 10*time.Second, a.Config.NodeID+" revoked", func() error {
			if st := opensslCAOnly(t, a.HTTPURL+"/ocsp", ca.certFile, leafFile); st != "revoked" {
				return fmt.Errorf("openssl says %s", st)
			}
			return nil
		})
	}
	if out := mustCLI(t, dir, "ocsp", "signers"); strings.Count(out, "ledger") < 3 {
		t.Fatalf("ocsp signers:\n%s", out)
	}
}

// TestOCSPDelegateHostile: registrations the ledger must refuse (a
// delegate another CA issued, one lacking id-kp-OCSPSigning, one
// registered by a member that is not its CA's) are refused with a
// problem document on every node's API, move no ledger and change no
// node's signers.
func TestOCSPDelegateHostile(t *testing.T) {
	apps := startCluster(t, 2)
	dir := apps[0].Config.DataDir
	ca, stranger := newMemberCA(t, "CA D root"), newMemberCA(t, "stranger root")
	idCert, idKey := identity(t, "ca-d")
	mustCLI(t, dir, "member", "add", "ca-d", "--as", "admin", "--role", "ca", "--identity", idCert, "--ca-cert", ca.certFile)
	csr := nodeCSR(t, apps[1])
	now := time.Now()
	issue := func(c *memberCA, ekus ...x509.ExtKeyUsage) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: csr.Subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: ekus,
			ExtraExtensions: []pkix.Extension{{Id: []int{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, Value: []byte{5, 0}}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
		if err != nil {
			t.Fatal(err)
		}
		return pki.EncodeCertPEM(der)
	}
	before := make([]int, len(apps))
	for i, a := range apps {
		before[i] = len(signersOf(t, a))
	}
	head := apps[0].Node.State().Head()
	for _, c := range []struct {
		name, as string
		body     []byte
		want     string
	}{
		{"fail/issued-by-a-stranger", "ca-d", issue(stranger, x509.ExtKeyUsageOCSPSigning), "ocsp-delegate"},
		{"fail/no-ocsp-signing", "ca-d", issue(ca, x509.ExtKeyUsageServerAuth), "ocsp-delegate"},
		{"fail/another-members-ca", "ca", issue(ca, x509.ExtKeyUsageOCSPSigning), "ocsp-delegate"},
		{"fail/not-a-ca-member", "vendor", issue(ca, x509.ExtKeyUsageOCSPSigning), "role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cli *http.Client
			if c.as == "ca-d" {
				kp, err := tls.LoadX509KeyPair(idCert, idKey)
				if err != nil {
					t.Fatal(err)
				}
				cli = httpsClientWithCert(t, apps[0], kp)
			} else {
				cli = httpsClient(t, apps[0], c.as)
			}
			resp, err := cli.Post(apps[0].HTTPSURL+"/v1/ocsp/delegates", "application/x-pem-file", bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var p struct{ Type, Detail string }
			_ = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("HTTP %d %s %+v, want a problem naming %s", resp.StatusCode, resp.Header.Get("Content-Type"), p, c.want)
			}
		})
	}
	if h := apps[0].Node.State().Head(); h.Height != head.Height {
		t.Fatalf("refused registrations moved the ledger from %d to %d", head.Height, h.Height)
	}
	for i, a := range apps {
		if n := len(signersOf(t, a)); n != before[i] {
			t.Fatalf("%s: %d signers, %d before", a.Config.NodeID, n, before[i])
		}
	}
}

// nodeCSR fetches a node's delegate key request.
func nodeCSR(t *testing.T, a *App) *x509.CertificateRequest {
	t.Helper()
	b, _ := pem.Decode(httpGet(t, a.HTTPURL+"/v1/ocsp/delegate-request.pem"))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatal("no PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("delegate request: %v", err)
	}
	return csr
}

// TestDevNodeACMEOCSPWithCAOnly: a development node started the ordinary
// way answers OCSP for the certificates its ACME CA issues with a
// delegate of that CA (the generated "ca" member's CA, which it holds),
// so openssl and x/crypto trusting only network/member-ca/ca.pem verify
// good and then revoked; /v1/ocsp/signers and /metrics report the
// delegate. A self-signed device certificate keeps the ledger responder,
// which OpenSSL accepts trusted directly (-VAfile) but not through the
// network CA alone: what docs/relying-party.md tells relying parties.
func TestDevNodeACMEOCSPWithCAOnly(t *testing.T) {
	ch := newChallengeServers(t)
	const name = "stapled.certchain.test"
	ch.host(t, name)
	a := startACMEApp(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeAccount(t, ctx, a, newKey(t, "p256"))
	ders, _, err := c.CreateOrderCert(ctx, ch.readyOrder(t, ctx, c, name).FinalizeURL, csrFor(t, newKey(t, "p256"), name), false)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ders[0])
	leafFile, caFile := filepath.Join(t.TempDir(), "leaf.pem"), a.Network.MemberCAFile
	writeFile(t, leafFile, pki.EncodeCertPEM(ders[0]))
	if st := opensslCAOnly(t, leaf.OCSPServer[0], caFile, leafFile); st != "good" {
		t.Fatalf("openssl says %s", st)
	}
	r, err := askOCSP(leaf.OCSPServer[0], leaf, a.Network.MemberCA)
	if err != nil || r.Status != ocsp.Good || r.Certificate.Subject.CommonName != "certchain OCSP node1" {
		t.Fatalf("x/crypto trusting the ACME CA only: %v %+v", err, r)
	}
	var auto *cocsp.SignerInfo
	for _, s := range signersOf(t, a) {
		if s.Source == cocsp.SourceAuto && s.Active {
			auto = &s
		}
	}
	if auto == nil || !auto.NotAfter.Equal(r.Certificate.NotAfter) {
		t.Fatalf("signers: no active auto delegate matching the answer's (%v)", auto)
	}
	if m := string(httpGet(t, a.HTTPURL+"/metrics")); !strings.Contains(m, `certchain_ocsp_signer_expiry_timestamp_seconds{issuer="`) ||
		!strings.Contains(m, `role="delegate",source="auto"}`) {
		t.Fatal("no delegate expiry in /metrics")
	}
	if err := c.RevokeCert(ctx, nil, ders[0], 1); err != nil {
		t.Fatal(err)
	}
	if st := opensslCAOnly(t, leaf.OCSPServer[0], caFile, leafFile); st != "revoked" {
		t.Fatalf("after revocation openssl says %s", st)
	}

	// A self-signed device: the ledger responder signs.
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, a.Config.DataDir, "device", "new", "--count", "1", "--out", devs)
	dev := filepath.Join(devs, "DEV-0000001.pem")
	mustCLI(t, a.Config.DataDir, "publish", "--quiet", dev)
	openssl := requireTool(t, "openssl")
	url := a.HTTPURL + "/ocsp"
	out, err := exec.Command(openssl, "ocsp", "-CAfile", a.Network.CAFile, "-no-CApath", "-no-CAstore", "-issuer", dev, "-cert", dev, "-url", url).CombinedOutput()
	if err == nil || strings.Contains(string(out), "Response verify OK") {
		t.Fatalf("openssl verified the ledger responder through the network CA alone:\n%s", out)
	}
	responder := filepath.Join(t.TempDir(), "responder.pem")
	writeFile(t, responder, httpGet(t, a.HTTPURL+"/v1/ocsp/responder.pem"))
	out, err = exec.Command(openssl, "ocsp", "-VAfile", responder, "-issuer", dev, "-cert", dev, "-url", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), dev+": good") {
		t.Fatalf("openssl -VAfile responder.pem: %v\n%s", err, out)
	}
}

// TestOCSPMalformedPath: on the node's plain listener, a GET path net/http
// cannot parse gets an OCSP malformedRequest, not a plain-text 400.
func TestOCSPMalformedPath(t *testing.T) {
	a := startApp(t, t.TempDir())
	for _, path := range []string{"/ocsp/%%", "/ocsp/MEow%zz", "/ocsp/%"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.HTTPURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		conn.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" ||
			!bytes.Equal(body.Bytes(), []byte{0x30, 0x03, 0x0a, 0x01, 0x01}) {
			t.Fatalf("GET %s: %s %q %x", path, resp.Status, resp.Header.Get("Content-Type"), body.Bytes())
		}
	}
}

// TestOCSPDelegateSurvivesRestart: a delegate registered on the ledger
// signs again after the node restarts (it is found by the node's key in
// its data directory), and re-running the command renews it.
func TestOCSPDelegateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	ca := newMemberCA(t, "CA E root")
	idCert, idKey := identity(t, "ca-e")
	mustCLI(t, dir, "member", "add", "ca-e", "--as", "admin", "--role", "ca", "--identity", idCert, "--ca-cert", ca.certFile)
	leaf, leafFile := ca.leaf(t, "gw.op-e.example")
	mustCLI(t, dir, "publish", "--quiet", "--cert", idCert, "--key", idKey, leafFile)
	delegate := func(validity string) *x509.Certificate {
		// --node: the restarted node listens on another port than the
		// cluster configuration recorded.
		mustCLI(t, dir, "ocsp", "delegate", "--ca-cert", ca.certFile, "--ca-key", ca.keyFile, "--cert", idCert, "--key", idKey,
			"--node", a.HTTPSURL, "--validity", validity)
		r, err := askOCSP(a.HTTPURL+"/ocsp", leaf, ca.cert)
		if err != nil || r.Status != ocsp.Good {
			t.Fatalf("%v %+v", err, r)
		}
		return r.Certificate
	}
	first := delegate("720h")
	_ = a.Close()
	a = startApp(t, dir)
	r, err := askOCSP(a.HTTPURL+"/ocsp", leaf, ca.cert)
	if err != nil || !r.Certificate.Equal(first) {
		t.Fatalf("after a restart: %v, signer %v", err, r)
	}
	if again := delegate("721h"); again.Equal(first) || again.NotAfter.Before(first.NotAfter) ||
		string(again.RawSubjectPublicKeyInfo) != string(first.RawSubjectPublicKeyInfo) {
		t.Fatal("re-running the command did not renew the delegate for the same node key")
	}
}
