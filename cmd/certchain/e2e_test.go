package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	"github.com/certchain/certchain/raftstore"
	cflog "github.com/cloudflare/cfssl/log"
)

func TestMain(m *testing.M) {
	cflog.Level = cflog.LevelWarning
	os.Exit(m.Run())
}

// startApp starts a development node in dir on loopback ports chosen by
// the kernel, and writes its CLI profile, as `certchain node` does.
func startApp(t *testing.T, dir string) *App { return startAppWith(t, dir, nil) }

// startAppWith is startApp with tune applied to the configuration.
func startAppWith(t testing.TB, dir string, tune func(*Config)) *App {
	t.Helper()
	return startAppTuned(t, dir, tune, nil)
}

// startAppTuned is startAppWith with app applied to the App before it
// starts (test hooks such as its ACME clock).
func startAppTuned(t testing.TB, dir string, tune func(*Config), app func(*App)) *App {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.HTTPSAddr, cfg.RaftAddr = dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if tune != nil {
		tune(&cfg)
	}
	a := &App{Config: cfg, small: true, raftTimeout: 100 * time.Millisecond}
	if app != nil {
		app(a)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if err := writeClientProfile(a); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// cli runs a certchain command in-process against the node in dir and
// returns its exit code and output.
func cli(t testing.TB, dir string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(k string) string {
		if k == "CERTCHAIN_DATA" {
			return dir
		}
		return ""
	}}
	code := run(context.Background(), e, args)
	return code, out.String() + errOut.String()
}

func mustCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	code, out := cli(t, dir, args...)
	if code != 0 {
		t.Fatalf("certchain %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func TestFactoryLineEndToEnd(t *testing.T) {
	dir := t.TempDir()
	startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--count", "25", "--out", devs, "--prefix", "SC-", "--ocsp-url", "http://127.0.0.1:8080/ocsp")
	out := mustCLI(t, dir, "publish", "--quiet", devs)
	if !strings.Contains(out, "published 25 new, 0 already on the ledger, 0 rejected") {
		t.Fatalf("first publish: %s", out)
	}
	out = mustCLI(t, dir, "publish", "--quiet", devs) // re-running is safe
	if !strings.Contains(out, "published 0 new, 25 already on the ledger, 0 rejected") {
		t.Fatalf("second publish: %s", out)
	}
	dev := filepath.Join(devs, "SC-0000007.pem")
	if out := mustCLI(t, dir, "status", dev); !strings.Contains(out, " good") {
		t.Fatalf("status: %s", out)
	}
	steps := []struct {
		args     []string
		status   string
		exitCode int
	}{
		{[]string{"suspend", dev}, "suspended certificateHold", 2},
		{[]string{"resume", dev}, "good", 0},
		{[]string{"revoke", "--reason", "keyCompromise", dev}, "revoked keyCompromise", 2},
	}
	for _, s := range steps {
		mustCLI(t, dir, s.args...)
		code, out := cli(t, dir, "status", dev)
		if code != s.exitCode || !strings.Contains(out, s.status) {
			t.Fatalf("after %v: exit %d, %s", s.args, code, out)
		}
	}
	if code, out := cli(t, dir, "resume", dev); code != 1 || !strings.Contains(out, "conflict (409)") {
		t.Fatalf("resume of revoked: exit %d %s", code, out)
	}
}

func TestRejectedCertificatesAreReported(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := t.TempDir()
	good, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: "ok-1"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "some-other-consortium", CommonName: "foreign-1"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(devs, "ok.pem"), pki.EncodeCertPEM(good))
	writeFile(t, filepath.Join(devs, "foreign.pem"), pki.EncodeCertPEM(foreign))
	report := filepath.Join(t.TempDir(), "rejected.tsv")
	head := a.Node.State().Head()
	code, out := cli(t, dir, "publish", "--quiet", "--report", report, devs)
	if code != 2 || !strings.Contains(out, "published 1 new, 0 already on the ledger, 1 rejected") {
		t.Fatalf("exit %d: %s", code, out)
	}
	rep, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(rep), "foreign.pem") || !strings.Contains(string(rep), "network-id") {
		t.Fatalf("report: %s %v", rep, err)
	}
	if got := a.Node.State().Head(); got.Height != head.Height+1 {
		t.Fatalf("one block expected for the one good certificate, head %d -> %d", head.Height, got.Height)
	}
}

