package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// panickyReader is the node's state with a Head that panics.
type panickyReader struct{ Reader }

func (panickyReader) Head() certchain.Header { panic("head exploded") }

// panickyWriter is the node with a Submit that panics.
type panickyWriter struct{ Writer }

func (panickyWriter) Submit(context.Context, []certchain.Tx) ([]raftstore.Result, error) {
	panic("submit exploded")
}

// TestHandlerPanics: a panic anywhere behind the node's top handler (REST
// handlers, a publish stream's goroutines, the OCSP and ACME mounts) is
// answered in the handler's protocol, logged at error level with its stack
// and counted by route; the client reads an answer instead of a cut
// connection, and an NDJSON answer that had begun ends with an error line.
func TestHandlerPanics(t *testing.T) {
	tn := startNode(t, func(s *Server) {
		s.Reader = panickyReader{s.Reader}
		s.Writer = panickyWriter{s.Writer}
		s.OCSP = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("ocsp exploded") })
		s.ACME = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/acme/ndjson" { // an answer that has begun
				w.Header().Set("Content-Type", "application/x-ndjson")
				_, _ = io.WriteString(w, `{"index":0,"state":"published"}`+"\n")
			}
			panic("acme exploded")
		})
	})
	c := tn.client(t, validatortest.Vendor)
	dev := tn.net.SelfSigned(t).PEM()
	for _, tc := range []struct {
		name, method, path, ct string
		body                   []byte
		route                  string
		status                 int
		answerType             string // Content-Type of the answer
		problem                string // problem type, or the stream's error line type
		stack                  string // a frame the logged stack names
	}{
		{"rest/handler", "GET", "/v1/blocks/head", "", nil, "/v1/blocks/head", 500, "application/problem+json",
			problemBase + "internal", "panickyReader.Head"},
		{"rest/publish", "POST", "/v1/certificates", "application/x-pem-file", dev, "/v1/certificates", 500, "application/problem+json",
			problemBase + "internal", "panickyWriter.Submit"},
		{"stream/submission", "POST", "/v1/certificates/stream", "application/x-pem-file", dev, routeStream, 200, "application/x-ndjson",
			problemBase + "internal", "panickyWriter.Submit"},
		{"ocsp/get", "GET", "/ocsp/MAA=", "", nil, "/ocsp", 500, "application/ocsp-response", "", "TestHandlerPanics"},
		{"acme/mount", "POST", "/acme/new-order", "application/jose+json", []byte("{}"), "/acme/*", 500, "application/problem+json",
			"urn:ietf:params:acme:error:serverInternal", "TestHandlerPanics"},
		{"acme/ndjson-begun", "GET", "/acme/ndjson", "", nil, "/acme/*", 200, "application/x-ndjson", problemBase + "internal", "TestHandlerPanics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(tn.srv.panics.WithLabelValues(tc.route))
			logged := len(tn.logs.lines(`"msg":"panic serving a request"`))
			req, err := http.NewRequest(tc.method, tn.ts.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("answer cut: %v", err)
			}
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.answerType) {
				t.Fatalf("answered %d %s, want %d %s: %q", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.answerType, b)
			}
			checkPanicAnswer(t, tc.answerType, b, tc.problem)
			if got := testutil.ToFloat64(tn.srv.panics.WithLabelValues(tc.route)); got != before+1 {
				t.Fatalf("certchain_http_panics_total{route=%q} = %v, want %v", tc.route, got, before+1)
			}
			lines := tn.logs.lines(`"msg":"panic serving a request"`)
			if len(lines) != logged+1 {
				t.Fatalf("%d panic log lines, want %d", len(lines), logged+1)
			}
			last := lines[len(lines)-1]
			if !strings.Contains(last, `"level":"ERROR"`) || !strings.Contains(last, tc.stack) || !strings.Contains(last, `"route":"`+tc.route+`"`) {
				t.Fatalf("log line lacks level, route or stack: %s", last)
			}
		})
	}
	// The connection that carried the panics still serves.
	if code, _ := post(t, c, tn.ts.URL+"/healthz", "", nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("after the panics: %d", code)
	}
}

// checkPanicAnswer checks the body of an answer to a panic: a problem
// document, an OCSP internalError, or NDJSON whose last line is an error
// line (as api/client.PublishStream reads it).
func checkPanicAnswer(t *testing.T, contentType string, b []byte, problem string) {
	t.Helper()
	switch contentType {
	case "application/ocsp-response":
		if !bytes.Equal(b, ocspInternalError) {
			t.Fatalf("OCSP answer %x, want internalError", b)
		}
	case "application/x-ndjson":
		var last StreamLine
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if err := DecodeStreamLine(sc.Bytes(), &last); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
		}
		if last.Error == nil || last.Error.Type != problem || last.Error.Status != 500 {
			t.Fatalf("stream does not end with an internal error line: %q", b)
		}
	default:
		var p Problem
		if err := json.Unmarshal(b, &p); err != nil || p.Type != problem || p.Status != 500 {
			t.Fatalf("problem %q (%v), want type %s", b, err, problem)
		}
	}
}
