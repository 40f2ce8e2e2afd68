package ocsp

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ocsp"
)

// rawGET sends "GET path HTTP/1.0" over a fresh TCP connection, as nginx
// stapling does, and returns the raw head and the body read to EOF.
func rawGET(t testing.TB, srvURL, path string) (*http.Response, string, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: ocsp.test\r\n\r\n", path)
	raw, err := io.ReadAll(conn) // HTTP/1.0: the server closes when done
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("response to HTTP/1.0: %v\n%s", err, raw)
	}
	return resp, string(head), body
}

// oddSerial makes base64 requests with "////" and "+/v7" in them: its
// bytes are 0xff and 0xfb runs, long enough for any alignment.
var oddSerial = new(big.Int).SetBytes([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb})

// TestGETPathForms sends one request in every form clients produce: raw
// base64 with "/", "//" and "+", url-encoded (upper and lower case hex),
// behind a doubled slash, unpadded, URL-safe, over HTTP/1.0 and 1.1.
func TestGETPathForms(t *testing.T) {
	f := newFixture(t, nil)
	s := f.device(t, oddSerial, certchain.StatusGood, 0)
	b64 := base64.StdEncoding.EncodeToString(newRequest(t, s, crypto.SHA1))
	if !strings.Contains(b64, "//") || !strings.Contains(b64, "+") || !strings.HasSuffix(b64, "=") {
		t.Fatalf("request %s lacks //, + or padding: pick another serial", b64)
	}
	forms := map[string]string{
		"ok/raw":             b64,
		"ok/path-escaped":    url.PathEscape(b64),
		"ok/query-escaped":   url.QueryEscape(b64),
		"ok/lowercase-hex":   strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(url.QueryEscape(b64)),
		"ok/double-slash":    "/" + b64,
		"ok/unpadded":        strings.TrimRight(b64, "="),
		"ok/url-safe":        strings.NewReplacer("+", "-", "/", "_").Replace(b64),
		"ok/escaped-padding": strings.ReplaceAll(b64, "=", "%3D"),
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(name, "lowercase") && !strings.Contains(form, "%2b") {
				t.Fatalf("no lowercase escape in %s", form)
			}
			resp, head, body := rawGET(t, f.srv.URL, "/ocsp/"+form)
			checkHTTP10(t, resp, head, body)
			got, err := ocsp.ParseResponseForCert(body, s.cert, f.pki.infra.Cert)
			if err != nil || got.Status != ocsp.Good {
				t.Fatalf("%v %+v", err, got)
			}
		})
	}
}

// checkHTTP10 checks what nginx stapling insists on: 200, the exact
// content type, and a Content-Length matching the body.
func checkHTTP10(t testing.TB, resp *http.Response, head string, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.Contains(head, "\r\nContent-Type: application/ocsp-response\r\n") ||
		!strings.Contains(head, fmt.Sprintf("\r\nContent-Length: %d\r\n", len(body))) {
		t.Fatalf("HTTP/1.0 answer:\n%s", head)
	}
}

