package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/devnet"
	"github.com/certchain/certchain/internal/pki"
	"golang.org/x/crypto/ocsp"
)

// reloadMetric is the certchain_cert_reload_total sample of a pair and result.
func reloadMetric(what, result string) string {
	return fmt.Sprintf("certchain_cert_reload_total{result=%q,what=%q}", result, what)
}

// TestReloadKeepsConnectionsAndSwapsSigners is the operator's rotation on
// one node, through App.Hangup (what SIGHUP delivers): a keep-alive HTTPS
// connection made before the reload goes on with the old certificate;
// every new handshake gets the new one; the very OCSP request answered
// from the cache before is answered by the new responder afterwards,
// which relying parties trusting the network CA accept, and openssl
// accepts it with the new responder.pem.
func TestReloadKeepsConnectionsAndSwapsSigners(t *testing.T) {
	openssl := requireTool(t, "openssl")
	dir := t.TempDir()
	hup := make(chan os.Signal, 1)
	logs := &lockedBuffer{}
	a := startAppTuned(t, dir, nil, func(a *App) {
		a.Hangup, a.certPoll = hup, time.Hour
		a.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	nw := a.Network
	dev, devFile := publishedDevice(t, dir, "GW-")
	req, err := ocsp.CreateRequest(dev, dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	ocspURL := a.HTTPURL + "/ocsp/" + base64.StdEncoding.EncodeToString(req)
	oldNode, oldResponder := parseCertFile(t, nw.NodeCertFile), parseCertFile(t, nw.OCSPCertFile)
	answeredBy(t, ocspURL, dev, nw.CA, oldResponder)
	answeredBy(t, ocspURL, dev, nw.CA, oldResponder) // from the cache now

	keepAlive := httpsClient(t, a, "")
	if got := httpsGet(t, keepAlive, a.HTTPSURL); got.reused || !got.server.Equal(oldNode) {
		t.Fatalf("first request: %+v", got)
	}
	newNode := reissue(t, nw, nw.NodeCertFile, nw.NodeKeyFile)
	newResponder := reissue(t, nw, nw.OCSPCertFile, nw.OCSPKeyFile)
	hup <- syscall.SIGHUP
	pollFor(t, 30*time.Second, "the new node certificate", func() error { return serves(a.HTTPSURL, newNode) })

	t.Run("ok/keep-alive-connection-survives", func(t *testing.T) {
		if got := httpsGet(t, keepAlive, a.HTTPSURL); !got.reused || !got.server.Equal(oldNode) {
			t.Fatalf("after the reload: reused %v, server %q serial %x; want the old connection", got.reused, got.server.Subject, got.server.SerialNumber)
		}
	})
	t.Run("ok/new-handshake-new-certificate", func(t *testing.T) {
		if got := httpsGet(t, httpsClient(t, a, ""), a.HTTPSURL); got.reused || !got.server.Equal(newNode) {
			t.Fatalf("new connection: server serial %x, want %x", got.server.SerialNumber, newNode.SerialNumber)
		}
		if err := serves(rawRaftAddr(a), newNode); err != nil {
			t.Fatalf("raft listener: %v", err)
		}
	})
	t.Run("ok/ocsp-answered-by-new-responder", func(t *testing.T) {
		answeredBy(t, ocspURL, dev, nw.CA, newResponder)
		pemFile := filepath.Join(t.TempDir(), "responder.pem")
		writeFile(t, pemFile, httpGet(t, a.HTTPURL+"/v1/ocsp/responder.pem"))
		if !parseCertFile(t, pemFile).Equal(newResponder) {
			t.Fatal("/v1/ocsp/responder.pem serves the old responder")
		}
		out, err := exec.Command(openssl, "ocsp", "-url", a.HTTPURL+"/ocsp", "-issuer", devFile, "-cert", devFile,
			"-VAfile", pemFile, "-no_nonce").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), devFile+": good") {
			t.Fatalf("openssl ocsp with the new responder: %v\n%s", err, out)
		}
	})
	t.Run("ok/logged-and-counted", func(t *testing.T) {
		for _, what := range []string{"node-tls", "ocsp-responder"} {
			if v := scrapeMetric(t, a.HTTPURL+"/metrics", reloadMetric(what, "ok")); v != 1 {
				t.Errorf("%s reloads ok = %v, want 1", what, v)
			}
		}
		if n := strings.Count(logs.String(), `msg="certificate reloaded"`); n != 2 {
			t.Errorf("%d reloads logged, want 2:\n%s", n, logs)
		}
	})
}

// TestReloadRefusesBadFiles: a bad replacement of either pair, on SIGHUP,
// leaves the node answering with the pair it had, logs why at error level
// and counts it.
func TestReloadRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	hup := make(chan os.Signal, 1)
	logs := &lockedBuffer{}
	a := startAppTuned(t, dir, nil, func(a *App) {
		a.Hangup, a.certPoll = hup, time.Hour
		a.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	nw := a.Network
	dev, _ := publishedDevice(t, dir, "GW-")
	req, _ := ocsp.CreateRequest(dev, dev, nil)
	ocspURL := a.HTTPURL + "/ocsp/" + base64.StdEncoding.EncodeToString(req)
	node, responder := parseCertFile(t, nw.NodeCertFile), parseCertFile(t, nw.OCSPCertFile)
	saved := map[string][]byte{}
	for _, f := range []string{nw.NodeCertFile, nw.NodeKeyFile, nw.OCSPCertFile, nw.OCSPKeyFile} {
		saved[f] = fileBytes(t, f)
	}
	otherKey, _ := pki.EncodeKeyPEM(mustKey(t))
	cases := []struct {
		name, what        string
		certFile, keyFile string
		cert, key         []byte // nil: as saved
		reason            string
	}{
		{"fail/node-key-mismatch", "node-tls", nw.NodeCertFile, nw.NodeKeyFile, nil, otherKey, "does not match"},
		{"fail/node-garbage", "node-tls", nw.NodeCertFile, nw.NodeKeyFile, []byte("garbage\n"), nil, "PEM"},
		{"fail/node-truncated", "node-tls", nw.NodeCertFile, nw.NodeKeyFile, saved[nw.NodeCertFile][:200], nil, "PEM"},
		{"fail/node-expired", "node-tls", nw.NodeCertFile, nw.NodeKeyFile, nil, nil, "expired"},
		{"fail/node-of-another-network", "node-tls", nw.NodeCertFile, nw.NodeKeyFile, nil, nil, "not a node certificate of this network"},
		{"fail/ocsp-key-mismatch", "ocsp-responder", nw.OCSPCertFile, nw.OCSPKeyFile, nil, otherKey, "does not match"},
		{"fail/ocsp-truncated-key", "ocsp-responder", nw.OCSPCertFile, nw.OCSPKeyFile, nil, saved[nw.OCSPKeyFile][:100], "PEM"},
		{"fail/ocsp-expired", "ocsp-responder", nw.OCSPCertFile, nw.OCSPKeyFile, nil, nil, "expired"},
		{"fail/ocsp-from-another-ca", "ocsp-responder", nw.OCSPCertFile, nw.OCSPKeyFile, nil, nil, "not by"},
	}
	other, err := devnet.Create(filepath.Join(t.TempDir(), "other"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]float64{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := tc.cert, tc.key
			switch {
			case strings.HasSuffix(tc.name, "expired"):
				cert, key = issueLike(t, nw, tc.certFile, func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
				})
			case strings.HasSuffix(tc.name, "another-network"), strings.HasSuffix(tc.name, "another-ca"):
				cert, key = issueLike(t, other, tc.certFile, nil)
			}
			if cert == nil {
				cert = saved[tc.certFile]
			}
			if key == nil {
				key = saved[tc.keyFile]
			}
			replace(t, tc.certFile, cert)
			replace(t, tc.keyFile, key)
			hup <- syscall.SIGHUP
			refused[tc.what]++
			pollFor(t, 30*time.Second, "the refusal counted", func() error {
				if v := scrapeMetric(t, a.HTTPURL+"/metrics", reloadMetric(tc.what, "error")); v != refused[tc.what] {
					return fmt.Errorf("errors counted: %v", v)
				}
				return nil
			})
			if err := serves(a.HTTPSURL, node); err != nil {
				t.Fatal(err)
			}
			answeredBy(t, ocspURL, dev, nw.CA, responder)
			line := lastLine(logs.String(), "certificate reload refused")
			if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "what="+tc.what) || !strings.Contains(line, tc.reason) {
				t.Fatalf("log line does not say why (%q): %s", tc.reason, line)
			}
			replace(t, tc.certFile, saved[tc.certFile])
			replace(t, tc.keyFile, saved[tc.keyFile])
		})
	}
	for _, what := range []string{"node-tls", "ocsp-responder"} {
		if v := scrapeMetric(t, a.HTTPURL+"/metrics", reloadMetric(what, "ok")); v != 0 {
			t.Errorf("%s reloads ok = %v, want 0", what, v)
		}
	}
}

