package acme

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxJWSSize bounds the body of an ACME request (and so every JWS inside
// it). A CSR for a hundred names fits with room to spare.
const MaxJWSSize = 64 << 10

// ErrTooLarge is wrapped by the malformed problem for a body over
// MaxJWSSize, for callers that answer 413 or count it separately.
var ErrTooLarge = errors.New("request body too large")

// JWS is a parsed ACME request: a flattened JSON JWS (RFC 8555 §6.2) whose
// protected header has passed the structural checks. Its header fields
// are not trusted until Verify succeeds; the payload is only available
// from a successful Verify.
type JWS struct {
	// Algorithm is the "alg" header: one of SupportedAlgorithms.
	Algorithm string
	// Nonce is the "nonce" header, to be redeemed by the caller
	// (NonceSource.Redeem). Empty only in a key-change inner JWS.
	Nonce string
	// URL is the "url" header; the caller compares it with the request
	// URL (CheckURL).
	URL string
	// KeyID is the "kid" header, the account URL; empty when JWK is set.
	KeyID string
	// JWK is the "jwk" header, a public key that passed CheckAccountKey;
	// nil when KeyID is set.
	JWK *jose.JSONWebKey
	// PostAsGet is true when the payload is empty (RFC 8555 §6.3).
	PostAsGet bool

	sig      *jose.JSONWebSignature
	payload  []byte // set by a successful verification
	verified bool
}

// KeyLookup returns the key of the account whose URL is kid. It should
// return an error wrapping ErrAccountDoesNotExist for an unknown account and
// ErrUnauthorized for a deactivated one; any other error is reported as
// serverInternal.
type KeyLookup func(ctx context.Context, kid string) (crypto.PublicKey, error)

// nonceRule says what a JWS's protected header must do with "nonce".
type nonceRule int

const (
	nonceRequired nonceRule = iota // ordinary requests (RFC 8555 §6.5)
	nonceIgnored                   // key-change inner JWS: not required, not checked (RFC 8555 §7.3.5)
)

// ParseJWS reads at most MaxJWSSize bytes of body and parses them as an
// ACME request. It accepts only the flattened JSON serialization with a
// single signature and no unprotected header, an "alg" among
// SupportedAlgorithms, a base64url "nonce", a "url", and exactly one of
// "jwk" (which must pass CheckAccountKey) and "kid". Every failure is a
// *Problem: malformed, badNonce, badSignatureAlgorithm or badPublicKey.
func ParseJWS(body io.Reader) (*JWS, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxJWSSize+1))
	if err != nil {
		return nil, ErrMalformed.Errorf("reading request body: %w", err)
	}
	if len(data) > MaxJWSSize {
		return nil, ErrMalformed.Errorf("request body exceeds %d bytes: %w", MaxJWSSize, ErrTooLarge)
	}
	return parseJWS(data, nonceRequired)
}

// parseJWS parses an account-key JWS from data.
func parseJWS(data []byte, nonces nonceRule) (*JWS, error) {
	flat, err := parseFlattened(data)
	if err != nil {
		return nil, err
	}
	hdr := flat.header
	j := &JWS{PostAsGet: flat.payload == ""}
	if j.Algorithm, err = headerAlg(hdr, supportedAlgs, badAlg); err != nil {
		return nil, err
	}
	if j.Nonce, err = headerNonce(hdr, nonces); err != nil {
		return nil, err
	}
	if j.URL, err = requiredString(hdr, "url"); err != nil {
		return nil, err
	}
	if err := j.parseKey(hdr); err != nil {
		return nil, err
	}
	if j.sig, err = flat.joseParse(j.Algorithm); err != nil {
		return nil, err
	}
	return j, nil
}

// parseKey fills KeyID or JWK from the header, requiring exactly one.
func (j *JWS) parseKey(hdr map[string]json.RawMessage) error {
	_, hasJWK := hdr["jwk"]
	_, hasKID := hdr["kid"]
	switch {
	case hasJWK && hasKID:
		return ErrMalformed.Errorf(`JWS protected header has both "jwk" and "kid"`)
	case !hasJWK && !hasKID:
		return ErrMalformed.Errorf(`JWS protected header has neither "jwk" nor "kid"`)
	case hasKID:
		var err error
		j.KeyID, err = requiredString(hdr, "kid")
		return err
	}
	jwk, err := parseJWK(hdr["jwk"])
	if err != nil {
		return err
	}
	if err := checkKeyAlg(jwk.Key, j.Algorithm); err != nil {
		return err
	}
	j.JWK = jwk
	return nil
}

// parseJWK parses an embedded public JWK.
func parseJWK(raw json.RawMessage) (*jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, ErrMalformed.Errorf("JWS jwk: %w", err)
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, ErrMalformed.Errorf("JWS jwk must be a valid public key")
	}
	return &jwk, nil
}

// Verify checks the signature with the embedded JWK, or with the key lookup
// returns for KeyID, and returns the payload.
func (j *JWS) Verify(ctx context.Context, lookup KeyLookup) ([]byte, error) {
	if j.JWK != nil {
		return j.VerifyKey(j.JWK.Key)
	}
	if lookup == nil {
		return nil, ErrServerInternal.Errorf("no account key lookup for kid %q", j.KeyID)
	}
	key, err := lookup(ctx, j.KeyID)
	if err != nil {
		return nil, fmt.Errorf("looking up account %q: %w", j.KeyID, err)
	}
	return j.VerifyKey(key)
}

