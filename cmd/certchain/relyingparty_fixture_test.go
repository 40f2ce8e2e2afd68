package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/devnet"
	"github.com/certchain/certchain/internal/pki"
	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/ocsp"
)

// rpLedger is a running node with a way to put certificates signed by one
// CA on its ledger and to revoke them, for relying parties configured the
// ordinary way: trusting that issuing CA (caFile) and nothing else.
type rpLedger struct {
	a      *App
	ca     *x509.Certificate
	caFile string
	issue  func(t *testing.T, name string) *rpCert
	revoke func(t *testing.T, c *rpCert)
}

// rpCert is a certificate on the ledger for one DNS name, with its key,
// stored as a TLS or IKE peer stores them: the leaf (certFile), the leaf
// and its chain (chainFile), the PKCS#8 key (keyFile).
type rpCert struct {
	name                         string
	leaf, issuer                 *x509.Certificate
	ders                         [][]byte // leaf, then its chain
	key                          crypto.Signer
	certFile, chainFile, keyFile string
}

// rpScenarios are the two ways a node comes to answer OCSP for a
// CA-signed certificate that relying parties accept with only the CA as
// trust.
var rpScenarios = []struct {
	name  string
	start func(t *testing.T) *rpLedger
}{
	// The node's ACME server issues: the node holds the issuing CA's key
	// and signs OCSP answers about its certificates with a delegated
	// signer of that CA, with no configuration at all.
	{"acme-default", acmeRPLedger},
	// A CA member keeps its key, signs offline and publishes what it
	// signed; it delegated OCSP signing to the node (its OCSPSigning
	// certificate among its genesis ocsp_signers, --ocsp-delegate).
	{"member-ca-delegate", delegateRPLedger},
}

// acmeRPLedger is a development node whose ACME server issues the
// certificates (x/crypto/acme, http-01) and revokes them by the account.
func acmeRPLedger(t *testing.T) *rpLedger {
	ch := newChallengeServers(t)
	a := startACMEApp(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acct := acmeAccount(t, ctx, a, newKey(t, "p256"))
	l := &rpLedger{a: a, ca: a.Network.MemberCA, caFile: a.Network.MemberCAFile}
	l.issue = func(t *testing.T, name string) *rpCert {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ch.host(t, name)
		o := ch.readyOrder(t, ctx, acct, name)
		if o, err := acct.WaitOrder(ctx, o.URI); err != nil || o.Status != xacme.StatusReady {
			t.Fatalf("order for %s: %+v %v", name, o, err)
		}
		key := newKey(t, "p256")
		ders, _, err := acct.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, key, name), true)
		if err != nil {
			t.Fatalf("finalize %s: %v", name, err)
		}
		return newRPCert(t, name, ders, key)
	}
	l.revoke = func(t *testing.T, c *rpCert) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := acct.RevokeCert(ctx, nil, c.ders[0], xacme.CRLReasonKeyCompromise); err != nil {
			t.Fatalf("ACME revoke %s: %v", c.name, err)
		}
	}
	return l
}