func TestRenewSupersedes(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	o := pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: "SC-42"}
	oldDER, _, err := pki.NewDevice(o)
	if err != nil {
		t.Fatal(err)
	}
	newDER, _, err := pki.NewDevice(o)
	if err != nil {
		t.Fatal(err)
	}
	oldFile, newFile := filepath.Join(dir, "old.pem"), filepath.Join(dir, "new.pem")
	writeFile(t, oldFile, pki.EncodeCertPEM(oldDER))
	writeFile(t, newFile, pki.EncodeCertPEM(newDER))
	mustCLI(t, dir, "publish", "--quiet", oldFile)
	// Publishing a second certificate for the same device is refused: renew it.
	if code, out := cli(t, dir, "publish", "--quiet", "--report", filepath.Join(dir, "r.tsv"), newFile); code != 2 || !strings.Contains(out, "1 rejected") {
		t.Fatalf("duplicate identity: exit %d %s", code, out)
	}
	mustCLI(t, dir, "renew", oldFile, newFile)
	if code, out := cli(t, dir, "status", oldFile); code != 2 || !strings.Contains(out, "superseded superseded") {
		t.Fatalf("old: %s", out)
	}
	if out := mustCLI(t, dir, "status", newFile); !strings.Contains(out, " good") {
		t.Fatalf("new: %s", out)
	}
	rec, err := a.Node.State().Record(certchain.Sum(newDER))
	if err != nil || rec.Replaces != certchain.Sum(oldDER) {
		t.Fatalf("renewal link: %+v %v", rec, err)
	}
}

// TestRESTIdentityAndErrors drives the API with raw HTTP clients: reads
// over plain HTTP, writes only with a member certificate, every error a
// problem document.
func TestRESTIdentityAndErrors(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	vendor := httpsClient(t, a, "vendor")
	anon := httpsClient(t, a, "")
	dev, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: "rest-1"})
	if err != nil {
		t.Fatal(err)
	}
	body := pki.EncodeCertPEM(dev)
	id := certchain.Sum(dev).String()
	cases := []struct {
		name       string
		c          *http.Client
		method, u  string
		ct         string
		body       []byte
		wantStatus int
		wantType   string
	}{
		{"fail/write-over-plain-http", http.DefaultClient, "POST", a.HTTPURL + "/v1/certificates", "application/x-pem-file", body, 401, "client-certificate-required"},
		{"fail/write-without-client-cert", anon, "POST", a.HTTPSURL + "/v1/certificates", "application/x-pem-file", body, 401, "client-certificate-required"},
		{"fail/non-member-client-cert", httpsClientWithCert(t, a, foreignCert(t)), "POST", a.HTTPSURL + "/v1/certificates", "application/x-pem-file", body, 403, "unauthorized"},
		{"fail/not-pem", vendor, "POST", a.HTTPSURL + "/v1/certificates", "application/x-pem-file", []byte("hello"), 422, "invalid"},
		{"fail/too-large", vendor, "POST", a.HTTPSURL + "/v1/certificates/" + id + "/revoke", "application/json", bytes.Repeat([]byte(" "), 70<<10), 413, "too-large"},
		{"fail/bad-id", http.DefaultClient, "GET", a.HTTPURL + "/v1/certificates/xyz", "", nil, 422, "invalid"},
		{"fail/not-on-ledger", http.DefaultClient, "GET", a.HTTPURL + "/v1/certificates/" + id, "", nil, 404, "not-found"},
		{"fail/revoke-unknown", vendor, "POST", a.HTTPSURL + "/v1/certificates/" + id + "/revoke", "application/json", []byte(`{}`), 404, "not-found"},
		{"fail/no-route", http.DefaultClient, "GET", a.HTTPURL + "/v2/nothing", "", nil, 404, "not-found"},
		{"ok/status-unknown", http.DefaultClient, "GET", a.HTTPURL + "/v1/certificates/" + id + "/status", "", nil, 200, ""},
		{"ok/publish", vendor, "POST", a.HTTPSURL + "/v1/certificates", "application/x-pem-file", body, 200, ""},
		{"ok/record-over-plain-http", http.DefaultClient, "GET", a.HTTPURL + "/v1/certificates/" + id, "", nil, 200, ""},
		{"fail/revoke-reason-hold", vendor, "POST", a.HTTPSURL + "/v1/certificates/" + id + "/revoke", "application/json", []byte(`{"reason":"certificateHold"}`), 422, "invalid"},
		{"fail/resume-good", vendor, "POST", a.HTTPSURL + "/v1/certificates/" + id + "/resume", "", nil, 409, "conflict"},
		{"fail/operator-cannot-publish", httpsClient(t, a, "operator"), "POST", a.HTTPSURL + "/v1/certificates", "application/x-pem-file", pki.EncodeCertPEM(newDevice(t, a, "rest-2")), 200, "rejected:role"},
		{"ok/readyz", http.DefaultClient, "GET", a.HTTPURL + "/readyz", "", nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			head := a.Node.State().Head()
			req, _ := http.NewRequest(tc.method, tc.u, bytes.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := tc.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantType == "" {
				return
			}
			if reason, ok := strings.CutPrefix(tc.wantType, "rejected:"); ok { // per-certificate verdict
				var pr api.PublishResponse
				if json.Unmarshal(b, &pr) != nil || pr.Rejected != 1 || !strings.HasPrefix(pr.Results[0].Reason, reason+":") {
					t.Fatalf("want one rejection by rule %s: %s", reason, b)
				}
				if a.Node.State().Head() != head {
					t.Fatal("a rejected certificate changed the ledger")
				}
				return
			}
			var p api.Problem
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Type != "urn:certchain:problem:"+tc.wantType {
				t.Fatalf("problem %q (%s): %s", p.Type, ct, b)
			}
			if a.Node.State().Head() != head {
				t.Fatal("a refused request changed the ledger")
			}
		})
	}
}

