package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ocsp"
)

// TestCacheHitReadsNothing: once signed, a response is served to GET (in
// any encoding) and POST without reading the ledger or signing again.
func TestCacheHitReadsNothing(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, nil, certchain.StatusGood, 0)
	der := newRequest(t, s, crypto.SHA256)
	first := f.status(t, http.MethodGet, s, der)
	calls, signs := f.src.calls.Load(), sampleCount(t, f)
	b64 := base64.StdEncoding.EncodeToString(der)
	for _, get := range []string{b64, url.QueryEscape(b64)} {
		resp, _, body := rawGET(t, f.srv.URL, "/ocsp/"+get)
		if resp.StatusCode != http.StatusOK || string(body) != string(first.Raw) {
			t.Fatalf("GET %s: a different answer", get)
		}
	}
	if got := f.status(t, http.MethodPost, s, der); string(got.Raw) != string(first.Raw) {
		t.Fatal("POST: a different answer")
	}
	if f.src.calls.Load() != calls || sampleCount(t, f) != signs {
		t.Fatalf("hits read the ledger (%d -> %d) or signed (%d -> %d)", calls, f.src.calls.Load(), signs, sampleCount(t, f))
	}
	hits := testutil.ToFloat64(f.r.m.requests[methodGET][outcomeGood][cacheHit])
	if hits != 2 || testutil.ToFloat64(f.r.m.requests[methodPOST][outcomeGood][cacheHit]) != 1 {
		t.Fatalf("hit counters: GET %v", hits)
	}
}

func sampleCount(t testing.TB, f *fixture) uint64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "certchain_ocsp_sign_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no certchain_ocsp_sign_seconds")
	return 0
}

// TestRefreshDropsAndResigns: Refresh makes the next answer reflect the
// ledger at once, and Run re-signs it in the background so that the next
// request is a hit again.
func TestRefreshDropsAndResigns(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	s := f.device(t, nil, certchain.StatusGood, 0)
	unknown := f.device(t, nil, certchain.StatusUnknown, 0)
	der, uder := newRequest(t, s, crypto.SHA1), newRequest(t, unknown, crypto.SHA1)
	if f.status(t, http.MethodGet, s, der).Status != ocsp.Good || f.status(t, http.MethodPost, unknown, uder).Status != ocsp.Unknown {
		t.Fatal("before")
	}
	rec := f.src.put(t, s.cert, s.issuer, "", certchain.StatusRevoked, certchain.ReasonKeyCompromise)
	pub := f.src.put(t, unknown.cert, unknown.issuer, "", certchain.StatusGood, 0)
	calls := f.src.calls.Load()
	f.r.Refresh([]*certchain.Record{rec, pub})
	waitFor(t, "background re-signing", func() bool { return f.src.calls.Load() == calls+2 && cachedCount(f.r) == 2 })
	if got := f.status(t, http.MethodGet, s, der); got.Status != ocsp.Revoked || got.RevocationReason != ocsp.KeyCompromise {
		t.Fatalf("after revoke: %+v", got)
	}
	if got := f.status(t, http.MethodPost, unknown, uder); got.Status != ocsp.Good {
		t.Fatalf("after publish: %+v", got)
	}
	if f.src.calls.Load() != calls+2 {
		t.Fatalf("re-signed responses were not served from the cache: %d ledger reads", f.src.calls.Load()-calls)
	}
}

// cachedCount is the number of slots holding a response.
func cachedCount(r *Responder) int {
	r.cache.mu.RLock()
	defer r.cache.mu.RUnlock()
	n := 0
	for _, s := range r.cache.ring {
		if s.resp.Load() != nil {
			n++
		}
	}
	return n
}

// TestRefreshWithoutRun: with nothing re-signing in the background, the
// next request signs the new status itself.
func TestRefreshWithoutRun(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, nil, certchain.StatusGood, 0)
	der := newRequest(t, s, crypto.SHA256)
	f.status(t, http.MethodPost, s, der)
	f.r.Refresh([]*certchain.Record{f.src.put(t, s.cert, s.issuer, "", certchain.StatusSuspended, certchain.ReasonCertificateHold)})
	if got := f.status(t, http.MethodPost, s, der); got.Status != ocsp.Revoked || got.RevocationReason != ocsp.CertificateHold {
		t.Fatalf("after suspend: %+v", got)
	}
}

// TestCacheIsBounded: more certificates than CacheSize never mean more
// responses in memory; evicted ones are signed again when asked for.
func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheSize = 3 })
	var subjects []subject
	for range 10 {
		s := f.device(t, nil, certchain.StatusGood, 0)
		subjects = append(subjects, s)
		f.status(t, http.MethodGet, s, newRequest(t, s, crypto.SHA1))
		f.status(t, http.MethodPost, s, newRequest(t, s, crypto.SHA256))
		checkCache(t, f.r.cache)
	}
	if n := gauge(t, f, "certchain_ocsp_cache_entries"); n != 3 {
		t.Fatalf("cache_entries %v, want 3", n)
	}
	for _, s := range subjects {
		if got := f.status(t, http.MethodGet, s, newRequest(t, s, crypto.SHA1)); got.Status != ocsp.Good {
			t.Fatalf("evicted then asked again: %+v", got)
		}
		checkCache(t, f.r.cache)
	}
}

