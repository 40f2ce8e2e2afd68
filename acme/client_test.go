package acme

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// clientHarness is the smallest ACME server the building blocks make, on
// 127.0.0.1, for golang.org/x/crypto/acme to talk to: directory, newNonce,
// newAccount (with EAB), keyChange and a POST-as-GET authorization. It
// previews the flow the handlers will follow: ParseJWS, Redeem, CheckURL,
// Verify, then the endpoint's own checks, every error through WriteProblem.
type clientHarness struct {
	srv     *httptest.Server
	dirNode *NonceSource // answers the directory with a nonce (node A)
	node    *NonceSource // serves newNonce and every POST (node B, or A)
	eabKeys map[string][]byte

	mu        sync.Mutex
	accounts  map[string]crypto.PublicKey
	badNonces int
}

func newClientHarness(t *testing.T, sameNode bool) *clientHarness {
	h := &clientHarness{
		dirNode:  NewNonceSource(NonceConfig{Node: "node-a"}),
		eabKeys:  map[string][]byte{"kid-1": bytes.Repeat([]byte{0x5a}, 32)},
		accounts: map[string]crypto.PublicKey{},
	}
	h.node = NewNonceSource(NonceConfig{Node: "node-b"})
	if sameNode {
		h.node = h.dirNode
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dir", h.directory)
	mux.HandleFunc("HEAD /nonce", h.newNonce)
	mux.HandleFunc("POST /new-acct", h.post(h.newAccount))
	mux.HandleFunc("POST /key-change", h.post(h.keyChange))
	mux.HandleFunc("POST /authz/1", h.post(h.authz))
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *clientHarness) client(key crypto.Signer) *xacme.Client {
	return &xacme.Client{
		Key:          key,
		DirectoryURL: h.srv.URL + "/dir",
		HTTPClient:   h.srv.Client(),
		RetryBackoff: func(int, *http.Request, *http.Response) time.Duration { return time.Millisecond },
	}
}

func (h *clientHarness) directory(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Replay-Nonce", h.dirNode.Nonce())
	base := h.srv.URL
	_ = json.NewEncoder(w).Encode(map[string]any{
		"newNonce": base + "/nonce", "newAccount": base + "/new-acct", "newOrder": base + "/new-order",
		"revokeCert": base + "/revoke", "keyChange": base + "/key-change",
		"meta": map[string]any{"externalAccountRequired": true},
	})
}

func (h *clientHarness) newNonce(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Replay-Nonce", h.node.Nonce())
	w.Header().Set("Cache-Control", "no-store")
}

// post wraps an endpoint in the request checks every POST gets.
func (h *clientHarness) post(endpoint func(*JWS, http.ResponseWriter) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", h.node.Nonce())
		err := func() error {
			j, err := ParseJWS(r.Body)
			if err != nil {
				return err
			}
			if err := h.node.Redeem(j.Nonce); err != nil {
				h.mu.Lock()
				h.badNonces++
				h.mu.Unlock()
				return err
			}
			if err := j.CheckURL(h.srv.URL + r.URL.Path); err != nil {
				return err
			}
			if _, err := j.Verify(r.Context(), h.lookup); err != nil {
				return err
			}
			return endpoint(j, w)
		}()
		if err != nil {
			WriteProblem(w, err)
		}
	}
}

func (h *clientHarness) lookup(_ context.Context, kid string) (crypto.PublicKey, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.accounts[kid]; ok {
		return k, nil
	}
	return nil, ErrAccountDoesNotExist.Errorf("no account %q", kid)
}

