package acme

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ProblemType is an ACME error type URI (RFC 8555 §6.7). It implements
// error so that each type doubles as a sentinel:
// errors.Is(err, ErrBadNonce) holds for any *Problem of that type, however
// deeply wrapped.
type ProblemType string

// problemPrefix is the URN namespace of the ACME error types.
const problemPrefix = "urn:ietf:params:acme:error:"

// The ACME error types of RFC 8555 §6.7 (and RFC 9773 for alreadyReplaced).
const (
	ErrAccountDoesNotExist     ProblemType = problemPrefix + "accountDoesNotExist"
	ErrAlreadyReplaced         ProblemType = problemPrefix + "alreadyReplaced"
	ErrAlreadyRevoked          ProblemType = problemPrefix + "alreadyRevoked"
	ErrBadCSR                  ProblemType = problemPrefix + "badCSR"
	ErrBadNonce                ProblemType = problemPrefix + "badNonce"
	ErrBadPublicKey            ProblemType = problemPrefix + "badPublicKey"
	ErrBadRevocationReason     ProblemType = problemPrefix + "badRevocationReason"
	ErrBadSignatureAlgorithm   ProblemType = problemPrefix + "badSignatureAlgorithm"
	ErrCAA                     ProblemType = problemPrefix + "caa"
	ErrCompound                ProblemType = problemPrefix + "compound"
	ErrConnection              ProblemType = problemPrefix + "connection"
	ErrDNS                     ProblemType = problemPrefix + "dns"
	ErrExternalAccountRequired ProblemType = problemPrefix + "externalAccountRequired"
	ErrIncorrectResponse       ProblemType = problemPrefix + "incorrectResponse"
	ErrInvalidContact          ProblemType = problemPrefix + "invalidContact"
	// ErrInvalidProfile is an order for a profile the CA does not offer
	// (draft-ietf-acme-profiles).
	ErrInvalidProfile        ProblemType = problemPrefix + "invalidProfile"
	ErrMalformed             ProblemType = problemPrefix + "malformed"
	ErrOrderNotReady         ProblemType = problemPrefix + "orderNotReady"
	ErrRateLimited           ProblemType = problemPrefix + "rateLimited"
	ErrRejectedIdentifier    ProblemType = problemPrefix + "rejectedIdentifier"
	ErrServerInternal        ProblemType = problemPrefix + "serverInternal"
	ErrTLS                   ProblemType = problemPrefix + "tls"
	ErrUnauthorized          ProblemType = problemPrefix + "unauthorized"
	ErrUnsupportedContact    ProblemType = problemPrefix + "unsupportedContact"
	ErrUnsupportedIdentifier ProblemType = problemPrefix + "unsupportedIdentifier"
	ErrUserActionRequired    ProblemType = problemPrefix + "userActionRequired"
)

// problemStatus is the one table from ACME error type to HTTP status.
// RFC 8555 fixes some (badNonce 400 §6.5, orderNotReady 403 §7.4,
// userActionRequired 403 §7.3.3, rateLimited 429 §6.6); the rest follow
// Boulder's mapping: the client's fault is 400, refusals are 403.
// Validation errors (connection, dns, tls, incorrectResponse) normally
// travel inside a challenge object rather than as a response, and get 400
// when they do not.
var problemStatus = map[ProblemType]int{
	ErrAccountDoesNotExist:     http.StatusBadRequest,
	ErrAlreadyReplaced:         http.StatusConflict,
	ErrAlreadyRevoked:          http.StatusBadRequest,
	ErrBadCSR:                  http.StatusBadRequest,
	ErrBadNonce:                http.StatusBadRequest,
	ErrBadPublicKey:            http.StatusBadRequest,
	ErrBadRevocationReason:     http.StatusBadRequest,
	ErrBadSignatureAlgorithm:   http.StatusBadRequest,
	ErrCAA:                     http.StatusForbidden,
	ErrCompound:                http.StatusForbidden,
	ErrConnection:              http.StatusBadRequest,
	ErrDNS:                     http.StatusBadRequest,
	ErrExternalAccountRequired: http.StatusBadRequest,
	ErrIncorrectResponse:       http.StatusBadRequest,
	ErrInvalidContact:          http.StatusBadRequest,
	ErrInvalidProfile:          http.StatusBadRequest,
	ErrMalformed:               http.StatusBadRequest,
	ErrOrderNotReady:           http.StatusForbidden,
	ErrRateLimited:             http.StatusTooManyRequests,
	ErrRejectedIdentifier:      http.StatusBadRequest,
	ErrServerInternal:          http.StatusInternalServerError,
	ErrTLS:                     http.StatusBadRequest,
	ErrUnauthorized:            http.StatusForbidden,
	ErrUnsupportedContact:      http.StatusBadRequest,
	ErrUnsupportedIdentifier:   http.StatusBadRequest,
	ErrUserActionRequired:      http.StatusForbidden,
}

