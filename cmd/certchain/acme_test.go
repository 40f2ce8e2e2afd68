package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/dnstest"
	"github.com/certchain/certchain/internal/pki"
	jose "github.com/go-jose/go-jose/v4"
	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/ocsp"
)

// challengeServers answer http-01 and tls-alpn-01 on loopback for the
// test clients, as a service would on ports 80 and 443.
type challengeServers struct {
	httpPort, tlsPort int
	dns               *dnstest.Server // the validations' resolver
	mu                sync.Mutex
	http              map[string]string           // path -> key authorization
	alpn              map[string]*tls.Certificate // SNI -> challenge certificate
}

func newChallengeServers(t testing.TB) *challengeServers {
	s := &challengeServers{http: map[string]string{}, alpn: map[string]*tls.Certificate{}, dns: dnstest.New(t)}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, ok := s.http[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = hs.Serve(hl) }()
	tc := &tls.Config{NextProtos: []string{"acme-tls/1"}, GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c, ok := s.alpn[h.ServerName]; ok {
			return c, nil
		}
		return nil, nil
	}}
	tl, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	t.Cleanup(func() { _ = hs.Close(); _ = tl.Close() })
	s.httpPort, s.tlsPort = hl.Addr().(*net.TCPAddr).Port, tl.Addr().(*net.TCPAddr).Port
	return s
}

// solve answers the authorization at url with a challenge of type typ and
// waits until it is valid.
func (s *challengeServers) solve(t testing.TB, ctx context.Context, c *xacme.Client, url, typ string) {
	t.Helper()
	az, err := c.GetAuthorization(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var ch *xacme.Challenge
	for _, x := range az.Challenges {
		if x.Type == typ {
			ch = x
		}
	}
	if ch == nil {
		t.Fatalf("authorization %s offers no %s", url, typ)
	}
	s.mu.Lock()
	switch typ {
	case "http-01":
		ka, err := c.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			t.Fatal(err)
		}
		s.http[c.HTTP01ChallengePath(ch.Token)] = ka
	case "tls-alpn-01":
		cert, err := c.TLSALPN01ChallengeCert(ch.Token, az.Identifier.Value)
		if err != nil {
			t.Fatal(err)
		}
		s.alpn[az.Identifier.Value] = &cert
	case "dns-01":
		rec, err := c.DNS01ChallengeRecord(ch.Token)
		if err != nil {
			t.Fatal(err)
		}
		s.dns.Add(t, fmt.Sprintf("_acme-challenge.%s. 60 IN TXT %q", az.Identifier.Value, rec))
	}
	s.mu.Unlock()
	if _, err := c.Accept(ctx, ch); err != nil {
		t.Fatalf("accept %s: %v", typ, err)
	}
	if _, err := c.WaitAuthorization(ctx, url); err != nil {
		t.Fatalf("authorization %s by %s: %v", az.Identifier.Value, typ, err)
	}
}

// host makes name resolve to 127.0.0.1 for the validations.
func (s *challengeServers) host(t testing.TB, names ...string) {
	for _, n := range names {
		if net.ParseIP(n) == nil {
			s.dns.Add(t, n+". 60 IN A 127.0.0.1")
		}
	}
}

// startACMEApp starts a development node whose ACME validations reach ch.
func startACMEApp(t testing.TB, ch *challengeServers) *App {
	return startAppWith(t, t.TempDir(), func(c *Config) { c.ACMEHTTPPort, c.ACMETLSPort, c.ACMEResolver = ch.httpPort, ch.tlsPort, ch.dns.Addr })
}

func acmeClient(t testing.TB, a *App, key crypto.Signer) *xacme.Client {
	return acmeClientAt(a.APIURL, a.Network.CAPool(), key)
}

// acmeClientAt is an x/crypto/acme client of the node whose API is at
// apiURL, trusting the CAs in pool for its TLS certificate.
func acmeClientAt(apiURL string, pool *x509.CertPool, key crypto.Signer) *xacme.Client {
	return &xacme.Client{
		Key: key, DirectoryURL: apiURL + "/acme/directory",
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second},
		RetryBackoff: func(int, *http.Request, *http.Response) time.Duration { return 10 * time.Millisecond },
	}
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || k == nil {
		t.Fatalf("key %s: %v", kind, err)
	}
	return k
}