func (h *clientHarness) newAccount(j *JWS, w http.ResponseWriter) error {
	if j.JWK == nil {
		return ErrMalformed.Errorf("newAccount must be signed with a jwk")
	}
	var req struct {
		Contact []string        `json:"contact"`
		EAB     json.RawMessage `json:"externalAccountBinding"`
	}
	if err := json.Unmarshal(j.Payload(), &req); err != nil {
		return ErrMalformed.Errorf("newAccount payload: %w", err)
	}
	_, err := VerifyEAB(context.Background(), j, req.EAB, func(_ context.Context, id string) ([]byte, error) {
		if k, ok := h.eabKeys[id]; ok {
			return k, nil
		}
		return nil, ErrUnauthorized.Errorf("unknown external account %q", id)
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	kid := fmt.Sprintf("%s/acct/%d", h.srv.URL, len(h.accounts)+1)
	h.accounts[kid] = j.JWK.Key
	h.mu.Unlock()
	w.Header().Set("Location", kid)
	w.WriteHeader(http.StatusCreated)
	return json.NewEncoder(w).Encode(map[string]any{"status": "valid", "contact": req.Contact})
}

func (h *clientHarness) keyChange(j *JWS, w http.ResponseWriter) error {
	old, err := h.lookup(context.Background(), j.KeyID)
	if err != nil {
		return err
	}
	kc, err := VerifyKeyChange(j, old)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.accounts[kc.Account] = kc.NewKey.Key
	h.mu.Unlock()
	return json.NewEncoder(w).Encode(map[string]any{"status": "valid"})
}

func (h *clientHarness) authz(j *JWS, w http.ResponseWriter) error {
	if !j.PostAsGet || j.KeyID == "" {
		return ErrMalformed.Errorf("authorizations are fetched with POST-as-GET and a kid")
	}
	return json.NewEncoder(w).Encode(map[string]any{
		"status": "valid", "identifier": map[string]string{"type": "dns", "value": "svc.example.test"},
	})
}

// The x/crypto/acme client registers with EAB, fetches with POST-as-GET,
// rolls its key over and goes on with the new key, for every key type it
// supports.
func TestXCryptoClientFlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key, new crypto.Signer
	}{
		{"ES256-to-RS256", keyES256(), keyRS2048()},
		{"ES384-to-ES256", keyES384(), keyES256b()},
		{"RS256-to-ES384", keyRS2048(), keyES384()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := newClientHarness(t, true)
			c := h.client(tc.key)
			acct, err := c.Register(ctx, &xacme.Account{
				Contact:                []string{"mailto:ops@example.test"},
				ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: "kid-1", Key: h.eabKeys["kid-1"]},
			}, xacme.AcceptTOS)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			authzURL := h.srv.URL + "/authz/1"
			if _, err := c.GetAuthorization(ctx, authzURL); err != nil {
				t.Fatalf("GetAuthorization: %v", err)
			}
			if err := c.AccountKeyRollover(ctx, tc.new); err != nil {
				t.Fatalf("AccountKeyRollover: %v", err)
			}
			if k, _ := h.lookup(ctx, acct.URI); !sameKey(k, tc.new.Public()) {
				t.Fatal("account key not rolled over")
			}
			if _, err := c.GetAuthorization(ctx, authzURL); err != nil {
				t.Fatalf("GetAuthorization with the new key: %v", err)
			}
			// The old key no longer signs for the account.
			stale := h.client(tc.key)
			stale.KID = xacme.KeyID(acct.URI)
			_, err = stale.GetAuthorization(ctx, authzURL)
			wantACMEError(t, err, ErrMalformed, http.StatusBadRequest)
		})
	}
}

// The directory came from node A (with a nonce, which the client keeps),
// the POSTs go to node B: B answers badNonce, the client drops its nonces,
// fetches one from newNonce (B) and retries cleanly. x/crypto/acme
// ignores the Replay-Nonce of the badNonce answer, so the retry only
// succeeds because newNonce is served by the node the POST reaches.
func TestXCryptoClientRetriesForeignNonce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newClientHarness(t, false)
	c := h.client(keyES256())
	_, err := c.Register(ctx, &xacme.Account{
		ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: "kid-1", Key: h.eabKeys["kid-1"]},
	}, xacme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, err := c.GetAuthorization(ctx, h.srv.URL+"/authz/1"); err != nil {
		t.Fatalf("GetAuthorization: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.badNonces != 1 {
		t.Errorf("%d badNonce answers, want exactly 1 (the first request)", h.badNonces)
	}
}

func TestXCryptoClientProblems(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newClientHarness(t, true)

	// Wrong EAB MAC key: unauthorized, as a problem document the client parses.
	_, err := h.client(keyES256()).Register(ctx, &xacme.Account{
		ExternalAccountBinding: &xacme.ExternalAccountBinding{KID: "kid-1", Key: bytes.Repeat([]byte{1}, 32)},
	}, xacme.AcceptTOS)
	wantACMEError(t, err, ErrUnauthorized, http.StatusForbidden)

	// No binding where one is required.
	_, err = h.client(keyES256()).Register(ctx, &xacme.Account{}, xacme.AcceptTOS)
	wantACMEError(t, err, ErrExternalAccountRequired, http.StatusBadRequest)

	// A kid nobody registered.
	c := h.client(keyES256())
	c.KID = xacme.KeyID(h.srv.URL + "/acct/99")
	_, err = c.GetAuthorization(ctx, h.srv.URL+"/authz/1")
	wantACMEError(t, err, ErrAccountDoesNotExist, http.StatusBadRequest)
}

// wantACMEError checks an x/crypto/acme client error against a problem type
// and status.
func wantACMEError(t *testing.T, err error, typ ProblemType, status int) {
	t.Helper()
	ae, ok := errors.AsType[*xacme.Error](err)
	if !ok {
		t.Fatalf("error %v (%T), want *acme.Error %s", err, err, typ.Name())
	}
	if ae.ProblemType != string(typ) || ae.StatusCode != status {
		t.Fatalf("client saw %s %d (%s), want %s %d", ae.ProblemType, ae.StatusCode, ae.Detail, typ, status)
	}
}
