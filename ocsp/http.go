package ocsp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ServeHTTP answers OCSP over HTTP (RFC 6960 Appendix A, RFC 5019 §5):
// GET {prefix}/ocsp/{url-encoded base64 DER request}, POST of a DER
// request, and HEAD as GET. Every answer, errors included, is an
// OCSPResponse with Content-Type application/ocsp-response and a
// Content-Length. Mount it where no router cleans or redirects paths: the
// base64 may contain "/" and "//".
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		r.serveGET(w, req)
	case http.MethodPost:
		r.servePOST(w, req)
	default:
		r.m.count(methodOther, outcomeMalformed, cacheNone)
		writeError(w, http.StatusMethodNotAllowed, respMalformed)
	}
}

// serveGET answers from the cache by the raw path (no decoding, signing or
// ledger read), else decodes the request.
func (r *Responder) serveGET(w http.ResponseWriter, req *http.Request) {
	key := getKey(req.URL.EscapedPath())
	now := r.cfg.Now()
	if resp := r.cache.hit(key, now); resp != nil {
		resp.write(w, req, r.ages.cacheControl(resp, now))
		r.m.count(methodGET, resp.outcome, cacheHit)
		return
	}
	der, err := decodeGET(key, r.cfg.MaxRequest)
	if err != nil {
		r.fail(w, methodGET, err)
		return
	}
	r.answer(w, req, methodGET, der, strings.Clone(key))
}

// servePOST answers from the cache by the body's bytes, else parses them.
func (r *Responder) servePOST(w http.ResponseWriter, req *http.Request) {
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	body, err := readBody(req, (*bp)[:0], r.cfg.MaxRequest)
	*bp = body[:0]
	if err != nil {
		r.fail(w, methodPOST, err)
		return
	}
	now := r.cfg.Now()
	if resp := r.cache.hitBytes(body, now); resp != nil {
		resp.write(w, req, r.ages.cacheControl(resp, now))
		r.m.count(methodPOST, resp.outcome, cacheHit)
		return
	}
	r.answer(w, req, methodPOST, bytes.Clone(body), string(body))
}

// answer serves a decoded request. alias, the raw form it came in (GET
// path or POST body), becomes a cache key unless the request had a nonce.
func (r *Responder) answer(w http.ResponseWriter, req *http.Request, me method, der []byte, alias string) {
	q, err := parseRequest(der)
	if err != nil {
		r.fail(w, me, err)
		return
	}
	if q.nonce != nil {
		if r.budget.allow(r.cfg.Now()) {
			r.serveNonce(w, me, q)
			return
		}
		r.m.nonceExceeded.Inc()
	}
	if q.unique {
		alias = ""
	}
	r.serveCached(w, req, me, r.cache.slotFor(q, alias))
}

// serveCached serves s's response, signing it first if it has none.
func (r *Responder) serveCached(w http.ResponseWriter, req *http.Request, me method, s *slot) {
	now := r.cfg.Now()
	if resp := s.hit(now); resp != nil {
		resp.write(w, req, r.ages.cacheControl(resp, now))
		r.m.count(me, resp.outcome, cacheHit)
		return
	}
	resp, err := r.fill(req.Context(), s)
	if err != nil {
		r.fail(w, me, err)
		return
	}
	resp.write(w, req, r.ages.cacheControl(resp, r.cfg.Now()))
	r.m.count(me, resp.outcome, cacheMiss)
}

// serveNonce signs a response for this request alone, echoing its nonce.
func (r *Responder) serveNonce(w http.ResponseWriter, me method, q *request) {
	resp, err := r.build(q.ids, q.nonce)
	if err != nil {
		r.fail(w, me, err)
		return
	}
	resp.writeFresh(w)
	r.m.count(me, resp.outcome, cacheNonce)
}

// fail sends the OCSP error response for err.
func (r *Responder) fail(w http.ResponseWriter, me method, err error) {
	o, body := failure(err)
	r.m.count(me, o, cacheNone)
	if o == outcomeError {
		r.cfg.Logger.Warn("ocsp: no response", "err", err)
	} else {
		r.cfg.Logger.Debug("ocsp: refused request", "err", err)
	}
	writeError(w, http.StatusOK, body)
}

// failure is the one table from errors to OCSP error responses.
func failure(err error) (outcome, []byte) {
	switch {
	case errors.Is(err, errUnsupportedHash):
		return outcomeUnsupported, respMalformed
	case errors.Is(err, errMalformed):
		return outcomeMalformed, respMalformed
	case errors.Is(err, errSign):
		return outcomeError, respInternal
	default: // ledger unreadable, client gone
		return outcomeError, respTryLater
	}
}

// getKey returns the base64 part of a GET path: after "/ocsp" and any
// slashes. A DER request starts with 0x30, so its base64 starts with "M"
// and a leading "/" is never part of it (clients that join a base URL
// ending in "/" with "/" send "//").
func getKey(escapedPath string) string {
	return strings.TrimLeft(strings.TrimPrefix(escapedPath, "/ocsp"), "/")
}

// decodeGET decodes the url-encoded base64 of a GET request: %XX escapes,
// "+" kept as is (a space, from clients that form-encode, read as "+"),
// padding optional, the URL-safe alphabet accepted.
func decodeGET(key string, limit int) ([]byte, error) {
	if len(key) == 0 {
		return nil, malformed("no request in the path")
	}
	if len(key) > 3*base64.StdEncoding.EncodedLen(limit) {
		return nil, errTooLarge
	}
	s, err := url.PathUnescape(key)
	if err != nil {
		return nil, malformed("bad escape in path")
	}
	s = strings.TrimRight(strings.Map(normalizeBase64, s), "=")
	der, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, malformed("bad base64 in path")
	}
	if len(der) > limit {
		return nil, errTooLarge
	}
	return der, nil
}

func normalizeBase64(c rune) rune {
	switch c {
	case ' ', '-':
		return '+'
	case '_':
		return '/'
	}
	return c
}

// readBody reads a POST body into buf, up to limit bytes.
func readBody(req *http.Request, buf []byte, limit int) ([]byte, error) {
	if req.ContentLength > int64(limit) {
		return buf, errTooLarge
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 512)
		}
		n, err := req.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > limit:
			return buf, errTooLarge
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, malformed("reading the body: " + err.Error())
		}
	}
}
