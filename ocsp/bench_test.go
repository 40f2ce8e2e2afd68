package ocsp

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

// benchLedger is a fixture whose ledger answers n serials of one issuer
// (one record behind all of them: the responder reads only its status and
// issuer), with a GET path and a POST body per serial.
type benchLedger struct {
	f     *fixture
	s     subject // the real certificate (serial of its own)
	rec   *certchain.Record
	paths []string
	posts [][]byte
}

func newBenchLedger(b *testing.B, n int, tweak func(*Config)) *benchLedger {
	b.Helper()
	f := newFixture(b, func(c *Config) {
		c.CacheSize, c.NonceRate, c.Now = n+16, 1e12, nil
		if tweak != nil {
			tweak(c)
		}
	})
	bl := &benchLedger{f: f, s: f.device(b, nil, certchain.StatusGood, 0)}
	bl.rec = f.src.recs[certKeyOf(b, bl.s)]
	id := decodeCertID(b, rawCertID(b, newRequest(b, bl.s, crypto.SHA1)))
	for i := range n {
		id.Serial = big.NewInt(int64(i) + 1)
		f.src.recs[certKey(id.KeyHash, id.Serial.Bytes())] = bl.rec
		der := buildRequest(b, [][]byte{id.encode(b)}, nil)
		bl.paths = append(bl.paths, "/ocsp/"+base64.StdEncoding.EncodeToString(der))
		bl.posts = append(bl.posts, der)
	}
	return bl
}

// warm signs every response once, through ServeHTTP.
func (bl *benchLedger) warm(b *testing.B) {
	for _, p := range bl.paths {
		if rec := serveGET(bl.f.r, p); rec.Code != http.StatusOK {
			b.Fatalf("warm: %d", rec.Code)
		}
	}
}

func serveGET(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// bareHandler writes body with the same headers a cached answer has,
// from values prepared once: the floor for a GET handler.
func bareHandler(body []byte, hdr http.Header) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range hdr {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// discardWriter is a ResponseWriter reused across iterations, to show the
// handler's own allocations apart from the recorder's.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkGET compares a cached GET through ServeHTTP with a bare
// handler writing the same bytes and headers.
func BenchmarkGET(b *testing.B) {
	bl := newBenchLedger(b, 1, nil)
	bl.warm(b)
	warm := serveGET(bl.f.r, bl.paths[0])
	bare := bareHandler(warm.Body.Bytes(), warm.Header())
	req := httptest.NewRequest(http.MethodGet, bl.paths[0], nil)
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"cached", bl.f.r}, {"bare", bare}} {
		b.Run(h.name+"/recorder", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
		b.Run(h.name+"/reused-writer", func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkGETParallel is the cached GET from every core at once (the
// read lock and the hit bits are shared).
func BenchmarkGETParallel(b *testing.B) {
	bl := newBenchLedger(b, 1024, nil)
	bl.warm(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: make(http.Header)}
		reqs := make([]*http.Request, len(bl.paths))
		for i, p := range bl.paths {
			reqs[i] = httptest.NewRequest(http.MethodGet, p, nil)
		}
		for i := 0; pb.Next(); i++ {
			clear(w.h)
			bl.f.r.ServeHTTP(w, reqs[i%len(reqs)])
		}
	})
}

// BenchmarkPOSTCached is a cached POST: the body is the key.
func BenchmarkPOSTCached(b *testing.B) {
	bl := newBenchLedger(b, 1, nil)
	bl.warm(b)
	body := bl.posts[0]
	httpRecorder(bl.f.r, body)
	w := &discardWriter{h: make(http.Header)}
	rd := bytes.NewReader(body)
	req := httptest.NewRequest(http.MethodPost, "/ocsp", rd)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		bl.f.r.ServeHTTP(w, req)
	}
}

// BenchmarkMissSign is a GET whose response was just dropped by Refresh:
// decode, parse, ledger read (in memory here), sign, cache.
func BenchmarkMissSign(b *testing.B) {
	bl := newBenchLedger(b, 0, nil)
	path := "/ocsp/" + base64.StdEncoding.EncodeToString(newRequest(b, bl.s, crypto.SHA1))
	changed := []*certchain.Record{bl.rec}
	b.ReportAllocs()
	for b.Loop() {
		bl.f.r.Refresh(changed)
		if rec := serveGET(bl.f.r, path); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkNonce is a POST with a nonce within the budget: a fresh
// signature every time.
func BenchmarkNonce(b *testing.B) {
	bl := newBenchLedger(b, 0, nil)
	body := buildRequest(b, [][]byte{rawCertID(b, newRequest(b, bl.s, crypto.SHA256))}, bytes.Repeat([]byte{9}, 16))
	b.ReportAllocs()
	for b.Loop() {
		if httpRecorder(bl.f.r, body) == nil {
			b.Fatal("no response")
		}
	}
}

// BenchmarkCacheMemory reports the heap one cached response costs.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 20_000
	var perEntry float64
	for b.Loop() {
		bl := newBenchLedger(b, n, nil)
		before := heapInUse()
		bl.warm(b)
		perEntry = float64(heapInUse()-before) / n
		runtime.KeepAlive(bl)
	}
	b.ReportMetric(perEntry, "B/entry")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoopback drives GETs for random certificates over loopback
// HTTP/1.1 with 64 concurrent keep-alive clients, against the responder
// (every response cached) and against a bare handler returning a response
// of the same size; it reports the p99 latency beside ns/op.
func BenchmarkLoopback(b *testing.B) {
	for _, n := range []int{10_000} {
		bl := newBenchLedger(b, n, nil)
		bl.warm(b)
		warm := serveGET(bl.f.r, bl.paths[0])
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"ocsp", bl.f.r}, {"bare", bareHandler(warm.Body.Bytes(), warm.Header())}} {
			b.Run(fmt.Sprintf("%s/certs=%d", h.name, n), func(b *testing.B) { loopback(b, h.h, bl.paths) })
		}
	}
}

func loopback(b *testing.B, h http.Handler, paths []string) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			resp, err := client.Get(srv.URL + paths[rand.IntN(len(paths))])
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