// TestReloadWhenFilesChange: with no signal at all, a node takes new
// files once they stop changing.
func TestReloadWhenFilesChange(t *testing.T) {
	a := startAppTuned(t, t.TempDir(), nil, func(a *App) { a.certPoll = 20 * time.Millisecond })
	nw := a.Network
	newNode := reissue(t, nw, nw.NodeCertFile, nw.NodeKeyFile)
	pollFor(t, 30*time.Second, "the new node certificate", func() error { return serves(a.HTTPSURL, newNode) })
}

// TestReloadClusterKeepsReplicating: both nodes of a cluster take new node
// certificates; writes still replicate, every Raft and HTTPS listener
// presents the new certificate, and a node that joins afterwards (Raft
// connections made only with new certificates) replicates too. That the
// Raft connections made before a reload stay up is shown on the transport
// itself (raftstore.TestRaftTLSCertificateGetter).
func TestReloadClusterKeepsReplicating(t *testing.T) {
	hups := []chan os.Signal{make(chan os.Signal, 1), make(chan os.Signal, 1)}
	first := startAppTuned(t, t.TempDir(), nil, func(a *App) { a.Hangup, a.certPoll = hups[0], time.Hour })
	second := startAppTuned(t, t.TempDir(), func(c *Config) {
		c.NodeID, c.Network, c.Join = "node2", first.Network.Dir, first.HTTPSURL
	}, func(a *App) { a.Hangup, a.certPoll = hups[1], time.Hour })
	apps := []*App{first, second}
	dir := first.Config.DataDir
	publishedDevice(t, dir, "BEFORE-")
	waitReplicated(t, apps)

	nw := first.Network // node2 runs with node1's network directory, so with the same files
	newNode := reissue(t, nw, nw.NodeCertFile, nw.NodeKeyFile)
	for i, a := range apps {
		hups[i] <- syscall.SIGHUP
		pollFor(t, 30*time.Second, a.Config.NodeID+" reloaded", func() error { return serves(a.HTTPSURL, newNode) })
		if err := serves(rawRaftAddr(a), newNode); err != nil {
			t.Fatalf("%s raft listener: %v", a.Config.NodeID, err)
		}
	}
	publishedDevice(t, dir, "AFTER-")
	waitReplicated(t, apps)
	// A node joining now has Raft connections made only with the new
	// certificates, on its side and on the leader's.
	third := startAppWith(t, t.TempDir(), func(c *Config) {
		c.NodeID, c.Network, c.Join = "node3", first.Network.Dir, first.HTTPSURL
	})
	publishedDevice(t, dir, "JOINED-")
	waitReplicated(t, append(apps, third))
}

