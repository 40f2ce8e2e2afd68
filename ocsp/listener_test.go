package ocsp

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/ocsp"
)

// repairServer serves, on a RepairListener over loopback, the responder
// at /ocsp and elsewhere an echo of the SHA-256 of the request body (as
// api.Server.Handler mounts OCSP ahead of its router).
func repairServer(t *testing.T, r *Responder) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/ocsp" || strings.HasPrefix(req.URL.Path, "/ocsp/") {
			r.ServeHTTP(w, req)
			return
		}
		b, _ := io.ReadAll(req.Body)
		sum := sha256.Sum256(b)
		io.WriteString(w, hex.EncodeToString(sum[:]))
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(RepairListener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange writes raw on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []*http.Response
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", len(out)+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

func isMalformed(resp *http.Response) bool {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "application/ocsp-response" && bytes.Equal(b, respMalformed)
}

func bodyOf(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRepairListener: request targets net/http refuses to parse, and
// HTTP/1.1 OCSP requests without Host, get an OCSP malformedRequest, not
// net/http's plain-text 400; good requests, bodies on the same
// connection and other paths are untouched.
func TestRepairListener(t *testing.T) {
	f := newFixture(t, nil)
	addr := repairServer(t, f.r)
	s := f.device(t, nil, certchain.StatusGood, 0)
	valid := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString(newRequest(t, s, crypto.SHA1)))
	trap := "\r\nGET /ocsp/%% HTTP/1.1\r\nContent-Length: 3\r\n\r\n%%%"
	trapSum := sha256.Sum256([]byte(trap))
	for _, c := range []struct {
		name, raw string
		check     []func(*http.Response) bool
	}{
		{"malformed/percent-percent", "GET /ocsp/%% HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{isMalformed}},
		{"malformed/bad-hex", "GET /ocsp/MEow%zz HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{isMalformed}},
		{"malformed/trailing-percent", "GET /ocsp/MEow% HTTP/1.0\r\n\r\n", []func(*http.Response) bool{isMalformed}},
		{"malformed/short-escape", "HEAD /ocsp/MEow%2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []func(*http.Response) bool{func(r *http.Response) bool {
			return r.StatusCode == http.StatusOK && r.Header.Get("Content-Type") == "application/ocsp-response"
		}}},
		{"malformed/control-character", "GET /ocsp/ME\x01ow HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{isMalformed}},
		{"malformed/no-host-http11", "GET /ocsp/%% HTTP/1.1\r\n\r\n", []func(*http.Response) bool{isMalformed}},
		{"malformed/post-no-host-http11", "POST /ocsp HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", []func(*http.Response) bool{isMalformed}},
		{"ok/escaped-valid-request", "GET /ocsp/" + valid + " HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{func(r *http.Response) bool {
			got, err := ocsp.ParseResponseForCert([]byte(bodyOf(r)), s.cert, f.pki.infra.Cert)
			return err == nil && got.Status == ocsp.Good
		}}},
		{"keep-alive/body-looks-like-a-request", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(trap)) + "\r\n\r\n" + trap +
			"GET /ocsp/%% HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{
			func(r *http.Response) bool { return bodyOf(r) == hex.EncodeToString(trapSum[:]) }, isMalformed}},
		{"untouched/other-path", "GET /v1/%% HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{func(r *http.Response) bool {
			return r.StatusCode == http.StatusBadRequest // net/http's own answer: not OCSP's business
		}}},
		{"limit/after-a-chunked-body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
			"GET /ocsp/%% HTTP/1.1\r\nHost: x\r\n\r\n", []func(*http.Response) bool{
			func(r *http.Response) bool { return bodyOf(r) == sha256Hex("abc") },
			func(r *http.Response) bool { return r.StatusCode == http.StatusBadRequest }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, resp := range exchange(t, addr, c.raw, len(c.check)) {
				if !c.check[i](resp) {
					t.Fatalf("response %d: %s %v %q", i+1, resp.Status, resp.Header, bodyOf(resp))
				}
			}
		})
	}
}

// TestRepairListenerKeepsConnections: a client's requests share one
// keep-alive connection through a RepairListener, as they do without it
// (net/http ends its background read of an idle connection with a read
// deadline, which must not end the connection).
func TestRepairListenerKeepsConnections(t *testing.T) {
	f := newFixture(t, nil)
	addr := repairServer(t, f.r)
	var reused int
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused++
		}
	}}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 5 {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, "http://"+addr+"/ocsp/%25%25", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if !isMalformed(resp) {
			t.Fatalf("request %d: %s %q", i+1, resp.Status, bodyOf(resp))
		}
		resp.Body.Close()
	}
	if reused != 4 {
		t.Fatalf("%d of 4 later requests reused the connection", reused)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// chunkedConn reads from data in the given chunk sizes, then io.EOF.
type chunkedConn struct {
	net.Conn
	data  []byte
	sizes []int
}

func (c *chunkedConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n, c.sizes = max(1, min(n, c.sizes[0])), c.sizes[1:]
	}
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// repaired reads everything through a repairConn fed in chunks of sizes,
// into reads of readSize bytes.
func repaired(data []byte, sizes []int, readSize int) []byte {
	c := &repairConn{Conn: &chunkedConn{data: data, sizes: sizes}}
	var out []byte
	buf := make([]byte, max(1, readSize))
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
	}
}

// FuzzRepairListener: however the bytes arrive and are read, the
// repaired stream is the same; a stream naming no /ocsp path is passed
// on unchanged; nothing is lost.
func FuzzRepairListener(f *testing.F) {
	f.Add([]byte("GET /ocsp/%% HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(3), uint8(7))
	f.Add([]byte("POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET /ocsp/a%zz HTTP/1.1\r\n\r\n"), uint8(1), uint8(1))
	f.Add([]byte("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /ocsp/% HTTP/1.0\r\n\r\n"), uint8(5), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk, read uint8) {
		whole := repaired(data, nil, 1<<16)
		sizes := make([]int, len(data))
		for i := range sizes {
			sizes[i] = int(chunk)%13 + i%3 + 1
		}
		if got := repaired(data, sizes, int(read)%17+1); !bytes.Equal(got, whole) {
			t.Fatalf("chunking changed the stream:\n%q\n%q", got, whole)
		}
		if len(whole) < len(data) {
			t.Fatalf("bytes lost: %d of %d", len(whole), len(data))
		}
		if !bytes.Contains(data, []byte("/ocsp")) && !bytes.Equal(whole, data) {
			t.Fatalf("a stream without /ocsp changed:\n%q\n%q", data, whole)
		}
	})
}