// VerifyKey checks the signature with key, after checking key against the
// account key policy, and returns the payload. A signature that does not
// verify, or an algorithm that cannot be key's (the request was signed by
// some other key), is malformed, as in Boulder.
func (j *JWS) VerifyKey(key crypto.PublicKey) ([]byte, error) {
	if err := CheckAccountKey(key); err != nil {
		return nil, err
	}
	if want := keyAlg(key); j.Algorithm != want {
		return nil, ErrMalformed.Errorf("JWS signature does not verify: algorithm %q cannot be the account key's (%s)", j.Algorithm, want)
	}
	payload, err := j.sig.Verify(key)
	if err != nil {
		return nil, ErrMalformed.Errorf("JWS signature does not verify: %w", err)
	}
	j.payload, j.verified = payload, true
	return payload, nil
}

// Payload returns the payload of a verified JWS: nil before Verify or
// VerifyKey succeeds, empty for POST-as-GET.
func (j *JWS) Payload() []byte { return j.payload }

// CheckURL returns an unauthorized problem unless the "url" header equals
// requestURL, the URL the request arrived at (RFC 8555 §6.4).
func (j *JWS) CheckURL(requestURL string) error {
	if j.URL != requestURL {
		return ErrUnauthorized.Errorf("JWS url %q does not match the request URL %q", j.URL, requestURL)
	}
	return nil
}

// flattened is a flattened JSON JWS whose members have been checked.
type flattened struct {
	protected, payload, signature string // base64url, as received
	header                        map[string]json.RawMessage
}

// parseFlattened checks the JWS JSON object and decodes its protected
// header. It is stricter than go-jose: one object, no duplicate members,
// canonical base64url, no "header" or "signatures" member, no "crit" or
// "b64" header (RFC 7797 unencoded payloads have no place in ACME).
func parseFlattened(data []byte) (*flattened, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, ErrMalformed.Errorf("JWS must use the flattened JSON serialization (RFC 8555 §6.2)")
	}
	obj, err := jsonObject(data)
	if err != nil {
		return nil, ErrMalformed.Errorf("JWS: %w", err)
	}
	if _, ok := obj["signatures"]; ok {
		return nil, ErrMalformed.Errorf("JWS must have exactly one signature in the flattened JSON serialization")
	}
	if _, ok := obj["header"]; ok {
		return nil, ErrMalformed.Errorf("JWS must not have an unprotected header")
	}
	f := &flattened{}
	for _, m := range []struct {
		name string
		dst  *string
	}{{"protected", &f.protected}, {"payload", &f.payload}, {"signature", &f.signature}} {
		if *m.dst, err = base64Member(obj, m.name); err != nil {
			return nil, err
		}
	}
	hdrJSON, _ := base64.RawURLEncoding.Strict().DecodeString(f.protected) // checked by base64Member
	if f.header, err = jsonObject(hdrJSON); err != nil {
		return nil, ErrMalformed.Errorf("JWS protected header: %w", err)
	}
	for _, name := range []string{"crit", "b64"} {
		if _, ok := f.header[name]; ok {
			return nil, ErrMalformed.Errorf("JWS protected header must not have %q", name)
		}
	}
	return f, nil
}

// joseParse hands the checked JWS to go-jose, re-serialized from the checked
// members only, so that both parsers see the same thing.
func (f *flattened) joseParse(alg string) (*jose.JSONWebSignature, error) {
	canon, _ := json.Marshal(map[string]string{"protected": f.protected, "payload": f.payload, "signature": f.signature})
	sig, err := jose.ParseSignedJSON(string(canon), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return nil, ErrMalformed.Errorf("JWS: %w", err)
	}
	if len(sig.Signatures) != 1 {
		return nil, ErrMalformed.Errorf("JWS must have exactly one signature")
	}
	return sig, nil
}

// base64Member returns the member name of obj, which must be a string in
// canonical unpadded base64url ("" is allowed: an empty payload).
func base64Member(obj map[string]json.RawMessage, name string) (string, error) {
	raw, ok := obj[name]
	if !ok {
		return "", ErrMalformed.Errorf("JWS has no %q member", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", ErrMalformed.Errorf("JWS %q must be a string", name)
	}
	if !isBase64URL(s) {
		return "", ErrMalformed.Errorf("JWS %q is not unpadded base64url", name)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
		return "", ErrMalformed.Errorf("JWS %q is not canonical base64url: %w", name, err)
	}
	return s, nil
}

// headerAlg returns the "alg" header, which must be among allowed; bad
// makes the problem for one that is not.
func headerAlg(hdr map[string]json.RawMessage, allowed []string, bad func(string, ...any) *Problem) (string, error) {
	alg, err := requiredString(hdr, "alg")
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if alg == a {
			return alg, nil
		}
	}
	return "", bad("JWS algorithm %q is not supported", alg)
}

// headerNonce returns the "nonce" header according to rule.
func headerNonce(hdr map[string]json.RawMessage, rule nonceRule) (string, error) {
	if rule == nonceIgnored {
		return "", nil
	}
	if _, ok := hdr["nonce"]; !ok {
		return "", ErrBadNonce.Errorf(`JWS protected header has no "nonce"`)
	}
	nonce, err := requiredString(hdr, "nonce")
	if err != nil {
		return "", err
	}
	if !isBase64URL(nonce) {
		return "", ErrMalformed.Errorf("JWS nonce is not base64url")
	}
	return nonce, nil
}

// requiredString returns the non-empty string member name of hdr.
func requiredString(hdr map[string]json.RawMessage, name string) (string, error) {
	raw, ok := hdr[name]
	if !ok {
		return "", ErrMalformed.Errorf("JWS protected header has no %q", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", ErrMalformed.Errorf("JWS header %q must be a non-empty string", name)
	}
	return s, nil
}

// jsonObject decodes a single JSON object into its members, rejecting
// duplicate member names (which different parsers resolve differently) and
// anything after the object.
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, _ := tok.(string) // object keys are always strings
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return obj, nil
}