// delegateRPLedger is a node on a network whose CA member registered an
// OCSP delegate its CA issued, and runs with it; the member signs
// certificates itself and publishes them.
func delegateRPLedger(t *testing.T) *rpLedger {
	nw, err := devnet.Create(filepath.Join(t.TempDir(), "network"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	delegateCert, delegateKey := issueOCSPDelegate(t, nw)
	cfg := productionConfig(t, nw, registerSigner(t, nw, delegateCert))
	cfg.OCSPDelegates = []OCSPDelegate{{Member: "ca", Cert: delegateCert, Key: delegateKey}}
	a := startConfigured(t, cfg)
	caCert, caKey, err := pki.LoadKeyPair(nw.MemberCAFile, nw.MemberCAKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	l := &rpLedger{a: a, ca: caCert, caFile: nw.MemberCAFile}
	l.issue = func(t *testing.T, name string) *rpCert {
		t.Helper()
		key := newKey(t, "p256")
		der := signLeaf(t, caCert, caKey, key.Public(), name, a.ocspURLs())
		submitAccepted(t, a, certchain.Tx{Type: certchain.TxPublish, Submitter: "ca", Cert: der})
		return newRPCert(t, name, [][]byte{der, caCert.Raw}, key)
	}
	l.revoke = func(t *testing.T, c *rpCert) {
		t.Helper()
		submitAccepted(t, a, certchain.Tx{Type: certchain.TxRevoke, Submitter: "ca",
			Target: certchain.Sum(c.ders[0]), Reason: certchain.ReasonKeyCompromise})
	}
	return l
}

// startConfigured starts a node with cfg and waits until it leads.
func startConfigured(t *testing.T, cfg Config) *App {
	t.Helper()
	a := &App{Config: cfg, small: true, raftTimeout: 100 * time.Millisecond}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// signLeaf is a CA member signing a TLS and IKE certificate for name, with
// the network's OCSP URL in its AIA, as a CA's own tooling would.
func signLeaf(t *testing.T, ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, name string, ocspURLs []string) []byte {
	t.Helper()
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		OCSPServer:  ocspURLs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// submitAccepted writes tx to the ledger through a's node and fails
// unless it was accepted.
func submitAccepted(t *testing.T, a *App, tx certchain.Tx) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.Node.Submit(ctx, []certchain.Tx{tx})
	if err != nil || res[0].Verdict.Code != certchain.Accepted {
		t.Fatalf("%s: %v %+v", tx.Type, err, res)
	}
}

// newRPCert parses an issued chain and writes it with its key.
func newRPCert(t *testing.T, name string, ders [][]byte, key crypto.Signer) *rpCert {
	t.Helper()
	if len(ders) < 2 {
		t.Fatalf("%s: %d certificates, want the leaf and its issuer", name, len(ders))
	}
	c := &rpCert{name: name, ders: ders, key: key}
	var err error
	if c.leaf, err = x509.ParseCertificate(ders[0]); err != nil {
		t.Fatal(err)
	}
	if c.issuer, err = x509.ParseCertificate(ders[1]); err != nil {
		t.Fatal(err)
	}
	if len(c.leaf.OCSPServer) != 1 {
		t.Fatalf("%s: AIA OCSP %v, want the node's URL", name, c.leaf.OCSPServer)
	}
	dir := t.TempDir()
	c.certFile, c.chainFile, c.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem")
	var chain bytes.Buffer
	for _, d := range ders {
		chain.Write(pki.EncodeCertPEM(d))
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.certFile, pki.EncodeCertPEM(ders[0]))
	writeFile(t, c.chainFile, chain.Bytes())
	writeFile(t, c.keyFile, keyPEM)
	return c
}

// runTool runs a relying party's command line tool for at most two
// minutes (proxies off for loopback) and returns its combined output.
func runTool(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	return string(out), err
}

// serveTLS serves c over TLS on loopback and returns the address. With
// staple, every handshake staples a fresh answer of the responder in the
// certificate's AIA (unverified: judging it is the client's job);
// without, it staples nothing and the client has to ask the responder.
func serveTLS(t *testing.T, c *rpCert, staple bool) string {
	t.Helper()
	tc := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert := &tls.Certificate{Certificate: c.ders, PrivateKey: c.key, Leaf: c.leaf}
		if !staple {
			return cert, nil
		}
		var err error
		cert.OCSPStaple, err = fetchOCSP(c.leaf, c.issuer)
		return cert, err
	}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 30 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// fetchOCSP POSTs an OCSP request about cert to the responder in its AIA
// and returns the response body.
func fetchOCSP(cert, issuer *x509.Certificate) ([]byte, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Post(cert.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("OCSP POST %s: %s", cert.OCSPServer[0], resp.Status)
	}
	return body, err
}

// stapleOf is a TLS client (crypto/tls, which always asks for certificate
// status) connecting to addr for name and trusting only ca; it returns
// what the server stapled, nil for nothing.
func stapleOf(addr, name string, ca *x509.Certificate) ([]byte, error) {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	d := &net.Dialer{Timeout: 30 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().OCSPResponse, nil
}

// curlCertStatus fetches https://name/ from addr with curl --cert-status,
// trusting only caFile.
func curlCertStatus(curl, addr, name, caFile string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	return runTool(curl, "-sS", "--max-time", "60", "--cert-status", "--cacert", caFile,
		"--resolve", name+":"+port+":"+host, "https://"+name+":"+port+"/")
}

// gnutlsOCSP connects gnutls-cli --ocsp to addr for name, trusting only
// caFile: it checks a stapled status, or asks the responder in the AIA.
func gnutlsOCSP(gnutls, addr, name, caFile string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	return runTool(gnutls, "--x509cafile", caFile, "--ocsp", "--verify-hostname", name, "--sni-hostname", name,
		"--port", port, host)
}

// wantRefused fails unless a tool's run failed and its output has want.
func wantRefused(t *testing.T, what, out string, err error, want string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, want) {
		t.Fatalf("%s: want a refusal saying %q, got err %v\n%s", what, want, err, out)
	}
}

// wantAccepted fails unless a tool's run succeeded and its output has want.
func wantAccepted(t *testing.T, what, out string, err error, want string) {
	t.Helper()
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("%s: want success saying %q, got err %v\n%s", what, want, err, out)
	}
}