// Error returns the short name of the type, e.g. "badNonce".
func (t ProblemType) Error() string { return t.Name() }

// Name returns the type without its URN prefix, e.g. "badNonce".
func (t ProblemType) Name() string { return strings.TrimPrefix(string(t), problemPrefix) }

// Status returns the HTTP status a response carrying this type gets; an
// unregistered type gets 500.
func (t ProblemType) Status() int {
	if s, ok := problemStatus[t]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Errorf returns a *Problem of type t whose detail is the formatted message.
// Errors wrapped with %w stay reachable through errors.Is and errors.As.
func (t ProblemType) Errorf(format string, args ...any) *Problem {
	err := fmt.Errorf(format, args...)
	return &Problem{Type: t, Detail: err.Error(), Status: t.Status(), cause: unwrapAll(err)}
}

// unwrapAll returns what a fmt.Errorf error wraps (nil when no %w).
func unwrapAll(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			return []error{e}
		}
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	}
	return nil
}

// Problem is an RFC 8555 §6.7 problem document and an error. Find it in an
// error chain with errors.As(err, &p) for a p of type *Problem; test its
// type with errors.Is(err, ErrBadNonce).
type Problem struct {
	// Type is the ACME error type URI.
	Type ProblemType `json:"type"`
	// Detail is a human-readable explanation for the client.
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status; zero in subproblems.
	Status int `json:"status,omitempty"`
	// Identifier names the identifier a subproblem is about (RFC 8555 §6.7.1).
	Identifier *Identifier `json:"identifier,omitempty"`
	// Subproblems break a compound error down per identifier.
	Subproblems []*Problem `json:"subproblems,omitempty"`
	// Algorithms lists the supported JWS algorithms in a
	// badSignatureAlgorithm problem (RFC 8555 §6.2).
	Algorithms []string `json:"algorithms,omitempty"`

	cause []error
}

// Error returns "acme: <type>: <detail>".
func (p *Problem) Error() string {
	if p.Detail == "" {
		return "acme: " + p.Type.Name()
	}
	return "acme: " + p.Type.Name() + ": " + p.Detail
}

// Is reports whether target is this problem's type, so that
// errors.Is(err, ErrMalformed) finds a wrapped *Problem of type malformed.
func (p *Problem) Is(target error) bool {
	t, ok := target.(ProblemType)
	return ok && t == p.Type
}

// Unwrap returns the errors the problem was made from (see
// ProblemType.Errorf), e.g. a context.DeadlineExceeded or a nonce sentinel.
func (p *Problem) Unwrap() []error { return p.cause }

// WithSubproblems returns a copy of p carrying copies of subs, without
// their HTTP status; each sub should name its Identifier.
func (p *Problem) WithSubproblems(subs ...*Problem) *Problem {
	q := *p
	q.Subproblems = append([]*Problem(nil), p.Subproblems...)
	for _, s := range subs {
		c := *s
		c.Status = 0
		q.Subproblems = append(q.Subproblems, &c)
	}
	return &q
}

// ProblemOf returns the problem document to send for err: the first *Problem
// in its chain, a bare ProblemType made into one, and anything else as
// serverInternal with a generic detail so internals never reach the client.
// A nil err gives nil.
func ProblemOf(err error) *Problem {
	if err == nil {
		return nil
	}
	if p, ok := errors.AsType[*Problem](err); ok {
		q := *p
		if q.Status == 0 {
			q.Status = q.Type.Status()
		}
		return &q
	}
	if t, ok := errors.AsType[ProblemType](err); ok {
		return &Problem{Type: t, Detail: err.Error(), Status: t.Status()}
	}
	return &Problem{Type: ErrServerInternal, Detail: "internal server error", Status: http.StatusInternalServerError}
}

// ProblemContentType is the media type of ACME error responses (RFC 7807).
const ProblemContentType = "application/problem+json"

// WriteProblem writes err as an application/problem+json response with the
// status of its type (see ProblemOf) and returns the problem it wrote, for
// logging and metrics. Headers the caller set before (Replay-Nonce, Link,
// Retry-After) are kept.
func WriteProblem(w http.ResponseWriter, err error) *Problem {
	p := ProblemOf(err)
	if p == nil {
		p = ProblemOf(ErrServerInternal.Errorf("no error to report"))
	}
	body, mErr := json.Marshal(p)
	if mErr != nil { // cannot happen: every field marshals
		body = []byte(`{"type":"` + string(ErrServerInternal) + `","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
	return p
}