// checkCache checks the cache's invariants: ring positions, keys and
// index entries belong to cached slots only, and within bounds.
func checkCache(t testing.TB, c *cache) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.ring) > c.max || (len(c.ring) > 0 && c.hand >= len(c.ring)) {
		t.Fatalf("ring %d of %d, hand %d", len(c.ring), c.max, c.hand)
	}
	keys, index := 0, 0
	for i, s := range c.ring {
		if s.pos != i || c.keys[s.canon] != s || len(s.aliases) > maxAliases {
			t.Fatalf("slot %d: pos %d, keyed %v, %d aliases", i, s.pos, c.keys[s.canon] == s, len(s.aliases))
		}
		keys += 1 + len(s.aliases)
		index += len(s.certs)
	}
	for _, list := range c.byCert {
		index -= len(list)
		for _, s := range list {
			if s.pos < 0 {
				t.Fatal("index holds an evicted slot")
			}
		}
	}
	if keys != len(c.keys) || index != 0 {
		t.Fatalf("%d keys for %d expected; index off by %d", len(c.keys), keys, index)
	}
}

func gauge(t testing.TB, f *fixture, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestSweep: at half validity Run re-signs responses asked for since they
// were signed and evicts the others; past three quarters a response is no
// longer served even if nothing re-signed it.
func TestSweep(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Validity = time.Hour })
	hot, cold := f.device(t, nil, certchain.StatusGood, 0), f.device(t, nil, certchain.StatusGood, 0)
	hotReq, coldReq := newRequest(t, hot, crypto.SHA1), newRequest(t, cold, crypto.SHA1)
	signed := f.status(t, http.MethodGet, hot, hotReq).ThisUpdate
	f.status(t, http.MethodGet, cold, coldReq)
	f.clock.Advance(10 * time.Minute)
	f.status(t, http.MethodGet, hot, hotReq) // a hit: hot
	f.clock.Advance(25 * time.Minute)
	f.r.sweep(context.Background(), f.clock.Now())
	checkCache(t, f.r.cache)
	if f.r.cache.len() != 1 {
		t.Fatalf("%d cached, want the hot one only", f.r.cache.len())
	}
	calls := f.src.calls.Load()
	got := f.status(t, http.MethodGet, hot, hotReq)
	if !got.ThisUpdate.Equal(f.clock.Now().Truncate(time.Second)) || got.ThisUpdate.Equal(signed) || f.src.calls.Load() != calls {
		t.Fatalf("hot response not re-signed ahead: thisUpdate %v (first %v)", got.ThisUpdate, signed)
	}
	f.clock.Advance(46 * time.Minute) // past 3/4 of the re-signed response
	if got := f.status(t, http.MethodGet, hot, hotReq); !got.ThisUpdate.Equal(f.clock.Now().Truncate(time.Second)) {
		t.Fatalf("a stale response was served: thisUpdate %v at %v", got.ThisUpdate, f.clock.Now())
	}
}

// TestLedgerFailure: a failing ledger read is tryLater, and is not cached.
func TestLedgerFailure(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, nil, certchain.StatusGood, 0)
	der := newRequest(t, s, crypto.SHA1)
	f.src.setErr(errLedgerDown)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		resp, err := http.Post(f.srv.URL+"/ocsp", "application/ocsp-request", bytesReader(der))
		if m == http.MethodGet {
			resp, err = http.Get(f.srv.URL + "/ocsp/" + base64.StdEncoding.EncodeToString(der))
		}
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		checkError(t, resp, body, http.StatusOK, respTryLater)
	}
	if n := testutil.ToFloat64(f.r.m.requests[methodGET][outcomeError][cacheNone]); n != 1 {
		t.Fatalf("error counter %v", n)
	}
	f.src.setErr(nil)
	if got := f.status(t, http.MethodGet, s, der); got.Status != ocsp.Good {
		t.Fatalf("after recovery: %+v", got)
	}
}

// TestConcurrentMissesSignOnce: many requests for one uncached
// certificate read the ledger and sign once.
func TestConcurrentMissesSignOnce(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, nil, certchain.StatusGood, 0)
	der := newRequest(t, s, crypto.SHA256)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for i := range cap(errs) {
		wg.Go(func() { errs <- askOnce(f.srv.URL, i%2 == 0, der, s) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.src.calls.Load(); n != 1 {
		t.Fatalf("%d ledger reads for one certificate", n)
	}
	checkCache(t, f.r.cache)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// askOnce is one GET or POST from a goroutine other than the test's.
func askOnce(base string, get bool, der []byte, s subject) error {
	resp, err := http.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
	if get {
		resp, err = http.Get(base + "/ocsp/" + base64.StdEncoding.EncodeToString(der))
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	got, err := ocsp.ParseResponseForCert(body, s.cert, nil)
	if err == nil && got.Status != ocsp.Good {
		err = fmt.Errorf("status %d", got.Status)
	}
	return err
}
