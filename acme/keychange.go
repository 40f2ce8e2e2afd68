package acme

import (
	"crypto"
	"encoding/json"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

// KeyChange is a verified account key roll-over request (RFC 8555 §7.3.5).
type KeyChange struct {
	// Account is the account URL, equal to the outer JWS's kid.
	Account string
	// NewKey is the new account key, taken from the inner JWS's jwk, which
	// signed the inner JWS and passed CheckAccountKey.
	NewKey *jose.JSONWebKey
}

// VerifyKeyChange checks the inner JWS of a key-change request. outer must
// be a kid-signed request already verified with the account's current key,
// oldKey. The inner JWS must carry the new key as jwk and verify with it,
// have the outer url, and name the outer kid as "account" and oldKey as
// "oldKey". A nonce in the inner JWS is neither required nor checked.
//
// The caller still checks that no other account holds the new key (RFC 8555
// §7.3.5 answers that with 409 and the other account's URL).
func VerifyKeyChange(outer *JWS, oldKey crypto.PublicKey) (*KeyChange, error) {
	if !outer.verified {
		return nil, ErrServerInternal.Errorf("key change: outer JWS not verified")
	}
	if outer.KeyID == "" {
		return nil, ErrMalformed.Errorf(`key change must be signed with the account key ("kid")`)
	}
	inner, err := parseJWS(outer.payload, nonceIgnored)
	if err != nil {
		return nil, prefixDetail(err, "key change inner JWS: ")
	}
	if inner.JWK == nil {
		return nil, ErrMalformed.Errorf(`key change inner JWS must carry the new key as "jwk"`)
	}
	payload, err := inner.VerifyKey(inner.JWK.Key)
	if err != nil {
		return nil, prefixDetail(err, "key change inner JWS: ")
	}
	if inner.URL != outer.URL {
		return nil, ErrMalformed.Errorf("key change inner JWS url %q differs from the outer url %q", inner.URL, outer.URL)
	}
	var req struct {
		Account string          `json:"account"`
		OldKey  json.RawMessage `json:"oldKey"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, ErrMalformed.Errorf("key change payload: %w", err)
	}
	if req.Account != outer.KeyID {
		return nil, ErrMalformed.Errorf("key change names account %q, but the request is signed by %q", req.Account, outer.KeyID)
	}
	old, err := parseJWK(req.OldKey)
	if err != nil {
		return nil, prefixDetail(err, "key change oldKey: ")
	}
	if !sameKey(old.Key, oldKey) {
		return nil, ErrUnauthorized.Errorf("key change oldKey is not the account's current key")
	}
	if sameKey(inner.JWK.Key, oldKey) {
		return nil, ErrMalformed.Errorf("key change new key is the same as the old key")
	}
	return &KeyChange{Account: req.Account, NewKey: inner.JWK}, nil
}

// prefixDetail returns err's problem with prefix put before its detail, the
// type and wrapped causes unchanged; err itself when it has no *Problem.
func prefixDetail(err error, prefix string) error {
	p, ok := errors.AsType[*Problem](err)
	if !ok {
		return err
	}
	q := *p
	q.Detail = prefix + p.Detail
	return &q
}
