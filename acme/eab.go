package acme

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// The MAC algorithms accepted for external account binding.
var eabAlgs = []string{string(jose.HS256), string(jose.HS384), string(jose.HS512)}

// eabMinKeyLen is the shortest MAC key each algorithm accepts: the hash
// size (RFC 7518 §3.2).
var eabMinKeyLen = map[string]int{string(jose.HS256): 32, string(jose.HS384): 48, string(jose.HS512): 64}

// EABKeyLookup returns the MAC key the CA handed out with an external
// account key ID. It should return an error wrapping ErrUnauthorized for an
// unknown or used-up key ID; any other error is reported as serverInternal.
type EABKeyLookup func(ctx context.Context, keyID string) ([]byte, error)

// VerifyEAB checks the externalAccountBinding member eab of a newAccount
// request (RFC 8555 §7.3.4) and returns its key ID. outer is the newAccount
// request, already verified with its jwk. The binding must be a flattened
// JWS with an HMAC "alg" (HS256, HS384 or HS512), a "kid", the outer "url",
// no "nonce", a MAC that verifies with the key lookup returns, and the
// outer jwk as payload.
//
// An empty eab is externalAccountRequired; the caller decides whether a
// binding is required at all.
func VerifyEAB(ctx context.Context, outer *JWS, eab json.RawMessage, lookup EABKeyLookup) (string, error) {
	if !outer.verified || outer.JWK == nil {
		return "", ErrServerInternal.Errorf("external account binding: outer JWS not verified with a jwk")
	}
	if len(eab) == 0 || string(eab) == "null" {
		return "", ErrExternalAccountRequired.Errorf("newAccount must carry an externalAccountBinding")
	}
	flat, err := parseFlattened(eab)
	if err != nil {
		return "", prefixDetail(err, "externalAccountBinding: ")
	}
	keyID, alg, err := checkEABHeader(flat.header, outer.URL)
	if err != nil {
		return "", err
	}
	key, err := lookup(ctx, keyID)
	if err != nil {
		return "", fmt.Errorf("external account key %q: %w", keyID, err)
	}
	sig, err := flat.joseParse(alg)
	if err != nil {
		return "", prefixDetail(err, "externalAccountBinding: ")
	}
	if minLen := eabMinKeyLen[alg]; len(key) < minLen { // RFC 7518 §3.2; go-jose would refuse it as a bad MAC
		return "", ErrServerInternal.Errorf("external account key %q has %d bytes, %s needs %d", keyID, len(key), alg, minLen)
	}
	if _, err := sig.Verify(key); err != nil {
		return "", ErrUnauthorized.Errorf("externalAccountBinding MAC does not verify for key ID %q", keyID)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(flat.payload) // checked by parseFlattened
	bound, err := parseJWK(payload)
	if err != nil {
		return "", prefixDetail(err, "externalAccountBinding payload: ")
	}
	if !sameKey(bound.Key, outer.JWK.Key) {
		return "", ErrUnauthorized.Errorf("externalAccountBinding binds a different key than the one signing the request")
	}
	return keyID, nil
}

// checkEABHeader checks the binding's protected header and returns its kid
// and alg.
func checkEABHeader(hdr map[string]json.RawMessage, outerURL string) (keyID, alg string, err error) {
	alg, err = headerAlg(hdr, eabAlgs, func(format string, args ...any) *Problem {
		p := ErrBadSignatureAlgorithm.Errorf("externalAccountBinding: "+format, args...)
		p.Algorithms = append([]string(nil), eabAlgs...)
		return p
	})
	if err != nil {
		return "", "", err
	}
	if _, ok := hdr["nonce"]; ok {
		return "", "", ErrMalformed.Errorf(`externalAccountBinding must not have a "nonce"`)
	}
	if _, ok := hdr["jwk"]; ok {
		return "", "", ErrMalformed.Errorf(`externalAccountBinding must not have a "jwk"`)
	}
	url, err := requiredString(hdr, "url")
	if err != nil {
		return "", "", prefixDetail(err, "externalAccountBinding: ")
	}
	if url != outerURL {
		return "", "", ErrMalformed.Errorf("externalAccountBinding url %q differs from the request url %q", url, outerURL)
	}
	keyID, err = requiredString(hdr, "kid")
	if err != nil {
		return "", "", prefixDetail(err, "externalAccountBinding: ")
	}
	return keyID, alg, nil
}
