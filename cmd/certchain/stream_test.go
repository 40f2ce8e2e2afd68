package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	apiclient "github.com/certchain/certchain/api/client"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

// memberClient is the Go client of the node in dir, as the profile's
// default member (the vendor).
func memberClient(t testing.TB, dir string) *apiclient.Client {
	t.Helper()
	co := clientOptions{data: dir}
	c, err := co.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// devicePEMs makes n device certificates of network (PEM).
func devicePEMs(t testing.TB, network string, n int) []string {
	t.Helper()
	ders := makeDERs(t, network, fmt.Sprintf("stream-%d-", time.Now().UnixNano()), n)
	out := make([]string, n)
	for i, d := range ders {
		out[i] = pemString(d)
	}
	return out
}

func seqOf(certs []string) iter.Seq[api.StreamItem] {
	return func(yield func(api.StreamItem) bool) {
		for _, c := range certs {
			if !yield(api.StreamItem{Certificate: c}) {
				return
			}
		}
	}
}

// TestPublishStream streams certificates with bad ones among them: every
// entry gets its own result, in order, and the summary adds up.
func TestPublishStream(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	certs := devicePEMs(t, a.Network.Genesis.NetworkID, 2500)
	foreign := devicePEMs(t, "another-consortium", 1)[0]
	certs[7] = foreign
	certs[50] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
	certs[1200] = certs[0] // the same certificate again, later in the stream
	var got []api.StreamResult
	sum, err := memberClient(t, dir).PublishStream(context.Background(), seqOf(certs), func(r api.StreamResult) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(certs) {
		t.Fatalf("%d results for %d certificates", len(got), len(certs))
	}
	for i, r := range got {
		want := api.StatePublished
		if i == 7 || i == 50 {
			want = api.StateRejected
		}
		// Chunks are in flight together, so either copy of the repeated
		// certificate may reach the ledger first; the other is already there.
		if r.Index != i || r.State != want || (i != 0 && i != 1200 && r.AlreadyPublished) {
			t.Fatalf("result %d: %+v, want index %d state %s", i, r, i, want)
		}
		if i == 50 {
			continue // not a certificate
		}
		blk, _ := pem.Decode([]byte(certs[i]))
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != certchain.Sum(c.Raw).String() || r.Serial != c.SerialNumber.Text(16) {
			t.Fatalf("result %d: id %s serial %s, want %s %s", i, r.ID, r.Serial, certchain.Sum(c.Raw), c.SerialNumber.Text(16))
		}
	}
	if got[0].AlreadyPublished == got[1200].AlreadyPublished {
		t.Fatalf("the repeated certificate: already published at 0: %v, at 1200: %v; want exactly one", got[0].AlreadyPublished, got[1200].AlreadyPublished)
	}
	if !strings.HasPrefix(got[7].Reason, "network-id") || !strings.Contains(got[50].Reason, "der") {
		t.Fatalf("reasons: %q, %q", got[7].Reason, got[50].Reason)
	}
	want := api.StreamSummary{Published: 2497, AlreadyPublished: 1, Rejected: 2, Height: sum.Height}
	if *sum != want || sum.Height == 0 {
		t.Fatalf("summary %+v, want %+v", *sum, want)
	}
	mustCLI(t, dir, "ledger", "audit", "--url", a.HTTPSURL)
}

// TestPublishStreamCutOffThenResent: a stream broken off part-way leaves a
// consistent ledger, and sending everything again publishes the rest
// (what was already published is answered as such).
func TestPublishStreamCutOffThenResent(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	certs := devicePEMs(t, a.Network.Genesis.NetworkID, 3000)
	c := memberClient(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := c.PublishStream(ctx, seqOf(certs), func(api.StreamResult) {
		if n++; n == 1000 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("a cancelled stream reported success")
	}
	mustCLI(t, dir, "ledger", "audit", "--url", a.HTTPSURL)
	sum, err := c.PublishStream(context.Background(), seqOf(certs), func(r api.StreamResult) {
		if r.State != api.StatePublished {
			t.Errorf("resent %d: %+v", r.Index, r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Published+sum.AlreadyPublished != len(certs) || sum.AlreadyPublished < 1000 {
		t.Fatalf("resend summary %+v: want all %d on the ledger, at least 1000 already", *sum, len(certs))
	}
	mustCLI(t, dir, "ledger", "audit", "--url", a.HTTPSURL)
}

// TestPublishBackpressure: with a pending queue far smaller than a batch,
// whatever the queue could not take is answered "retry" (nothing lost,
// nothing rejected, nothing written twice), and the CLI gets everything
// through by sending again. (Whether a given batch overflows depends on
// how fast the batcher drains the queue; raftstore's TestBusyWhenQueueFull
// forces the overflow.)
func TestPublishBackpressure(t *testing.T) {
	dir := t.TempDir()
	a := startAppWith(t, dir, func(c *Config) { c.MaxPending = 100 })
	certs := devicePEMs(t, a.Network.Genesis.NetworkID, 1200)
	c := memberClient(t, dir)
	resp, err := c.Publish(context.Background(), []byte(strings.Join(certs[:1000], "")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rejected != 0 || resp.Published+resp.Retry != 1000 {
		t.Fatalf("1000 certificates into a queue of 100: %d published, %d retry, %d rejected", resp.Published, resp.Retry, resp.Rejected)
	}
	devs := t.TempDir()
	for i, p := range certs {
		if err := os.WriteFile(filepath.Join(devs, fmt.Sprintf("d%05d.pem", i)), []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := mustCLI(t, dir, "publish", "--quiet", devs)
	want := fmt.Sprintf("published %d new, %d already on the ledger, 0 rejected", 1200-resp.Published, resp.Published)
	if !strings.Contains(out, want) {
		t.Fatalf("publish after backpressure: %s\nwant %s", out, want)
	}
}

// TestTooManyPublishes: beyond --max-publishes the node answers 429 with
// Retry-After, and the Go client waits and sends again.
func TestTooManyPublishes(t *testing.T) {
	dir := t.TempDir()
	a := startAppWith(t, dir, func(c *Config) { c.MaxPublishes = 1 })
	certs := devicePEMs(t, a.Network.Genesis.NetworkID, 2)
	c := memberClient(t, dir)
	hold, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() { // a stream that keeps its slot until released
		_, err := c.PublishStream(context.Background(), func(yield func(api.StreamItem) bool) {
			yield(api.StreamItem{Certificate: certs[0]})
			<-release
		}, func(api.StreamResult) { close(hold) }) // answered: the node holds the slot
		held <- err
	}()
	<-hold
	raw, err := http.NewRequest(http.MethodPost, c.BaseURL+"/v1/certificates", strings.NewReader(certs[1]))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.HTTP.Do(raw)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("second publish while the slot is held: %s, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	resp, err := c.Publish(context.Background(), []byte(certs[1]))
	if err != nil || resp.Published != 1 {
		t.Fatalf("publish after Retry-After: %+v %v", resp, err)
	}
	if err := <-held; err != nil {
		t.Fatalf("held stream: %v", err)
	}
	if refused := metricValue(t, a, `certchain_http_requests_total{code="429",method="POST",route="/v1/certificates"}`); refused < 2 {
		t.Fatalf("429 answers counted: %v, want the raw one and at least one the client retried", refused)
	}
	sum, err := c.PublishStream(context.Background(), seqOf(nil), func(api.StreamResult) {})
	if err != nil || *sum != (api.StreamSummary{}) {
		t.Fatalf("an empty stream: %+v %v", sum, err)
	}
}

// metricValue reads one sample of the node's /metrics.
func metricValue(t *testing.T, a *App, sample string) float64 {
	t.Helper()
	resp, err := http.Get(a.HTTPURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestMemberRateLimit: a member that sends writes faster than its budget
// gets 429 with a Retry-After of when its next request is allowed, other
// members are not held back, and the Go client waits and gets through.
func TestMemberRateLimit(t *testing.T) {
	dir := t.TempDir()
	a := startAppWith(t, dir, func(c *Config) { c.MemberRate, c.MemberBurst = 0.5, 2 })
	certs := devicePEMs(t, a.Network.Genesis.NetworkID, 4)
	vendor := httpsClient(t, a, "vendor")
	post := func(c *http.Client, body string) *http.Response {
		t.Helper()
		r, err := c.Post(a.HTTPSURL+"/v1/certificates", "application/x-pem-file", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	for i := range 2 { // the burst
		if r := post(vendor, certs[i]); r.StatusCode != http.StatusOK {
			t.Fatalf("write %d within the burst: %s", i, r.Status)
		}
	}
	head := a.Node.State().Head()
	r := post(vendor, certs[2])
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("write beyond the budget: %s, Retry-After %q (want 429, 2)", r.Status, r.Header.Get("Retry-After"))
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("a throttled write moved the ledger from %d to %d", head.Height, h.Height)
	}
	if r := post(httpsClient(t, a, "admin"), certs[3]); r.StatusCode != http.StatusOK {
		t.Fatalf("another member while the vendor is throttled: %s", r.Status)
	}
	c := memberClient(t, dir)
	if resp, err := c.Publish(context.Background(), []byte(certs[2])); err != nil || resp.Published != 1 {
		t.Fatalf("the Go client after Retry-After: %+v %v", resp, err)
	}

	// Owner-signed requests share one budget per node.
	der, key, err := pki.NewDevice(pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: "owned"})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := pki.EncodeKeyPEM(key)
	keyFile := filepath.Join(t.TempDir(), "owned.key")
	writeFile(t, keyFile, keyPEM)
	if r := post(httpsClient(t, a, "admin"), string(pki.EncodeCertPEM(der))); r.StatusCode != http.StatusOK {
		t.Fatalf("publish: %s", r.Status)
	}
	id := certchain.Sum(der).String()
	anon := httpsClient(t, a, "")
	for i, action := range []string{"suspend", "resume", "suspend"} {
		proof, err := ownerProof(context.Background(), &clientOptions{data: dir}, action, id, "", "", keyFile)
		if err != nil {
			t.Fatal(err)
		}
		r, err := anon.Post(a.HTTPSURL+"/v1/certificates/"+id+"/"+action, "application/jose+json", strings.NewReader(proof))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 2]; r.StatusCode != want || (i == 2 && r.Header.Get("Retry-After") == "") {
			t.Fatalf("owner request %d (%s): %s, want %d with Retry-After on 429", i, action, r.Status, want)
		}
	}
}
