package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/ocsp"
)

// TestACMEAcrossClusterAndLeaderChange runs ACME against three `certchain
// node` processes validating against the same loopback challenge servers:
// a request signed with one node's nonce and sent to another is forwarded
// to the nonce's node; an order created on a follower survives the leader's
// kill -9 and is validated, finalized and downloaded once a new leader is
// elected (a nonce of the dead node gets a badNonce with a fresh nonce
// that works); the certificate is good in OCSP on both survivors; the
// account is known on the other survivor, which also accepts the
// follower's "kid"; and the killed node catches up when it restarts.
func TestACMEAcrossClusterAndLeaderChange(t *testing.T) {
	began := time.Now()
	ch := newChallengeServers(t)
	const name = "cluster.certchain.test"
	ch.host(t, name)
	c := startProcClusterWith(t, "--acme-http-port", strconv.Itoa(ch.httpPort),
		"--acme-tls-port", strconv.Itoa(ch.tlsPort), "--acme-resolver", ch.dns.Addr)
	netCA := parseCertFile(t, filepath.Join(c.dirs[0], "network", "ca.pem"))
	memberCA := parseCertFile(t, filepath.Join(c.dirs[0], "network", "member-ca", "ca.pem"))
	pool := x509.NewCertPool()
	pool.AddCert(netCA)
	t.Logf("cluster of 3 processes up after %v", time.Since(began).Round(time.Millisecond))

	// 1. A request signed with node A's nonce, sent to node B: B forwards
	// it to A, which alone can redeem the nonce, so the client never sees
	// a badNonce for it.
	rA, rB := newRawACME(t, c.url(0), pool), newRawACME(t, c.url(1), pool)
	key1 := newKey(t, "p256")
	newAcct := map[string]any{"termsOfServiceAgreed": true, "contact": []string{"mailto:ops@example.test"}}
	code, m, h := rB.send(rB.base+"/new-account", rB.sign(key1, "", rB.base+"/new-account", rA.nonce(), newAcct))
	if code != http.StatusCreated || !strings.Contains(h.Get("Location"), "/acme/acct/") {
		t.Fatalf("node2 with node1's nonce: %d %v (Location %q), want 201 through node1", code, m, h.Get("Location"))
	}
	if metrics := string(httpGet(t, c.readURL(1)+"/metrics")); !strings.Contains(metrics, "certchain_acme_forwarded_total 1") {
		t.Fatalf("node2 did not forward the request to node1")
	}

	// 2. Account and order on a follower; the challenge is not answered yet.
	leader := c.leader(0)
	f, s := (leader+1)%3, (leader+2)%3
	t.Logf("leader node%d, follower F node%d, other follower S node%d", leader+1, f+1, s+1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	acctKey := newKey(t, "p256")
	xc := acmeClientAt(c.url(f), pool, acctKey)
	xc.RetryBackoff = func(int, *http.Request, *http.Response) time.Duration { return 100 * time.Millisecond }
	acct, err := xc.Register(ctx, &xacme.Account{Contact: []string{"mailto:ops@example.test"}}, xacme.AcceptTOS)
	if err != nil {
		t.Fatalf("register on node%d: %v", f+1, err)
	}
	o, err := xc.AuthorizeOrder(ctx, xacme.DomainIDs(name))
	if err != nil {
		t.Fatalf("new order on node%d: %v", f+1, err)
	}
	if o.Status != xacme.StatusPending || len(o.AuthzURLs) != 1 {
		t.Fatalf("new order: status %s, %d authorizations", o.Status, len(o.AuthzURLs))
	}

	// 3. kill -9 the leader; the survivors elect a new one.
	deadNonce := newRawACME(t, c.url(leader), pool).nonce()
	c.kill(leader)
	killed := time.Now()
	newLeader := waitLeader(t, c, 30*time.Second, leader, f, s)
	t.Logf("node%d killed; node%d leads after %v", leader+1, newLeader+1, time.Since(killed).Round(time.Millisecond))

	// A nonce of the dead node is refused by F with a fresh nonce of F's,
	// which works at once: the account is found by its key.
	rF := newRawACME(t, c.url(f), pool)
	existing := map[string]any{"onlyReturnExisting": true}
	code, m, h = rF.send(rF.base+"/new-account", rF.sign(acctKey, "", rF.base+"/new-account", deadNonce, existing))
	if code != http.StatusBadRequest || m["type"] != "urn:ietf:params:acme:error:badNonce" || h.Get("Replay-Nonce") == "" {
		t.Fatalf("node%d with the dead node%d's nonce: %d %v (Replay-Nonce %q), want 400 badNonce with a fresh nonce",
			f+1, leader+1, code, m, h.Get("Replay-Nonce"))
	}
	code, m, h = rF.send(rF.base+"/new-account", rF.sign(acctKey, "", rF.base+"/new-account", h.Get("Replay-Nonce"), existing))
	if loc := h.Get("Location"); code != http.StatusOK || loc == "" || urlPath(t, loc) != urlPath(t, acct.URI) {
		t.Fatalf("node%d, onlyReturnExisting retried with its Replay-Nonce: %d %v (Location %q), want 200 and %s", f+1, code, m, loc, acct.URI)
	}

	// 4. The order and its authorization survived, still pending; solve,
	// finalize and download through the same follower.
	o2, err := xc.GetOrder(ctx, o.URI)
	if err != nil {
		t.Fatalf("order after the leader change: %v", err)
	}
	if o2.Status != xacme.StatusPending || !equalStrings(o2.AuthzURLs, o.AuthzURLs) {
		t.Fatalf("order after the leader change: status %s authorizations %v, want pending %v", o2.Status, o2.AuthzURLs, o.AuthzURLs)
	}
	for _, u := range o2.AuthzURLs {
		az, err := xc.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("authorization after the leader change: %v", err)
		}
		if az.Status != xacme.StatusPending {
			t.Fatalf("authorization %s after the leader change: %s, want pending", u, az.Status)
		}
		ch.solve(t, ctx, xc, u, "http-01")
	}
	if o2, err = xc.WaitOrder(ctx, o.URI); err != nil || o2.Status != xacme.StatusReady {
		t.Fatalf("order after validation: %+v %v, want ready", o2, err)
	}
	certKey := newKey(t, "p256")
	ders, _, err := xc.CreateOrderCert(ctx, o2.FinalizeURL, csrFor(t, certKey, name), true)
	if err != nil {
		t.Fatalf("finalize after the leader change: %v", err)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(memberCA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
		t.Fatalf("issued certificate does not verify for %s: %v", name, err)
	}
	if want := c.readURL(f) + "/ocsp"; len(leaf.OCSPServer) != 1 || leaf.OCSPServer[0] != want {
		t.Errorf("certificate AIA OCSP %v, want the issuing node's %s", leaf.OCSPServer, want)
	}
	for _, i := range []int{f, s} {
		waitOCSPGood(t, 30*time.Second, i, c.readURL(i)+"/ocsp", leaf, memberCA)
	}

	// 5. The account made on F is S's too: onlyReturnExisting with its key
	// gives the same account, and S accepts F's account URL as "kid".
	got, err := acmeClientAt(c.url(s), pool, acctKey).GetReg(ctx, "")
	if err != nil {
		t.Fatalf("onlyReturnExisting on node%d: %v", s+1, err)
	}
	if urlPath(t, got.URI) != urlPath(t, acct.URI) {
		t.Fatalf("node%d names the account %s, node%d %s", s+1, got.URI, f+1, acct.URI)
	}
	// F answered once the order's final write applied on F; S applies it
	// when it learns the commit, a heartbeat later, and says "processing"
	// (with Retry-After) until then.
	rS := newRawACME(t, c.url(s), pool)
	pollFor(t, 10*time.Second, fmt.Sprintf("node%d: the valid order with node%d's kid", s+1, f+1), func() error {
		return orderValid(rS, acctKey, acct.URI, urlPath(t, o.URI))
	})

	// 6. The killed node restarts, catches up, and answers good.
	head, err := strconv.ParseUint(strings.Fields(mustCLI(t, c.dirs[s], "ledger", "head"))[0], 10, 64)
	if err != nil {
		t.Fatalf("ledger head: %v", err)
	}
	restarted := time.Now()
	c.start(leader)
	waitOCSPGood(t, 60*time.Second, leader, c.readURL(leader)+"/ocsp", leaf, memberCA)
	rR := newRawACME(t, c.url(leader), pool)
	pollFor(t, 30*time.Second, fmt.Sprintf("node%d (restarted): the valid order with node%d's kid", leader+1, f+1), func() error {
		return orderValid(rR, acctKey, acct.URI, urlPath(t, o.URI))
	})
	urls := []string{c.url(0), c.url(1), c.url(2)}
	pollFor(t, 30*time.Second, fmt.Sprintf("ledger compare: all three agree up to height %d", head), func() error {
		code, out := cli(t, c.dirs[s], append([]string{"ledger", "compare"}, urls...)...)
		var h uint64
		if i := strings.Index(out, "agree up to height "); code != 0 || i < 0 {
			return fmt.Errorf("exit %d:\n%s", code, out)
		} else if _, err := fmt.Sscan(out[i+len("agree up to height "):], &h); err != nil || h < head {
			return fmt.Errorf("not caught up:\n%s", out)
		}
		return nil
	})
	if out := c.compare(0, 1, 2); !strings.Contains(out, "agree") {
		t.Fatalf("after restart:\n%s", out)
	}
	t.Logf("node%d caught up %v after its restart; whole test %v", leader+1, time.Since(restarted).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// waitLeader waits until every survivor names the same leader, not dead.
func waitLeader(t *testing.T, c *procCluster, d time.Duration, dead int, survivors ...int) int {
	t.Helper()
	leader := -1
	pollFor(t, d, fmt.Sprintf("a new leader among the survivors of node%d", dead+1), func() error {
		leader = -1
		for _, i := range survivors {
			code, out := cli(t, c.dirs[i], "cluster", "status")
			if code != 0 && code != 2 { // 2: a node is unreachable (the dead one)
				return fmt.Errorf("node%d: cluster status: exit %d: %s", i+1, code, out)
			}
			l := -1
			for _, line := range strings.Split(out, "\n") {
				if fs := strings.Fields(line); len(fs) > 1 && fs[1] == "leader" && strings.HasPrefix(fs[0], "node") {
					l = int(fs[0][len("node")] - '1')
				}
			}
			switch {
			case l < 0 || l == dead:
				return fmt.Errorf("node%d sees no live leader:\n%s", i+1, out)
			case leader >= 0 && l != leader:
				return fmt.Errorf("survivors disagree on the leader: node%d and node%d", leader+1, l+1)
			}
			leader = l
		}
		return nil
	})
	return leader
}

// pollFor calls ok every 100 ms until it succeeds, failing the test with
// what and ok's last error after d.
func pollFor(t *testing.T, d time.Duration, what string, ok func() error) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for tries := 1; ; tries++ {
		err := ok()
		if err == nil {
			if tries > 1 {
				t.Logf("%s: after %v (%d tries)", what, time.Since(start).Round(time.Millisecond), tries)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitOCSPGood polls node's OCSP responder at url until it says good.
func waitOCSPGood(t *testing.T, d time.Duration, node int, url string, leaf, issuer *x509.Certificate) {
	t.Helper()
	pollFor(t, d, fmt.Sprintf("node%d: OCSP good for the ACME certificate", node+1), func() error {
		r, err := ocspAt(url, leaf, issuer)
		if err != nil {
			return err
		}
		if r.Status != ocsp.Good {
			return fmt.Errorf("OCSP status %d", r.Status)
		}
		return nil
	})
}

func parseCertFile(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(mustPEM(t, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cert
}

func urlPath(t *testing.T, s string) string {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || u.Path == "" {
		t.Fatalf("URL %q: %v", s, err)
	}
	return u.Path
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// orderValid fetches the order at path from r's node (POST-as-GET signed
// with kid, whatever node's account URL it is) and checks it is valid with
// a certificate.
func orderValid(r *rawACME, key crypto.Signer, kid, path string) error {
	nonce, err := r.tryNonce()
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(r.base, "/acme") + path
	code, m, _ := r.send(u, r.sign(key, kid, u, nonce, nil))
	if code != http.StatusOK {
		return fmt.Errorf("POST-as-GET %s: %d %v", path, code, m)
	}
	if m["status"] != xacme.StatusValid || m["certificate"] == nil {
		return fmt.Errorf("order is %v, want valid with a certificate: %v", m["status"], m)
	}
	return nil
}
