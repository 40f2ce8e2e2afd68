package acme

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// keyMode says how a POST must be signed (RFC 8555 §6.2).
type keyMode int

const (
	jwkKey     keyMode = iota // newAccount: "jwk"
	accountKey                // everything else: "kid" of a valid account
	eitherKey                 // revokeCert: "kid", or the certificate's key as "jwk"
)

// request is a verified ACME POST.
type request struct {
	r       *http.Request
	jws     *JWS
	payload []byte
	account *account // for "kid" requests
	version uint64   // the account's version
}

// postAsGet reports whether the request is a POST-as-GET (§6.3).
func (q *request) postAsGet() bool { return len(q.payload) == 0 }

// decode unmarshals the payload into v strictly: unknown members are
// ignored (RFC 8555 §7.1 allows extensions), malformed JSON is malformed.
func (q *request) decode(v any) error {
	if q.postAsGet() {
		return ErrMalformed.Errorf("this resource needs a JSON payload, not POST-as-GET")
	}
	if err := json.Unmarshal(q.payload, v); err != nil {
		return ErrMalformed.Errorf("request payload: %v", err)
	}
	return nil
}

type handlerFunc func(w http.ResponseWriter, q *request) error

// handle wraps h with RFC 8555 §6 request processing: a bounded body,
// application/jose+json, JWS parse and verification (by jwk or account
// kid as mode says), the "url" header, then the nonce. Every response
// carries a fresh Replay-Nonce and the directory Link; errors are problem
// documents.
func (s *Server) handle(mode keyMode, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.addNonce(w)
		w.Header().Set("Link", link(s.url(pathDirectory), "index"))
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxJWSSize+1))
		if err != nil {
			err = ErrMalformed.Errorf("reading the request: %v", err)
		}
		var jws *JWS
		if err == nil {
			jws, err = ParseJWS(bytes.NewReader(body))
		}
		if err == nil && r.Header.Get(forwardedHeader) == "" {
			if p, ok := s.peerFor(jws.Nonce); ok && s.forward(w, r, p, body) {
				return
			}
		}
		var q *request
		if err == nil {
			q, err = s.verify(r, jws, mode)
		}
		if err == nil {
			err = h(w, q)
		}
		if err != nil {
			p := WriteProblem(w, err)
			s.metrics.problems.WithLabelValues(p.Type.Name()).Inc()
			if p.Type == ErrServerInternal {
				s.log.Error("acme request failed", "path", r.URL.Path, "err", err)
			}
		}
	}
}

func (s *Server) verify(r *http.Request, jws *JWS, mode keyMode) (*request, error) {
	if ct := r.Header.Get("Content-Type"); !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), "application/jose+json") {
		p := ErrMalformed.Errorf("Content-Type must be application/jose+json, not %q", ct)
		p.Status = http.StatusUnsupportedMediaType
		return nil, p
	}
	q := &request{r: r, jws: jws}
	var err error
	switch {
	case mode == jwkKey && jws.JWK == nil:
		return nil, ErrMalformed.Errorf(`this request must carry the account key as "jwk", not "kid"`)
	case mode == accountKey && jws.KeyID == "":
		return nil, ErrMalformed.Errorf(`this request must be signed with an account key ("kid"), not "jwk"`)
	}
	if jws.KeyID != "" {
		q.payload, err = jws.Verify(r.Context(), func(ctx context.Context, kid string) (crypto.PublicKey, error) {
			a, v, err := s.accountByURL(ctx, kid)
			if err != nil {
				return nil, err
			}
			if a.Status != statusValid {
				return nil, ErrUnauthorized.Errorf("account %s is %s", kid, a.Status)
			}
			q.account, q.version = a, v
			return a.Key.Key, nil
		})
	} else {
		q.payload, err = jws.Verify(r.Context(), nil)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkURL(jws, r); err != nil {
		return nil, err
	}
	if err := s.nonces.Redeem(jws.Nonce); err != nil {
		return nil, err
	}
	q.payload = bytes.TrimSpace(q.payload)
	if string(q.payload) == `""` { // some clients send an empty JSON string for POST-as-GET
		q.payload = nil
	}
	return q, nil
}

// requestURL is the URL the client addressed: the configured base (the
// node's or its load balancer's external URL) and the request path.
func (s *Server) requestURL(r *http.Request) string {
	return strings.TrimSuffix(s.base, "/acme") + r.URL.EscapedPath()
}

// accountByURL looks up the account a "kid" names. Only the path counts:
// behind a load balancer, or when a client moves from one node to another,
// the host of the account URL differs from this node's, and the signature,
// not the host, proves who is asking.
func (s *Server) accountByURL(ctx context.Context, kid string) (*account, uint64, error) {
	i := strings.LastIndex(kid, "/acme"+pathAccount)
	if i < 0 {
		return nil, 0, ErrAccountDoesNotExist.Errorf("kid %q is not an account URL of this CA", kid)
	}
	id := kid[i+len("/acme"+pathAccount):]
	a, v, err := s.getAccount(ctx, id)
	if errors.Is(err, ErrNoObject) {
		return nil, 0, ErrAccountDoesNotExist.Errorf("no account %q", kid)
	}
	return a, v, err
}
