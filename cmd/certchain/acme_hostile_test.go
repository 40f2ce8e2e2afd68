package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/acme"
	"github.com/certchain/certchain/certchain"
	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/ocsp"
)

// account creates an account for key and returns its URL.
func (r *rawACME) account(key crypto.Signer) string {
	r.t.Helper()
	code, m, h := r.post(key, "", "/new-account", map[string]any{"termsOfServiceAgreed": true})
	if code != http.StatusCreated || h.Get("Location") == "" {
		r.t.Fatalf("new account: %d %v", code, m)
	}
	return h.Get("Location")
}

// wantProblem fails unless the answer is the ACME problem typ.
func wantACMEProblem(t *testing.T, code int, m map[string]any, typ string, status int) {
	t.Helper()
	if m["type"] != "urn:ietf:params:acme:error:"+typ || code != status {
		t.Fatalf("got %d %v, want %d %s", code, m, status, typ)
	}
}

// ledgerUnchanged fails if the ledger head moved while fn ran.
func ledgerUnchanged(t *testing.T, a *App, fn func()) {
	t.Helper()
	before := a.Node.State().Head()
	fn()
	time.Sleep(50 * time.Millisecond) // a stray block would be applied by now
	if after := a.Node.State().Head(); after != before {
		t.Fatalf("the ledger moved from height %d to %d", before.Height, after.Height)
	}
}