// TestCachingHeaders checks the RFC 5019 §6 headers of a cacheable answer
// and that If-None-Match with its ETag gets 304.
func TestCachingHeaders(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Validity = 2 * time.Hour })
	s := f.device(t, nil, certchain.StatusGood, 0)
	u := f.srv.URL + "/ocsp/" + base64.StdEncoding.EncodeToString(newRequest(t, s, crypto.SHA256))
	f.clock.Advance(0)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	now := f.clock.Now().Truncate(time.Second)
	want := map[string]string{
		"Cache-Control": "max-age=7200, public, no-transform, must-revalidate",
		"Last-Modified": now.Format(http.TimeFormat),
		"Expires":       now.Add(2 * time.Hour).Format(http.TimeFormat),
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	f.clock.Advance(10 * time.Second)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("Etag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if len(resp.Header.Get("Etag")) < 10 || again.StatusCode != http.StatusNotModified ||
		again.Header.Get("Cache-Control") != "max-age=7190, public, no-transform, must-revalidate" {
		t.Fatalf("revalidation: %d %v", again.StatusCode, again.Header)
	}
}

// TestMalformedRequests: every bad request gets an OCSP malformedRequest
// response (HTTP 200, the OCSP content type), never HTML or a bare error.
func TestMalformedRequests(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxRequest = 1024 })
	s := f.device(t, nil, certchain.StatusGood, 0)
	good := newRequest(t, s, crypto.SHA1)
	sha384 := sha384Request(t, good)
	many := make([][]byte, maxCertIDs+1)
	for i := range many {
		many[i] = rawCertID(t, good)
	}
	cases := []struct {
		name, method, path string
		body               []byte
		label              string
	}{
		{"fail/post-garbage", "POST", "/ocsp", []byte("hello, responder"), "malformed"},
		{"fail/post-empty", "POST", "/ocsp", nil, "malformed"},
		{"fail/post-truncated", "POST", "/ocsp", good[:len(good)-3], "malformed"},
		{"fail/post-trailing-data", "POST", "/ocsp", append(append([]byte{}, good...), 0), "malformed"},
		{"fail/post-oversized", "POST", "/ocsp", bytes.Repeat([]byte{0x30}, 1025), "malformed"},
		{"fail/post-too-many-certs", "POST", "/ocsp", buildRequest(t, many, nil), "malformed"},
		{"fail/post-sha384-certid", "POST", "/ocsp", sha384, "unsupported"},
		{"fail/get-sha384-certid", "GET", "/ocsp/" + base64.StdEncoding.EncodeToString(sha384), nil, "unsupported"},
		{"fail/get-bad-base64", "GET", "/ocsp/MEow!!", nil, "malformed"},
		{"fail/get-nothing", "GET", "/ocsp/", nil, "malformed"},
		{"fail/get-garbage-der", "GET", "/ocsp/" + base64.StdEncoding.EncodeToString([]byte("garbage")), nil, "malformed"},
		{"fail/get-oversized", "GET", "/ocsp/" + strings.Repeat("MEow", 2000), nil, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.ToFloat64(f.r.m.requests[methodOf(c.method)][outcomeByName(t, c.label)][cacheNone])
			req, _ := http.NewRequest(c.method, f.srv.URL+c.path, bytes.NewReader(c.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			checkError(t, resp, body, http.StatusOK, respMalformed)
			if after := testutil.ToFloat64(f.r.m.requests[methodOf(c.method)][outcomeByName(t, c.label)][cacheNone]); after != before+1 {
				t.Fatalf("requests_total{status=%q} %v -> %v", c.label, before, after)
			}
		})
	}
}

// TestDecodeGET covers what net/http never lets through to the handler
// (bad escapes are refused by its request parser).
func TestDecodeGET(t *testing.T) {
	for _, key := range []string{"ME%zz", "%", "MEow%2"} {
		if _, err := decodeGET(key, DefaultMaxRequest); !errors.Is(err, errMalformed) {
			t.Errorf("%q: %v", key, err)
		}
	}
}

// TestOtherMethods: 405 with Allow, still an OCSP body.
func TestOtherMethods(t *testing.T) {
	f := newFixture(t, nil)
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodOptions} {
		req, _ := http.NewRequest(m, f.srv.URL+"/ocsp", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkError(t, resp, body, http.StatusMethodNotAllowed, respMalformed)
		if resp.Header.Get("Allow") != "GET, HEAD, POST" {
			t.Fatalf("%s: Allow %q", m, resp.Header.Get("Allow"))
		}
	}
}

func checkError(t testing.TB, resp *http.Response, body []byte, code int, want []byte) {
	t.Helper()
	if resp.StatusCode != code || resp.Header.Get("Content-Type") != "application/ocsp-response" ||
		resp.ContentLength != int64(len(want)) || !bytes.Equal(body, want) {
		t.Fatalf("HTTP %d %q length %d body %x, want %d %x", resp.StatusCode, resp.Header.Get("Content-Type"),
			resp.ContentLength, body, code, want)
	}
	if _, err := ocsp.ParseResponse(body, nil); err == nil {
		t.Fatal("x/crypto accepted an error response as a status")
	}
}

func methodOf(m string) method {
	switch m {
	case http.MethodGet, http.MethodHead:
		return methodGET
	case http.MethodPost:
		return methodPOST
	}
	return methodOther
}

func outcomeByName(t testing.TB, name string) outcome {
	for o, n := range outcomeNames {
		if n == name {
			return outcome(o)
		}
	}
	t.Fatalf("no outcome %q", name)
	return 0
}

// sha384Request rewrites a SHA-1 request into one whose CertID claims
// SHA-384 (hash lengths kept: the algorithm is refused first).
func sha384Request(t testing.TB, sha1Req []byte) []byte {
	t.Helper()
	id := decodeCertID(t, rawCertID(t, sha1Req))
	id.Alg.Algorithm = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	return buildRequest(t, [][]byte{id.encode(t)}, nil)
}

// certIDFields is a CertID for tests to take apart and re-encode.
type certIDFields struct {
	Alg      pkix.AlgorithmIdentifier
	NameHash []byte
	KeyHash  []byte
	Serial   *big.Int
}

func decodeCertID(t testing.TB, der []byte) *certIDFields {
	t.Helper()
	var id certIDFields
	if _, err := asn1.Unmarshal(der, &id); err != nil {
		t.Fatal(err)
	}
	return &id
}

func (id *certIDFields) encode(t testing.TB) []byte {
	t.Helper()
	der, err := asn1.Marshal(*id)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