func TestRestartSameHeadAndStatuses(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--count", "10", "--out", devs)
	mustCLI(t, dir, "publish", "--quiet", devs)
	dev := filepath.Join(devs, "DEV-0000003.pem")
	mustCLI(t, dir, "suspend", dev)
	head := a.Node.State().Head()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = startApp(t, dir)
	if got := a.Node.State().Head(); got != head {
		t.Fatalf("head after restart: %d %s, want %d %s", got.Height, got.Hash(), head.Height, head.Hash())
	}
	if code, out := cli(t, dir, "status", dev); code != 2 || !strings.Contains(out, "suspended") {
		t.Fatalf("status after restart: %s", out)
	}
	out := mustCLI(t, dir, "publish", "--quiet", devs)
	if !strings.Contains(out, "published 0 new, 10 already") || a.Node.State().Head() != head {
		t.Fatalf("re-publish after restart: %s", out)
	}
}

func TestLedgerAuditCLI(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	for i := 0; i < 3; i++ {
		mustCLI(t, dir, "device", "new", "--count", "2", "--prefix", string(rune('a'+i))+"-", "--out", filepath.Join(devs, string(rune('a'+i))))
		mustCLI(t, dir, "publish", "--quiet", filepath.Join(devs, string(rune('a'+i))))
	}
	if out := mustCLI(t, dir, "ledger", "audit", "--url", a.HTTPSURL); !strings.Contains(out, "OK: 4 blocks verified") {
		t.Fatalf("audit over API: %s", out)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, dir, "ledger", "audit", "--data", dir); !strings.Contains(out, "OK: 4 blocks verified") {
		t.Fatalf("offline audit: %s", out)
	}
	db, err := raftstore.OpenBadger(filepath.Join(dir, "ledger"), raftstore.BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	tamperBlock(t, db, 2)
	db.Close()
	code, out := cli(t, dir, "ledger", "audit", "--data", dir)
	if code != 2 || !strings.Contains(out, "first bad block is 2") {
		t.Fatalf("tampered audit: exit %d %s", code, out)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newDevice(t *testing.T, a *App, cn string) []byte {
	der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: cn})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func httpsClient(t *testing.T, a *App, member string) *http.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: a.Network.CAPool()}
	if member != "" {
		var err error
		if tc, err = a.Network.ClientTLS(member); err != nil {
			t.Fatal(err)
		}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
}

func httpsClientWithCert(t *testing.T, a *App, c tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Network.CAPool(), Certificates: []tls.Certificate{c}}}}
}

// foreignCert is a client certificate no member owns.
func foreignCert(t *testing.T) tls.Certificate {
	der, key, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "x", CommonName: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestCASignedPublish: the "ca" member publishes what its CA signed; a
// vendor may not, and a certificate of an unknown CA is refused.
func TestCASignedPublish(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := a.Network.SignWithMemberCA(key, "slice-endpoint.op-a.example", []string{"slice-endpoint.op-a.example"}, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(dir, "slice.pem")
	writeFile(t, leaf, leafPEM)
	report := filepath.Join(dir, "r.tsv")
	if code, out := cli(t, dir, "publish", "--quiet", "--report", report, leaf); code != 2 || !strings.Contains(out, "1 rejected") {
		t.Fatalf("vendor publishing a CA-signed certificate: exit %d %s", code, out)
	}
	if rep, _ := os.ReadFile(report); !strings.Contains(string(rep), "role") {
		t.Fatalf("report: %s", rep)
	}
	if out := mustCLI(t, dir, "publish", "--quiet", "--as", "ca", leaf); !strings.Contains(out, "published 1 new") {
		t.Fatalf("ca member: %s", out)
	}
	if out := mustCLI(t, dir, "status", leaf); !strings.Contains(out, " good") {
		t.Fatalf("status: %s", out)
	}
	mustCLI(t, dir, "revoke", "--as", "ca", "--reason", "cessationOfOperation", leaf)
	if code, out := cli(t, dir, "status", leaf); code != 2 || !strings.Contains(out, "revoked cessationOfOperation") {
		t.Fatalf("after revoke: %s", out)
	}
}

// TestMetricsExported: the flows show up in Prometheus' text format.
func TestMetricsExported(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--count", "3", "--out", devs)
	mustCLI(t, dir, "publish", "--quiet", devs)
	resp, err := http.Get(a.HTTPURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`certchain_transactions_total{type="publish",verdict="accepted"} 3`,
		`certchain_ledger_height 1`,
		`certchain_block_apply_seconds_count 1`,
		`certchain_raft_state 2`,
		`certchain_http_requests_total{code="200",method="POST",route="/v1/certificates/stream"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