func csrFor(t testing.TB, key crypto.Signer, names ...string) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: names[0]}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// ocspOf asks the node's OCSP responder about an ACME-issued certificate.
func ocspOf(t *testing.T, a *App, cert, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	if len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != a.ocspURLs()[0] {
		t.Fatalf("certificate AIA OCSP %v, want %s", cert.OCSPServer, a.ocspURLs()[0])
	}
	resp, err := ocspAt(cert.OCSPServer[0], cert, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ocspAt asks the OCSP responder at url (GET) about cert, issued by
// issuer, and verifies the answer as a relying party that trusts only
// issuer does (RFC 6960 §4.2.2.2): the node signs with a delegate issuer
// issued.
func ocspAt(url string, cert, issuer *x509.Certificate) (*ocsp.Response, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(url + "/" + base64.StdEncoding.EncodeToString(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OCSP GET %s: %d %v", url, resp.StatusCode, err)
	}
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("OCSP from %s: %w", url, err)
	}
	if r.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return nil, fmt.Errorf("OCSP from %s answered for serial %x, asked %x", url, r.SerialNumber, cert.SerialNumber)
	}
	return r, nil
}

// TestACMEWithXCrypto runs golang.org/x/crypto/acme against a node: an
// account per key type, orders validated by http-01 and tls-alpn-01 (one
// with a DNS name and an IP address), finalize, download with the chain,
// OCSP good on the ledger, revocation by the account and by the
// certificate's own key, OCSP revoked, and renewal information.
func TestACMEWithXCrypto(t *testing.T) {
	ch := newChallengeServers(t)
	a := startACMEApp(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	memberCA := a.Network.MemberCA
	cases := []struct {
		account, certKey, challenge string
		names                       []string
		revokeWithCertKey           bool
	}{
		{"p256", "p256", "http-01", []string{"svc.certchain.test", "127.0.0.1"}, false},
		{"rsa2048", "rsa2048", "tls-alpn-01", []string{"gw.certchain.test"}, true},
		{"p256", "ed25519", "dns-01", []string{"portal.certchain.test"}, false},
		{"p256", "p256", "dns-01", []string{"*.wild.certchain.test"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.challenge+"/"+tc.names[0], func(t *testing.T) {
			ch.host(t, tc.names...)
			c := acmeClient(t, a, newKey(t, tc.account))
			acct, err := c.Register(ctx, &xacme.Account{Contact: []string{"mailto:ops@example.test"}}, xacme.AcceptTOS)
			if err != nil {
				t.Fatalf("register: %v", err)
			}
			if acct.Status != xacme.StatusValid || acct.URI == "" {
				t.Fatalf("account %+v", acct)
			}
			var ids []xacme.AuthzID
			for _, n := range tc.names {
				if net.ParseIP(n) != nil {
					ids = append(ids, xacme.IPIDs(n)...)
				} else {
					ids = append(ids, xacme.DomainIDs(n)...)
				}
			}
			o, err := c.AuthorizeOrder(ctx, ids)
			if err != nil {
				t.Fatalf("new order: %v", err)
			}
			for _, u := range o.AuthzURLs {
				ch.solve(t, ctx, c, u, tc.challenge)
			}
			if o, err = c.WaitOrder(ctx, o.URI); err != nil || o.Status != xacme.StatusReady {
				t.Fatalf("order: %+v %v", o, err)
			}
			certKey := newKey(t, tc.certKey)
			ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, certKey, tc.names...), true)
			if err != nil {
				t.Fatalf("finalize: %v", err)
			}
			if len(ders) < 2 {
				t.Fatalf("download has %d certificates, want the leaf and its issuer", len(ders))
			}
			leaf, err := x509.ParseCertificate(ders[0])
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(memberCA)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: strings.Replace(tc.names[0], "*", "host", 1)}); err != nil {
				t.Fatalf("issued certificate does not verify for %s: %v", tc.names[0], err)
			}
			// The AIA's CA certificate is where a relying party finds it.
			if len(leaf.IssuingCertificateURL) != 1 || !bytes.Equal(httpGet(t, leaf.IssuingCertificateURL[0]), memberCA.Raw) {
				t.Fatalf("AIA caIssuers %v does not serve the issuing CA", leaf.IssuingCertificateURL)
			}
			// On the ledger before the client could fetch it: good everywhere.
			if r := ocspOf(t, a, leaf, memberCA); r.Status != ocsp.Good {
				t.Fatalf("OCSP after issuance: status %d", r.Status)
			}
			checkRenewalInfo(t, a, leaf, false)
			revoker := crypto.Signer(nil) // the account key
			if tc.revokeWithCertKey {
				revoker = certKey
			}
			if err := c.RevokeCert(ctx, revoker, ders[0], xacme.CRLReasonKeyCompromise); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			r := ocspOf(t, a, leaf, memberCA)
			if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
				t.Fatalf("OCSP after revocation: status %d reason %d", r.Status, r.RevocationReason)
			}
			checkRenewalInfo(t, a, leaf, true)
		})
	}
	for _, m := range []string{`certchain_acme_orders_total{event="valid"} 4`, `certchain_acme_challenges_total{outcome="valid",type="http-01"} 2`,
		`certchain_acme_challenges_total{outcome="valid",type="dns-01"} 2`,
		`certchain_acme_challenges_total{outcome="valid",type="tls-alpn-01"} 1`, "certchain_acme_issuance_seconds_count 4"} {
		if metrics := string(httpGet(t, a.HTTPURL+"/metrics")); !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// ariCertID is the RFC 9773 CertID of leaf: base64url of its authority key
// identifier, ".", base64url of its serial's DER INTEGER contents (with a
// leading zero byte when the top bit is set).
func ariCertID(t testing.TB, leaf *x509.Certificate) string {
	der, err := asn1.Marshal(leaf.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." + base64.RawURLEncoding.EncodeToString(der[2:])
}

// checkRenewalInfo asks for the certificate's RFC 9773 renewal window: in
// the last third of its life, or already open once it is revoked.
func checkRenewalInfo(t *testing.T, a *App, leaf *x509.Certificate, revoked bool) {
	t.Helper()
	id := ariCertID(t, leaf)
	resp, err := acmeClient(t, a, nil).HTTPClient.Get(a.APIURL + "/acme/renewal-info/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ri struct {
		SuggestedWindow struct{ Start, End time.Time }
	}
	if err := json.NewDecoder(resp.Body).Decode(&ri); err != nil || resp.StatusCode != 200 {
		t.Fatalf("renewal info: %d %v", resp.StatusCode, err)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("renewal info Retry-After %q", resp.Header.Get("Retry-After"))
	}
	w := ri.SuggestedWindow
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	switch {
	case !w.End.After(w.Start):
		t.Fatalf("renewal window %v .. %v is empty", w.Start, w.End)
	case revoked && w.Start.After(time.Now()):
		t.Fatalf("revoked certificate: renewal window starts %v, want now", w.Start)
	case !revoked && (w.Start.Before(leaf.NotBefore.Add(life/2)) || w.End.After(leaf.NotAfter)):
		t.Fatalf("renewal window %v .. %v outside the second half of %v .. %v", w.Start, w.End, leaf.NotBefore, leaf.NotAfter)
	}
}

// rawACME speaks ACME with hand-made JWSs (go-jose signs them), so that a
// test can send what no well-behaved client would: replayed nonces, wrong
// URLs, another account's key.
type rawACME struct {
	t    *testing.T
	base string // .../acme
	http *http.Client
}

// newRawACME talks to the node whose API is at apiURL, trusting pool.
func newRawACME(t *testing.T, apiURL string, pool *x509.CertPool) *rawACME {
	return &rawACME{t: t, base: apiURL + "/acme",
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}}
}

// tryNonce asks newNonce (HEAD) for a nonce.
func (r *rawACME) tryNonce() (string, error) {
	resp, err := r.http.Head(r.base + "/new-nonce")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if n := resp.Header.Get("Replay-Nonce"); resp.StatusCode == http.StatusOK && n != "" {
		return n, nil
	}
	return "", fmt.Errorf("HEAD new-nonce: %d, Replay-Nonce %q", resp.StatusCode, resp.Header.Get("Replay-Nonce"))
}

func (r *rawACME) nonce() string {
	r.t.Helper()
	n, err := r.tryNonce()
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func jwsAlg(key crypto.Signer) jose.SignatureAlgorithm {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize == 384 {
			return jose.ES384
		}
		return jose.ES256
	case *rsa.PrivateKey:
		return jose.RS256
	case ed25519.PrivateKey:
		return jose.EdDSA
	}
	return ""
}

// sign makes a flattened JWS of payload (nil: POST-as-GET) for url, with
// the key as "jwk" or, when kid is set, as "kid".
func (r *rawACME) sign(key crypto.Signer, kid, url, nonce string, payload any) []byte {
	r.t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"nonce": nonce, "url": url}}
	if kid != "" {
		opts.ExtraHeaders["kid"] = kid
	} else {
		opts.EmbedJWK = true
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jwsAlg(key), Key: key}, opts)
	if err != nil {
		r.t.Fatal(err)
	}
	var body []byte
	if payload != nil {
		if body, err = json.Marshal(payload); err != nil {
			r.t.Fatal(err)
		}
	}
	obj, err := signer.Sign(body)
	if err != nil {
		r.t.Fatal(err)
	}
	out := []byte(obj.FullSerialize())
	if payload == nil { // go-jose omits an empty payload; POST-as-GET sends ""
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		m["payload"] = ""
		out, _ = json.Marshal(m)
	}
	return out
}

