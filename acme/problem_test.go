package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var allProblemTypes = []ProblemType{
	ErrAccountDoesNotExist, ErrAlreadyReplaced, ErrAlreadyRevoked, ErrBadCSR, ErrBadNonce,
	ErrBadPublicKey, ErrBadRevocationReason, ErrBadSignatureAlgorithm, ErrCAA, ErrCompound,
	ErrConnection, ErrDNS, ErrExternalAccountRequired, ErrIncorrectResponse, ErrInvalidContact, ErrInvalidProfile,
	ErrMalformed, ErrOrderNotReady, ErrRateLimited, ErrRejectedIdentifier, ErrServerInternal,
	ErrTLS, ErrUnauthorized, ErrUnsupportedContact, ErrUnsupportedIdentifier, ErrUserActionRequired,
}

func TestProblemStatus(t *testing.T) {
	for _, tc := range []struct {
		typ  ProblemType
		want int
	}{
		{ErrBadNonce, 400}, // RFC 8555 §6.5
		{ErrMalformed, 400},
		{ErrBadSignatureAlgorithm, 400},
		{ErrUnauthorized, 403},
		{ErrAccountDoesNotExist, 400},
		{ErrOrderNotReady, 403},      // RFC 8555 §7.4
		{ErrUserActionRequired, 403}, // RFC 8555 §7.3.3
		{ErrRateLimited, 429},        // RFC 8555 §6.6
		{ErrServerInternal, 500},
		{ErrAlreadyReplaced, 409},
		{ProblemType("urn:example:unregistered"), 500},
	} {
		t.Run(tc.typ.Name(), func(t *testing.T) {
			if got := tc.typ.Status(); got != tc.want {
				t.Errorf("Status() = %d, want %d", got, tc.want)
			}
		})
	}
	for _, typ := range allProblemTypes {
		if _, ok := problemStatus[typ]; !ok {
			t.Errorf("%s has no status in the table", typ.Name())
		}
		if !strings.HasPrefix(string(typ), "urn:ietf:params:acme:error:") {
			t.Errorf("%s: bad URN", typ)
		}
	}
	if len(problemStatus) != len(allProblemTypes) {
		t.Errorf("status table has %d types, test knows %d", len(problemStatus), len(allProblemTypes))
	}
}

func TestProblemWrapping(t *testing.T) {
	base := ErrBadNonce.Errorf("JWS %w", ErrNonceReplayed)
	wrapped := fmt.Errorf("handling newOrder: %w", fmt.Errorf("checking request: %w", base))

	if !errors.Is(wrapped, ErrBadNonce) {
		t.Error("wrapped problem lost its type")
	}
	if !errors.Is(wrapped, ErrNonceReplayed) {
		t.Error("wrapped problem lost its cause")
	}
	if errors.Is(wrapped, ErrMalformed) {
		t.Error("badNonce matches malformed")
	}
	p, ok := errors.AsType[*Problem](wrapped)
	if !ok || p != base {
		t.Fatalf("errors.As did not find the problem: %v", p)
	}
	if got, want := p.Error(), "acme: badNonce: JWS nonce has already been used"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if p.Status != 400 {
		t.Errorf("Status = %d", p.Status)
	}

	timeout := ErrConnection.Errorf("fetching: %w", context.DeadlineExceeded)
	if !errors.Is(fmt.Errorf("x: %w", timeout), context.DeadlineExceeded) {
		t.Error("cause not reachable")
	}
	if got := ErrTLS.Errorf("no cause"); got.Unwrap() != nil {
		t.Errorf("Unwrap() = %v, want nil", got.Unwrap())
	}
}

func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantType   ProblemType
		wantStatus int
		wantDetail string
	}{
		{"problem", ErrRateLimited.Errorf("slow down"), ErrRateLimited, 429, "slow down"},
		{"wrapped-problem", fmt.Errorf("ctx: %w", ErrOrderNotReady.Errorf("order is pending")), ErrOrderNotReady, 403, "order is pending"},
		{"bare-type", fmt.Errorf("lookup: %w", ErrAccountDoesNotExist), ErrAccountDoesNotExist, 400, "lookup: accountDoesNotExist"},
		{"plain-error-hidden", errors.New("badger: disk on fire at /var/lib/x"), ErrServerInternal, 500, "internal server error"},
		{"zero-status-filled", &Problem{Type: ErrUnauthorized}, ErrUnauthorized, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ProblemOf(tc.err)
			if p.Type != tc.wantType || p.Status != tc.wantStatus || p.Detail != tc.wantDetail {
				t.Errorf("ProblemOf = %+v, want %s %d %q", p, tc.wantType.Name(), tc.wantStatus, tc.wantDetail)
			}
		})
	}
	if ProblemOf(nil) != nil {
		t.Error("ProblemOf(nil) != nil")
	}
}

func TestWriteProblem(t *testing.T) {
	sub := ErrRejectedIdentifier.Errorf("not allowed by policy")
	sub.Identifier = &Identifier{Type: IdentifierDNS, Value: "evil.example"}
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		wantJSON map[string]any
	}{
		{"ok/bad-nonce", ErrBadNonce.Errorf("JWS %w", ErrNonceExpired), 400, map[string]any{
			"type": "urn:ietf:params:acme:error:badNonce", "detail": "JWS nonce has expired", "status": 400.0}},
		{"ok/algorithms", badAlg(`JWS algorithm "none" is not supported`), 400, map[string]any{
			"type": "urn:ietf:params:acme:error:badSignatureAlgorithm", "detail": `JWS algorithm "none" is not supported`,
			"status": 400.0, "algorithms": []any{"ES256", "ES384", "RS256", "EdDSA"}}},
		{"ok/subproblems", ErrCompound.Errorf("some identifiers refused").WithSubproblems(sub), 403, map[string]any{
			"type": "urn:ietf:params:acme:error:compound", "detail": "some identifiers refused", "status": 403.0,
			"subproblems": []any{map[string]any{
				"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "not allowed by policy",
				"identifier": map[string]any{"type": "dns", "value": "evil.example"},
			}}}},
		{"ok/internal-hidden", errors.New("secret internals"), 500, map[string]any{
			"type": "urn:ietf:params:acme:error:serverInternal", "detail": "internal server error", "status": 500.0}},
		{"ok/rate-limited", fmt.Errorf("wrapped: %w", ErrRateLimited.Errorf("too many orders")), 429, map[string]any{
			"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many orders", "status": 429.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Replay-Nonce", "kept")
			p := WriteProblem(rec, tc.err)
			if rec.Code != tc.status || p.Status != tc.status {
				t.Errorf("status %d (problem %d), want %d", rec.Code, p.Status, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if rec.Header().Get("Replay-Nonce") != "kept" {
				t.Error("caller's header lost")
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.wantJSON)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("body\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestWriteProblemNil(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, nil)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d", rec.Code)
	}
}