func waitReplicated(t *testing.T, apps []*App) {
	t.Helper()
	h := apps[0].Node.State().Head().Height
	for _, a := range apps[1:] {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := a.Node.State().WaitHeight(ctx, h)
		cancel()
		if err != nil {
			t.Fatalf("%s did not reach height %d: %v", a.Config.NodeID, h, err)
		}
	}
}

// TestSIGHUPReloadsRunningNode is the real trigger: `kill -HUP` on a
// running `certchain node` process.
func TestSIGHUPReloadsRunningNode(t *testing.T) {
	bin, dir := buildBinary(t), t.TempDir()
	node := startProcess(t, bin, dir)
	url := readProfileURL(t, dir)
	nw, err := devnet.Load(filepath.Join(dir, "network"))
	if err != nil {
		t.Fatal(err)
	}
	var profile clientProfile
	if err := json.Unmarshal(fileBytes(t, clientFile(dir)), &profile); err != nil {
		t.Fatal(err)
	}
	metrics := profile.ReadURL + "/metrics"
	newNode := reissue(t, nw, nw.NodeCertFile, nw.NodeKeyFile)
	if err := node.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 30*time.Second, "the new node certificate", func() error { return serves(url, newNode) })
	if v := scrapeMetric(t, metrics, reloadMetric("node-tls", "ok")); v != 1 {
		t.Fatalf("node-tls reloads ok = %v, want 1", v)
	}
	if v := scrapeMetric(t, metrics, reloadMetric("ocsp-responder", "unchanged")); v != 1 {
		t.Fatalf("ocsp-responder reloads unchanged = %v, want 1", v)
	}
	otherKey, _ := pki.EncodeKeyPEM(mustKey(t))
	replace(t, nw.NodeKeyFile, otherKey)
	if err := node.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pollFor(t, 30*time.Second, "the refusal", func() error {
		if v := scrapeMetric(t, metrics, reloadMetric("node-tls", "error")); v != 1 {
			return fmt.Errorf("errors counted: %v", v)
		}
		return nil
	})
	if err := serves(url, newNode); err != nil {
		t.Fatalf("after a refused reload: %v", err)
	}
}