func (r *rawACME) orders(key crypto.Signer, acct string) int {
	r.t.Helper()
	code, m, _ := r.post(key, acct, strings.TrimPrefix(acct, r.base)+"/orders", nil)
	if code != 200 {
		r.t.Fatalf("orders list: %d %v", code, m)
	}
	return len(m["orders"].([]any))
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestACMEHostile sends what an attacker or a broken client would; each
// case gets its RFC 8555 problem type and changes nothing: no ledger
// write, no order, no status change.
func TestACMEHostile(t *testing.T) {
	ch := newChallengeServers(t)
	a := startACMEApp(t, ch)
	r := newRawACME(t, a.APIURL, a.Network.CAPool())
	alice, mallory := newKey(t, "p256"), newKey(t, "ed25519") // EdDSA accounts work too
	aliceURL, malloryURL := r.account(alice), r.account(mallory)
	ch.host(t, "ok.certchain.test", "pending.certchain.test")
	newOrder := map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "pending.certchain.test"}}}
	if code, m, _ := r.post(mallory, malloryURL, "/new-order", newOrder); code != http.StatusCreated {
		t.Fatalf("order by an EdDSA account: %d %v", code, m)
	}

	// A certificate of Alice's, through the real client.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeClient(t, a, alice)
	if _, err := c.Register(ctx, &xacme.Account{}, xacme.AcceptTOS); err != nil && err != xacme.ErrAccountAlreadyExists {
		t.Fatal(err)
	}
	o, err := c.WaitOrder(ctx, ch.readyOrder(t, ctx, c, "ok.certchain.test").URI)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("replayed nonce", func(t *testing.T) {
		before := r.orders(alice, aliceURL)
		url := r.base + "/new-order"
		body := r.sign(alice, aliceURL, url, r.nonce(), newOrder)
		if code, m, _ := r.send(url, body); code != http.StatusCreated {
			t.Fatalf("first: %d %v", code, m)
		}
		ledgerUnchanged(t, a, func() {
			code, m, h := r.send(url, body)
			wantACMEProblem(t, code, m, "badNonce", 400)
			if h.Get("Replay-Nonce") == "" {
				t.Fatal("badNonce without a fresh Replay-Nonce")
			}
		})
		if n := r.orders(alice, aliceURL); n != before+1 {
			t.Fatalf("%d orders after a replay, want %d", n, before+1)
		}
	})
	t.Run("wrong url in the protected header", func(t *testing.T) {
		before := r.orders(alice, aliceURL)
		ledgerUnchanged(t, a, func() {
			body := r.sign(alice, aliceURL, r.base+"/new-account", r.nonce(), newOrder)
			code, m, _ := r.send(r.base+"/new-order", body)
			wantACMEProblem(t, code, m, "unauthorized", 403)
		})
		if n := r.orders(alice, aliceURL); n != before {
			t.Fatalf("an order was created: %d, want %d", n, before)
		}
	})
	t.Run("signed by another account's key", func(t *testing.T) {
		ledgerUnchanged(t, a, func() {
			code, m, _ := r.post(mallory, aliceURL, "/new-order", newOrder)
			wantACMEProblem(t, code, m, "malformed", 400)
			// Mallory finalizing Alice's ready order with her own account.
			code, m, _ = r.post(mallory, malloryURL, strings.TrimPrefix(o.FinalizeURL, r.base),
				map[string]string{"csr": b64url(csrFor(t, newKey(t, "p256"), "ok.certchain.test"))})
			if code != http.StatusNotFound {
				t.Fatalf("finalize of another account's order: %d %v", code, m)
			}
		})
	})
	t.Run("bad signature algorithm", func(t *testing.T) {
		hdr, _ := json.Marshal(map[string]any{"alg": "HS256", "nonce": r.nonce(), "url": r.base + "/new-order", "kid": aliceURL})
		body, _ := json.Marshal(map[string]string{"protected": b64url(hdr), "payload": b64url([]byte("{}")), "signature": b64url([]byte("x"))})
		code, m, _ := r.send(r.base+"/new-order", body)
		wantACMEProblem(t, code, m, "badSignatureAlgorithm", 400)
		if _, ok := m["algorithms"]; !ok {
			t.Fatalf("badSignatureAlgorithm without the supported algorithms: %v", m)
		}
	})
	t.Run("disallowed identifiers", func(t *testing.T) {
		before := r.orders(alice, aliceURL)
		for _, id := range []map[string]string{{"type": "dns", "value": "www.example.com"}, {"type": "ip", "value": "10.1.2.3"}} {
			code, m, _ := r.post(alice, aliceURL, "/new-order", map[string]any{"identifiers": []map[string]string{id}})
			wantACMEProblem(t, code, m, "rejectedIdentifier", 400)
		}
		code, m, _ := r.post(alice, aliceURL, "/new-order", map[string]any{"identifiers": []map[string]string{
			{"type": "dns", "value": "www.example.com"}, {"type": "dns", "value": "a..b"}}})
		if subs, _ := m["subproblems"].([]any); code != 403 || m["type"] != "urn:ietf:params:acme:error:compound" || len(subs) != 2 {
			t.Fatalf("two bad identifiers: %d %v", code, m)
		}
		code, m, _ = r.post(alice, aliceURL, "/new-order", map[string]any{"identifiers": newOrder["identifiers"], "profile": "nosuch"})
		wantACMEProblem(t, code, m, "invalidProfile", 400)
		if n := r.orders(alice, aliceURL); n != before {
			t.Fatalf("a refused order was stored: %d orders, want %d", n, before)
		}
	})
	t.Run("finalize before ready", func(t *testing.T) {
		code, m, h := r.post(alice, aliceURL, "/new-order", newOrder)
		if code != http.StatusCreated {
			t.Fatalf("new order: %d %v", code, m)
		}
		ledgerUnchanged(t, a, func() {
			code, m, _ := r.post(alice, aliceURL, strings.TrimPrefix(h.Get("Location"), r.base)+"/finalize",
				map[string]string{"csr": b64url(csrFor(t, newKey(t, "p256"), "pending.certchain.test"))})
			wantACMEProblem(t, code, m, "orderNotReady", 403)
		})
	})
	t.Run("CSR with a weak key or other names", func(t *testing.T) {
		ledgerUnchanged(t, a, func() {
			for _, csr := range [][]byte{
				csrFor(t, newKey(t, "rsa1024"), "ok.certchain.test"),
				csrFor(t, newKey(t, "p256"), "ok.certchain.test", "other.certchain.test"),
			} {
				code, m, _ := r.post(alice, aliceURL, strings.TrimPrefix(o.FinalizeURL, r.base), map[string]string{"csr": b64url(csr)})
				wantACMEProblem(t, code, m, "badCSR", 400)
			}
		})
		// The order is still ready: a good CSR gets the certificate.
		if _, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, newKey(t, "p256"), "ok.certchain.test"), true); err != nil {
			t.Fatalf("finalize after refused CSRs: %v", err)
		}
	})
	t.Run("revocation by a stranger", func(t *testing.T) {
		o, err := c.GetOrder(ctx, o.URI)
		if err != nil || o.CertURL == "" {
			t.Fatalf("order: %+v %v", o, err)
		}
		ders, err := c.FetchCert(ctx, o.CertURL, true)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(ders[0])
		revoke := map[string]any{"certificate": b64url(ders[0]), "reason": 1}
		ledgerUnchanged(t, a, func() {
			code, m, _ := r.post(mallory, malloryURL, "/revoke-cert", revoke)
			wantACMEProblem(t, code, m, "unauthorized", 403)
			code, m, _ = r.post(mallory, "", "/revoke-cert", revoke) // a key that is not the certificate's
			wantACMEProblem(t, code, m, "unauthorized", 403)
			code, m, _ = r.post(alice, aliceURL, "/revoke-cert", map[string]any{"certificate": b64url(ders[0]), "reason": 6})
			wantACMEProblem(t, code, m, "badRevocationReason", 400)
		})
		if resp := ocspOf(t, a, leaf, a.Network.MemberCA); resp.Status != ocsp.Good {
			t.Fatalf("OCSP after refused revocations: %d", resp.Status)
		}
		if code, m, _ := r.post(alice, aliceURL, "/revoke-cert", revoke); code != 200 {
			t.Fatalf("revocation by the owner: %d %v", code, m)
		}
		ledgerUnchanged(t, a, func() {
			code, m, _ := r.post(alice, aliceURL, "/revoke-cert", revoke)
			wantACMEProblem(t, code, m, "alreadyRevoked", 400)
		})
	})
}