// send POSTs a signed body to url and returns the status, the decoded
// JSON answer (problem or resource) and the headers.
func (r *rawACME) send(url string, body []byte) (int, map[string]any, http.Header) {
	r.t.Helper()
	resp, err := r.http.Post(url, "application/jose+json", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

// post signs with a fresh nonce and sends.
func (r *rawACME) post(key crypto.Signer, kid, path string, payload any) (int, map[string]any, http.Header) {
	r.t.Helper()
	url := r.base + path
	return r.send(url, r.sign(key, kid, url, r.nonce(), payload))
}

// freePort returns a loopback TCP port that was free a moment ago,
// for a client's challenge server to bind.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readCertsPEM(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || blk.Type != "CERTIFICATE" {
			t.Fatalf("%s: %s block: %v", file, blk.Type, err)
		}
		out = append(out, c)
	}
	return out
}

// checkIssued checks an ACME certificate a client stored: issued for
// exactly name (a DNS name), with a key of algo, verifying through chain
// to the member CA, and good in the node's OCSP.
func checkIssued(t *testing.T, a *App, leaf *x509.Certificate, chain []*x509.Certificate, name string, algo x509.PublicKeyAlgorithm) {
	t.Helper()
	if !slices.Equal(leaf.DNSNames, []string{name}) || len(leaf.IPAddresses) != 0 {
		t.Fatalf("issued for DNS %v IP %v, want %s", leaf.DNSNames, leaf.IPAddresses, name)
	}
	if leaf.PublicKeyAlgorithm != algo {
		t.Fatalf("certificate key is %v, want %v", leaf.PublicKeyAlgorithm, algo)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(a.Network.MemberCA)
	for _, c := range chain {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name}); err != nil {
		t.Fatalf("certificate does not verify to the member CA for %s: %v", name, err)
	}
	if r := ocspOf(t, a, leaf, a.Network.MemberCA); r.Status != ocsp.Good {
		t.Fatalf("OCSP status %d, want good", r.Status)
	}
}

