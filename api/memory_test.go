package api

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/validator/validatortest"
)

// countingListener counts the bytes read from each accepted connection.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.mu.Lock()
	l.conns = append(l.conns, n)
	l.mu.Unlock()
	return &countingConn{Conn: c, n: n}, nil
}

// read returns the bytes read from each connection so far.
func (l *countingListener) read() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, len(l.conns))
	for i, n := range l.conns {
		out[i] = n.Load()
	}
	return out
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// stallingBody yields size bytes of garbage from one shared buffer (the
// client allocates nothing per byte), then blocks until release closes.
type stallingBody struct {
	left    int
	release <-chan struct{}
}

var garbage = bytes.Repeat([]byte("garbage\n"), 4<<10)

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		<-b.release
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), b.left)], garbage)
	b.left -= n
	return n, nil
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHostileBodiesStayInBudget: 24 members' publish requests at once,
// 16 of them chunked bodies of garbage that stall just under the publish
// limit (held open, the worst case for memory) and 8 declaring a
// Content-Length over it. The node reads no byte of the 8 (413 before
// "100 Continue"), takes as many of the 16 as Limits.BodyMemory holds
// (each reserves the limit) and answers the rest 429 at once; with all of
// them in the node at the same moment, its live heap has grown by no more
// than the budget. (Before the budget each body was read whole, with
// io.ReadAll's doubling copies: 16 × 32 MiB bodies took a node to 870 MiB
// resident.)
func TestHostileBodiesStayInBudget(t *testing.T) {
	const (
		limit  = 2 << 20
		budget = 8 << 20
		stall  = limit - limit/4 // bytes each chunked body sends before it stalls
	)
	var ln *countingListener
	tn := startNodeWith(t, validatortest.NewNetworkAt(t, time.Now().UTC()), nodeOptions{
		server:   func(s *Server) { s.Limits.PublishBody, s.Limits.BodyMemory, s.Limits.Publishes = limit, budget, 64 },
		listener: func(l net.Listener) net.Listener { ln = &countingListener{Listener: l}; return ln },
	})
	c := tn.client(t, validatortest.Vendor)
	c.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute // wait for the node's word, however long
	c.Transport.(*http.Transport).MaxConnsPerHost = 0
	base := liveHeap()
	release := make(chan struct{})
	released := sync.OnceFunc(func() { close(release) })
	defer released()

	type answer struct {
		status  int
		problem string
	}
	answers := make(chan answer, 24)
	send := func(body io.Reader, length int64, expect bool) {
		req, _ := http.NewRequest(http.MethodPost, tn.ts.URL+"/v1/certificates", body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/x-pem-file")
		if expect {
			req.Header.Set("Expect", "100-continue")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Error(err)
			answers <- answer{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a := answer{status: resp.StatusCode}
		if resp.StatusCode != 200 {
			p := decodeProblem(t, b)
			a.problem = p.Type + " " + p.Detail
		}
		answers <- a
	}
	for range 8 {
		go send(&stallingBody{left: 3 * limit, release: release}, 3*limit, true)
	}
	for range 16 {
		go send(&stallingBody{left: stall, release: release}, -1, false)
	}

	// The moment of the test: every request answered or being read, the
	// read ones holding stall bytes in the node.
	got := map[int]int{}
	deadline := time.After(2 * time.Minute)
	for inNode := 0; got[413]+got[429]+inNode < 24; inNode = countAtLeast(ln.read(), stall) {
		select {
		case a := <-answers:
			got[a.status]++
			if a.status == 413 && !strings.HasPrefix(a.problem, problemBase+"too-large ") || a.status == 429 && !strings.HasPrefix(a.problem, problemBase+"too-many-requests ") {
				t.Fatalf("answered %d %s", a.status, a.problem)
			}
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("answers %v, %d bodies in the node: want 24 in all", got, countAtLeast(ln.read(), stall))
		}
	}
	peak := liveHeap()
	held := tn.srv.bodyBytes.Load()
	if got[413] != 8 || got[429] != 16-budget/limit || held != budget {
		t.Fatalf("answers %v, %d bytes held; want 8 × 413, %d × 429, %d held", got, held, 16-budget/limit, budget)
	}
	for i, n := range ln.read() {
		if n > stall/2 && n < stall {
			t.Fatalf("connection %d: %d bytes read, neither a refused one nor a held one", i, n)
		}
	}
	if grown := int64(peak) - int64(base); grown > budget+budget/2 {
		t.Fatalf("live heap grew by %d MiB with the bodies held, budget %d MiB", grown>>20, budget>>20)
	} else {
		t.Logf("live heap grew by %.1f MiB with %d MiB of bodies held (budget %d MiB)", float64(grown)/(1<<20), held>>20, budget>>20)
	}
	released()
	for range budget / limit { // the held bodies end: garbage, refused as such
		if a := <-answers; a.status != 422 {
			t.Fatalf("a held body ended with %d %s", a.status, a.problem)
		}
	}
	if held := tn.srv.bodyBytes.Load(); held != 0 {
		t.Fatalf("%d bytes still held after every request ended", held)
	}
}

func countAtLeast(ns []int64, n int64) (k int) {
	for _, v := range ns {
		if v >= n {
			k++
		}
	}
	return k
}

// TestReadBodyAllocates: reading a body allocates about its size once (a
// Content-Length sizes the buffer; a chunked body grows its buffer by
// doubling, never past the limit), where io.ReadAll allocated several
// times a large body's size in growing copies.
func TestReadBodyAllocates(t *testing.T) {
	s := &Server{Limits: DefaultLimits()}
	const size = 4 << 20
	body := bytes.Repeat([]byte("x"), size)
	for _, tc := range []struct {
		name    string
		length  int64
		maxSize float64 // bytes allocated, in multiples of size
	}{
		{"content-length", size, 1.05},
		{"chunked", -1, 2.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/", bytes.NewReader(body))
			r.ContentLength = tc.length
			b, err := s.readBody(httptest.NewRecorder(), r, s.Limits.PublishBody)
			runtime.ReadMemStats(&after)
			if err != nil || len(b) != size {
				t.Fatalf("read %d bytes, %v", len(b), err)
			}
			if got := float64(after.TotalAlloc-before.TotalAlloc) / size; got > tc.maxSize {
				t.Fatalf("allocated %.2f × the body, want at most %.2f", got, tc.maxSize)
			}
		})
	}
}

// TestStalledBodyTimesOut: a body that stops arriving is answered 408
// after Limits.BodyTime, and what it held of Limits.BodyMemory is given
// back: a stalled client cannot pin the budget.
func TestStalledBodyTimesOut(t *testing.T) {
	tn := startNode(t, func(s *Server) { s.Limits.BodyTime = 300 * time.Millisecond })
	release := make(chan struct{})
	defer close(release)
	for _, length := range []int64{-1, 1 << 20} { // chunked, and a Content-Length never reached
		req, _ := http.NewRequest(http.MethodPost, tn.ts.URL+"/v1/certificates", &stallingBody{left: 10 << 10, release: release})
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/x-pem-file")
		code, b := do(t, tn.client(t, validatortest.Vendor), req)
		if p := decodeProblem(t, b); code != http.StatusRequestTimeout || p.Type != problemBase+"body-timeout" {
			t.Fatalf("length %d: answered %d %s", length, code, p.Type)
		}
		if held := tn.srv.bodyBytes.Load(); held != 0 {
			t.Fatalf("length %d: %d bytes still held", length, held)
		}
	}
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
