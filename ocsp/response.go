package ocsp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Header values shared by every response (never modified: net/http only
// reads them, and a handler that appends gets a copy, since len == cap).
var (
	hdrContentType = []string{"application/ocsp-response"}
	hdrNoStore     = []string{"no-store"}
	hdrNoCache     = []string{"max-age=0, no-cache"}
	hdrAllow       = []string{"GET, HEAD, POST"}
	hdrErrorLength = []string{"5"} // every error response is 5 bytes
)

// response is a signed OCSPResponse with the HTTP headers that go with it,
// formatted once. Its DER is head followed by tail (the signer's certs
// field, shared by all its responses). Times are unix seconds.
type response struct {
	head, tail []byte
	by         *signer // who signed it (SetResponder drops the old responder's)
	outcome    outcome // requests_total status label
	// signed is thisUpdate and producedAt, next nextUpdate; refresh is
	// when Run re-signs a response still in use (half the validity), stale
	// when it is no longer served from the cache (three quarters).
	signed, next, refresh, stale int64

	length, etag, lastModified, expires []string
}

// newResponse splits der (which ends with s.certs) and formats the headers:
// ETag is a quoted prefix of the response's SHA-256, Last-Modified is
// thisUpdate and Expires nextUpdate (RFC 5019 §6.2).
func newResponse(der []byte, s *signer, p period, o outcome) *response {
	sum := sha256.Sum256(der)
	from, to := p.thisUpdate.Unix(), p.nextUpdate.Unix()
	return &response{
		head: bytes.Clone(der[:len(der)-len(s.certs)]), tail: s.certs, by: s, outcome: o,
		signed: from, next: to, refresh: from + (to-from)/2, stale: from + (to-from)*3/4,
		length:       []string{strconv.Itoa(len(der))},
		etag:         []string{`"` + hex.EncodeToString(sum[:16]) + `"`},
		lastModified: []string{p.thisUpdate.Format(http.TimeFormat)},
		expires:      []string{p.nextUpdate.Format(http.TimeFormat)},
	}
}

// fresh reports whether r may still be served from the cache at now.
func (r *response) fresh(now time.Time) bool { return now.Unix() < r.stale }

// ageTable holds the RFC 5019 §6.2 Cache-Control values by max-age (the
// whole seconds left until nextUpdate), made on first use and shared by
// every response: serving one formats nothing.
type ageTable []atomic.Pointer[[]string]

func newAgeTable(validity time.Duration) ageTable {
	return make(ageTable, int(validity/time.Second)+1)
}

// cacheControl returns the Cache-Control value for r at now.
func (t ageTable) cacheControl(r *response, now time.Time) []string {
	left := min(max(r.next-now.Unix(), 0), int64(len(t)-1))
	if v := t[left].Load(); v != nil {
		return *v
	}
	v := []string{"max-age=" + strconv.FormatInt(left, 10) + ", public, no-transform, must-revalidate"}
	t[left].Store(&v)
	return v
}

// write sends r as a cacheable response with Cache-Control cc; a matching
// If-None-Match gets 304.
func (r *response) write(w http.ResponseWriter, req *http.Request, cc []string) {
	h := w.Header()
	h["Content-Type"] = hdrContentType
	h["Cache-Control"] = cc
	h["Etag"] = r.etag
	h["Last-Modified"] = r.lastModified
	h["Expires"] = r.expires
	if inm := req.Header["If-None-Match"]; len(inm) == 1 && inm[0] == r.etag[0] {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = r.length
	w.WriteHeader(http.StatusOK)
	w.Write(r.head)
	w.Write(r.tail)
}

// writeFresh sends a response made for one request (a nonce response):
// not to be stored by any cache.
func (r *response) writeFresh(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrContentType
	h["Cache-Control"] = hdrNoStore
	h["Content-Length"] = r.length
	w.WriteHeader(http.StatusOK)
	w.Write(r.head)
	w.Write(r.tail)
}

// writeError sends an unsigned OCSP error response (see doc.go for why
// with HTTP 200).
func writeError(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrContentType
	h["Cache-Control"] = hdrNoCache
	h["Content-Length"] = hdrErrorLength
	if code == http.StatusMethodNotAllowed {
		h["Allow"] = hdrAllow
	}
	w.WriteHeader(code)
	w.Write(body)
}