// startForClient starts a node for an external ACME client under test:
// its validations reach http-01 on httpPort and tls-alpn-01 on tlsPort
// (0: not used) through a loopback DNS server where names resolve to
// 127.0.0.1. caBundle is the network CA as a PEM file, for the client to
// trust the node's HTTPS API.
func startForClient(t *testing.T, httpPort, tlsPort int, names ...string) (a *App, caBundle string) {
	t.Helper()
	resolver := dnstest.New(t)
	for _, n := range names {
		resolver.Add(t, n+". 60 IN A 127.0.0.1")
	}
	a = startAppWith(t, t.TempDir(), func(c *Config) {
		c.ACMEHTTPPort, c.ACMETLSPort, c.ACMEResolver = httpPort, tlsPort, resolver.Addr
	})
	caBundle = filepath.Join(t.TempDir(), "network-ca.pem")
	writeFile(t, caBundle, pki.EncodeCertPEM(a.Network.CA.Raw))
	return a, caBundle
}

// runClient runs an external ACME client for at most two minutes with env
// added to the environment (proxies off for loopback) and returns its
// output; on failure it fails the test with the output and what logs adds.
func runClient(t *testing.T, dir string, env []string, logs func() string, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+dir, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		more := ""
		if logs != nil {
			more = logs()
		}
		t.Fatalf("%s %s: %v (context: %v)\n--- output ---\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, ctx.Err(), out, more)
	}
	return string(out)
}

// acmeAccount is an x/crypto/acme client of a's ACME server with a new
// account for key.
func acmeAccount(t testing.TB, ctx context.Context, a *App, key crypto.Signer) *xacme.Client {
	t.Helper()
	c := acmeClient(t, a, key)
	if _, err := c.Register(ctx, &xacme.Account{}, xacme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	return c
}

// readyOrder orders a certificate for name and answers its authorizations
// by http-01.
func (s *challengeServers) readyOrder(t testing.TB, ctx context.Context, c *xacme.Client, name string) *xacme.Order {
	t.Helper()
	o, err := c.AuthorizeOrder(ctx, xacme.DomainIDs(name))
	if err != nil {
		t.Fatalf("new order for %s: %v", name, err)
	}
	for _, u := range o.AuthzURLs {
		s.solve(t, ctx, c, u, "http-01")
	}
	return o
}