// TestACMEAccountLifecycle: contact update, key roll-over (the old key no
// longer finds the account), deactivation (the account can do nothing
// more), and external account binding when the CA requires it.
func TestACMEAccountLifecycle(t *testing.T) {
	eab := []byte("0123456789abcdef0123456789abcdef")
	eabFile := t.TempDir() + "/eab.json"
	writeFile(t, eabFile, []byte(`{"factory-7":"`+b64url(eab)+`"}`))
	ch := newChallengeServers(t)
	a := startAppWith(t, t.TempDir(), func(c *Config) {
		c.ACMEHTTPPort, c.ACMEResolver, c.ACMEEABKeys, c.ACMEEABRequired = ch.httpPort, ch.dns.Addr, eabFile, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeClient(t, a, newKey(t, "p256"))
	_, err := c.Register(ctx, &xacme.Account{}, xacme.AcceptTOS)
	if ae, ok := err.(*xacme.Error); !ok || ae.ProblemType != "urn:ietf:params:acme:error:externalAccountRequired" {
		t.Fatalf("register without EAB: %v", err)
	}
	wrong := &xacme.ExternalAccountBinding{KID: "factory-7", Key: []byte("fedcba9876543210fedcba9876543210")}
	if _, err := c.Register(ctx, &xacme.Account{ExternalAccountBinding: wrong}, xacme.AcceptTOS); err == nil {
		t.Fatal("register with a wrong EAB key succeeded")
	}
	acct, err := c.Register(ctx, &xacme.Account{Contact: []string{"mailto:a@example.test"},
		ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: "factory-7", Key: eab}}, xacme.AcceptTOS)
	if err != nil {
		t.Fatalf("register with EAB: %v", err)
	}
	// The EAB key binds one account only.
	other := acmeClient(t, a, newKey(t, "p256"))
	if _, err := other.Register(ctx, &xacme.Account{ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: "factory-7", Key: eab}}, xacme.AcceptTOS); err == nil {
		t.Fatal("a second account with the same EAB key")
	}
	acct.Contact = []string{"mailto:b@example.test"}
	if got, err := c.UpdateReg(ctx, acct); err != nil || len(got.Contact) != 1 || got.Contact[0] != "mailto:b@example.test" {
		t.Fatalf("update contact: %+v %v", got, err)
	}
	if _, err := c.UpdateReg(ctx, &xacme.Account{Contact: []string{"tel:+100"}}); err == nil {
		t.Fatal("a tel: contact was accepted")
	}
	oldKey, newK := c.Key, newKey(t, "rsa2048")
	if err := c.AccountKeyRollover(ctx, newK); err != nil {
		t.Fatalf("key roll-over: %v", err)
	}
	if got, err := c.GetReg(ctx, ""); err != nil || got.URI != acct.URI {
		t.Fatalf("account with the new key: %+v %v", got, err)
	}
	old := acmeClient(t, a, oldKey)
	if _, err := old.GetReg(ctx, ""); err == nil {
		t.Fatal("the old key still finds the account")
	}
	// A client gives up an authorization: its order cannot become ready.
	o, err := c.AuthorizeOrder(ctx, xacme.DomainIDs("x.certchain.test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeAuthorization(ctx, o.AuthzURLs[0]); err != nil {
		t.Fatalf("deactivate authorization: %v", err)
	}
	if az, err := c.GetAuthorization(ctx, o.AuthzURLs[0]); err != nil || az.Status != xacme.StatusDeactivated {
		t.Fatalf("authorization after deactivation: %+v %v", az, err)
	}
	if o, err = c.GetOrder(ctx, o.URI); err != nil || o.Status != xacme.StatusInvalid {
		t.Fatalf("order with a deactivated authorization: %+v %v", o, err)
	}
	if err := c.DeactivateReg(ctx); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	_, err = c.AuthorizeOrder(ctx, xacme.DomainIDs("x.certchain.test"))
	if ae, ok := err.(*xacme.Error); !ok || ae.ProblemType != "urn:ietf:params:acme:error:unauthorized" {
		t.Fatalf("order by a deactivated account: %v", err)
	}
	_, err = acmeClient(t, a, newK).GetReg(ctx, "")
	if ae, ok := err.(*xacme.Error); !ok || ae.ProblemType != "urn:ietf:params:acme:error:unauthorized" {
		t.Fatalf("newAccount with a deactivated account's key: %v", err)
	}
}

// TestACMEProfilesAndReplaces: the directory advertises the profiles and
// renewal information; an order for the shortlived profile gets a 7-day
// certificate; an order that "replaces" it (RFC 9773) is accepted once,
// and a second replacement is alreadyReplaced.
func TestACMEProfilesAndReplaces(t *testing.T) {
	ch := newChallengeServers(t)
	a := startACMEApp(t, ch)
	r := newRawACME(t, a.APIURL, a.Network.CAPool())
	ch.host(t, "short.certchain.test")
	resp, err := r.http.Get(r.base + "/directory")
	if err != nil {
		t.Fatal(err)
	}
	var dir struct {
		RenewalInfo string
		Meta        struct {
			Profiles                map[string]string
			ExternalAccountRequired bool
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir.RenewalInfo != r.base+"/renewal-info" || len(dir.Meta.Profiles) != 3 || dir.Meta.Profiles["shortlived"] == "" {
		t.Fatalf("directory: %+v %v", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := newKey(t, "p256")
	c := acmeAccount(t, ctx, a, key)
	acct := c.KID
	ids := []map[string]string{{"type": "dns", "value": "short.certchain.test"}}
	issue := func(extra map[string]any) *x509.Certificate {
		t.Helper()
		req := map[string]any{"identifiers": ids, "profile": "shortlived"}
		for k, v := range extra {
			req[k] = v
		}
		code, m, h := r.post(key, string(acct), "/new-order", req)
		if code != http.StatusCreated || m["profile"] != "shortlived" {
			t.Fatalf("new order: %d %v", code, m)
		}
		o, err := c.GetOrder(ctx, h.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range o.AuthzURLs {
			ch.solve(t, ctx, c, u, "http-01")
		}
		ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, newKey(t, "p256"), "short.certchain.test"), false)
		if err != nil {
			t.Fatalf("finalize: %v", err)
		}
		leaf, err := x509.ParseCertificate(ders[0])
		if err != nil {
			t.Fatal(err)
		}
		if life := leaf.NotAfter.Sub(leaf.NotBefore); life != 7*24*time.Hour {
			t.Fatalf("shortlived certificate valid for %v", life)
		}
		return leaf
	}
	old := issue(nil)
	certID := ariCertID(t, old)
	issue(map[string]any{"replaces": certID})
	code, m, _ := r.post(key, string(acct), "/new-order", map[string]any{"identifiers": ids, "replaces": certID})
	wantACMEProblem(t, code, m, "alreadyReplaced", 409)
}

// TestInitNetworkIssuesThroughACME: `certchain init` creates a network
// whose "ca" member's CA is the ACME issuer of a node started on it.
func TestInitNetworkIssuesThroughACME(t *testing.T) {
	dir := t.TempDir() + "/net"
	if out := mustCLI(t, t.TempDir(), "init", "--dir", dir, "--network-id", "acme-init-test"); !strings.Contains(out, "member-ca/ca.pem") {
		t.Fatalf("init:\n%s", out)
	}
	if code, _ := cli(t, t.TempDir(), "init", "--dir", dir); code == 0 {
		t.Fatal("init over an existing network succeeded")
	}
	ch := newChallengeServers(t)
	ch.host(t, "init.certchain.test")
	a := startAppWith(t, t.TempDir(), func(c *Config) {
		c.Network, c.ACMEHTTPPort, c.ACMEResolver = dir, ch.httpPort, ch.dns.Addr
	})
	if a.Network.Genesis.NetworkID != "acme-init-test" {
		t.Fatalf("node runs network %q", a.Network.Genesis.NetworkID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeAccount(t, ctx, a, newKey(t, "p256"))
	o := ch.readyOrder(t, ctx, c, "init.certchain.test")
	ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, newKey(t, "p256"), "init.certchain.test"), true)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ders[0])
	if err := leaf.CheckSignatureFrom(a.Network.MemberCA); err != nil {
		t.Fatalf("not issued by the init network's member CA: %v", err)
	}
}

// TestACMEPrune: old ACME objects are deleted so the replicated store does
// not grow for ever: an order that expired unfinished goes PruneAfter after
// its expiry, an issued certificate's record and order PruneAfter after
// the certificate expired; the certificate itself stays on the ledger.
func TestACMEPrune(t *testing.T) {
	ch := newChallengeServers(t)
	ch.host(t, "prune.certchain.test")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a := startAppTuned(t, t.TempDir(), func(c *Config) { c.ACMEHTTPPort, c.ACMEResolver = ch.httpPort, ch.dns.Addr },
		func(a *App) { a.acmeClock = clock })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeAccount(t, ctx, a, newKey(t, "p256"))
	done := ch.readyOrder(t, ctx, c, "prune.certchain.test")
	ders, certURL, err := c.CreateOrderCert(ctx, done.FinalizeURL, csrFor(t, newKey(t, "p256"), "prune.certchain.test"), false)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ders[0])
	unfinished, err := c.AuthorizeOrder(ctx, xacme.DomainIDs("prune.certchain.test"))
	if err != nil {
		t.Fatal(err)
	}
	gone := func(url string) bool {
		_, err := c.GetOrder(ctx, url)
		ae, ok := err.(*xacme.Error)
		return ok && ae.StatusCode == http.StatusNotFound
	}

	if n, err := a.acme.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune with nothing due: %d %v", n, err)
	}
	advance(acme.DefaultOrderLifetime + acme.PruneAfter + time.Hour)
	if n, err := a.acme.Prune(ctx); err != nil || n == 0 {
		t.Fatalf("prune of the expired order: %d %v", n, err)
	}
	if !gone(unfinished.URI) || gone(done.URI) {
		t.Fatalf("after the first prune: unfinished order gone %v, issued order gone %v", gone(unfinished.URI), gone(done.URI))
	}
	if _, err := c.FetchCert(ctx, certURL, false); err != nil {
		t.Fatalf("the certificate of a live order: %v", err)
	}
	advance(leaf.NotAfter.Sub(clock()) + acme.PruneAfter + time.Hour)
	if n, err := a.acme.Prune(ctx); err != nil || n == 0 {
		t.Fatalf("prune of the expired certificate: %d %v", n, err)
	}
	if !gone(done.URI) {
		t.Fatal("the order of a long-expired certificate is still there")
	}
	if _, err := c.FetchCert(ctx, certURL, false); err == nil {
		t.Fatal("the record of a long-expired certificate is still there")
	}
	if rec, err := a.Node.State().Record(certchain.Sum(ders[0])); err != nil || rec == nil {
		t.Fatalf("the certificate left the ledger: %v", err)
	}
}