// --- helpers ---

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func lastLine(logs, substr string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], substr) {
			return lines[i]
		}
	}
	return ""
}

// publishedDevice makes one device certificate (its name starting with
// prefix) and publishes it on the node in dir.
func publishedDevice(t *testing.T, dir, prefix string) (*x509.Certificate, string) {
	t.Helper()
	devs := t.TempDir()
	mustCLI(t, dir, "device", "new", "--count", "1", "--prefix", prefix, "--out", devs)
	mustCLI(t, dir, "publish", "--quiet", devs)
	files, _ := filepath.Glob(filepath.Join(devs, "*.pem"))
	if len(files) != 1 {
		t.Fatalf("devices: %v", files)
	}
	return parseCertFile(t, files[0]), files[0]
}

// answeredBy asks url (a GET OCSP request) and checks the answer names and
// was signed by want, which ca issued (x/crypto checks both).
func answeredBy(t *testing.T, url string, cert, ca, want *x509.Certificate) {
	t.Helper()
	resp, err := ocsp.ParseResponseForCert(httpGet(t, url), cert, ca)
	if err != nil {
		t.Fatalf("OCSP: %v", err)
	}
	if resp.Certificate == nil || !resp.Certificate.Equal(want) {
		t.Fatalf("answered by %v, want serial %x", certSerial(resp.Certificate), want.SerialNumber)
	}
	if resp.Status != ocsp.Good {
		t.Fatalf("status %d, want good", resp.Status)
	}
}

func certSerial(c *x509.Certificate) string {
	if c == nil {
		return "no certificate"
	}
	return "serial " + c.SerialNumber.Text(16)
}

// tlsExchange is what one HTTPS request saw.
type tlsExchange struct {
	server *x509.Certificate
	reused bool
}

func httpsGet(t *testing.T, c *http.Client, base string) tlsExchange {
	t.Helper()
	var e tlsExchange
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { e.reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, base+"/healthz", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	e.server = resp.TLS.PeerCertificates[0]
	return e
}

// serves checks that a new TLS handshake with addr (a URL or host:port)
// gets want.
func serves(addr string, want *x509.Certificate) error {
	addr = strings.TrimPrefix(addr, "https://")
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the certificate is compared below
	if err != nil {
		return err
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(want) {
		return fmt.Errorf("%s presents serial %x, want %x", addr, got.SerialNumber, want.SerialNumber)
	}
	return nil
}

func rawRaftAddr(a *App) string {
	host, _, _ := strings.Cut(string(a.Node.RaftAddr()), "|")
	return host
}

// reissue replaces certFile and keyFile with a new key and a certificate
// like the one there (subject, names, usages), issued by the network CA,
// and returns it.
func reissue(t *testing.T, nw *devnet.Network, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM := issueLike(t, nw, certFile, nil)
	replace(t, certFile, certPEM)
	replace(t, keyFile, keyPEM)
	return parseCertFile(t, certFile)
}

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// issueLike issues, with issuer's network CA, a certificate like the one
// in certFile (subject, names, usages, ocsp-nocheck) for a new key (tweak
// changes the template), as PEM.
func issueLike(t *testing.T, issuer *devnet.Network, certFile string, tweak func(*x509.Certificate)) (certPEM, keyPEM []byte) {
	t.Helper()
	old := parseCertFile(t, certFile)
	ca, caKey, err := pki.LoadKeyPair(issuer.CAFile, issuer.CAKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: old.Subject, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: old.KeyUsage, ExtKeyUsage: old.ExtKeyUsage, BasicConstraintsValid: true,
		DNSNames: old.DNSNames, IPAddresses: old.IPAddresses, URIs: old.URIs}
	for _, e := range old.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: e.Id, Value: e.Value})
		}
	}
	if tweak != nil {
		tweak(tmpl)
	}
	key := mustKey(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertPEM(der), keyPEM
}

func mustKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replace writes path as an operator should: a new file renamed over it.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := writeAtomic(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
