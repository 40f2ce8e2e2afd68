package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
)

// routeStream is the route of the publish stream, whose goroutines
// recover their own panics.
const routeStream = "/v1/certificates/stream"

// ocspInternalError is an OCSPResponse with responseStatus internalError
// (RFC 6960 §4.2.1): what an OCSP client reads when the responder failed.
var ocspInternalError = []byte{0x30, 0x03, 0x0a, 0x01, 0x02}

// recoverPanic, deferred around a handler, answers the handler's panic in
// the handler's own protocol (recoverWrite), logs it at error level with
// the stack and counts it by route. http.ErrAbortHandler, a deliberate
// abort, goes on up to net/http.
func (s *Server) recoverPanic(w *statusWriter, r *http.Request, route func() string) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	rt := route()
	s.recoverWrite(w, rt, s.recovered(rt, v, "method", r.Method, "path", r.URL.Path))
}

// recovered logs and counts a recovered panic and returns the error the
// client is told (no detail of the panic leaves the node).
func (s *Server) recovered(route string, v any, attrs ...any) error {
	s.panics.WithLabelValues(route).Inc()
	s.Logger.Error("panic serving a request", append([]any{"route", route, "panic", fmt.Sprint(v), "stack", string(debug.Stack())}, attrs...)...)
	return fmt.Errorf("internal error on node %s (logged there)", s.NodeID)
}

// recoverWrite answers err after a panic: a 500 problem document (an ACME
// serverInternal problem under /acme, an OCSP internalError under /ocsp)
// when nothing was written yet; an error line ending an NDJSON answer
// that had started (its 200 cannot change); otherwise the connection is
// cut, the only honest end of a half-written answer.
func (s *Server) recoverWrite(w *statusWriter, route string, err error) {
	switch {
	case !w.wrote && route == "/ocsp":
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(ocspInternalError)
	case !w.wrote:
		p := problemFor(err)
		if strings.HasPrefix(route, "/acme") {
			p.Type = "urn:ietf:params:acme:error:serverInternal"
		}
		writeProblem(w, p)
	case strings.HasPrefix(w.Header().Get("Content-Type"), "application/x-ndjson"):
		p := problemFor(err)
		_ = json.NewEncoder(w).Encode(streamEnd{Error: &p})
		_ = http.NewResponseController(w).Flush()
	default:
		panic(http.ErrAbortHandler)
	}
}
