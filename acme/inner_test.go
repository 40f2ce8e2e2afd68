package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

const keyChangeURL = "https://ca.example.test/acme/key-change"

// keyChangeBody builds a key-change request: an inner JWS signed by newKey
// carrying payload, inside an outer JWS signed by oldKey with kid.
func keyChangeBody(t *testing.T, oldKey crypto.Signer, oldAlg jose.SignatureAlgorithm, inner []byte) []byte {
	t.Helper()
	return sign(t, oldKey, oldAlg, inner, signOpts{nonce: testNonce, url: keyChangeURL, kid: testAccount})
}

func keyChangePayload(account string, oldKey crypto.PublicKey) []byte {
	b, _ := json.Marshal(map[string]any{"account": account, "oldKey": jose.JSONWebKey{Key: oldKey}})
	return b
}

func TestVerifyKeyChange(t *testing.T) {
	old, oldPub := keyES256(), keyES256().Public()
	good := keyChangePayload(testAccount, oldPub)
	innerOpts := signOpts{url: keyChangeURL}
	for _, tc := range []struct {
		name       string
		inner      func(t *testing.T) []byte
		outer      func(t *testing.T, inner []byte) []byte // default keyChangeBody with old
		unverified bool                                    // leave the outer JWS unverified
		want       ProblemType
		wantKey    crypto.PublicKey
	}{
		{name: "ok/ES256-to-EdDSA", inner: func(t *testing.T) []byte { return sign(t, keyEd(), jose.EdDSA, good, innerOpts) }, wantKey: keyEd().Public()},
		{name: "ok/ES256-to-RS256", inner: func(t *testing.T) []byte { return sign(t, keyRS2048(), jose.RS256, good, innerOpts) }, wantKey: keyRS2048().Public()},
		{name: "ok/inner-nonce-ignored", wantKey: keyES384().Public(), inner: func(t *testing.T) []byte {
			return sign(t, keyES384(), jose.ES384, good, signOpts{url: keyChangeURL, nonce: "c3RhbGU"})
		}},
		{name: "fail/inner-kid-not-jwk", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, good, signOpts{url: keyChangeURL, kid: testAccount})
		}},
		{name: "fail/inner-url-differs", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, good, signOpts{url: testURL})
		}},
		{name: "fail/inner-signature", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return mutate(t, sign(t, keyEd(), jose.EdDSA, good, innerOpts), func(m map[string]string) {
				m["payload"] = b64(keyChangePayload(testAccount, keyES256b().Public()))
			})
		}},
		{name: "fail/inner-weak-key", want: ErrBadPublicKey, inner: func(t *testing.T) []byte {
			return sign(t, keyRS1024(), jose.RS256, good, innerOpts)
		}},
		{name: "fail/inner-alg-HS256", want: ErrBadSignatureAlgorithm, inner: func(t *testing.T) []byte {
			return sign(t, bytes.Repeat([]byte{1}, 32), jose.HS256, good, signOpts{url: keyChangeURL, kid: "x"})
		}},
		{name: "fail/inner-not-a-jws", want: ErrMalformed, inner: func(t *testing.T) []byte { return []byte(`{"account":"x"}`) }},
		{name: "fail/account-differs", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, keyChangePayload("https://ca.example.test/acme/acct/2", oldPub), innerOpts)
		}},
		{name: "fail/old-key-differs", want: ErrUnauthorized, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, keyChangePayload(testAccount, keyES256b().Public()), innerOpts)
		}},
		{name: "fail/old-key-missing", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, []byte(`{"account":"`+testAccount+`"}`), innerOpts)
		}},
		{name: "fail/payload-not-json", want: ErrMalformed, inner: func(t *testing.T) []byte {
			return sign(t, keyEd(), jose.EdDSA, []byte(`not json`), innerOpts)
		}},
		{name: "fail/same-key", want: ErrMalformed, inner: func(t *testing.T) []byte { return sign(t, old, jose.ES256, good, innerOpts) }},
		{name: "fail/outer-jwk", want: ErrMalformed, inner: func(t *testing.T) []byte { return sign(t, keyEd(), jose.EdDSA, good, innerOpts) },
			outer: func(t *testing.T, inner []byte) []byte {
				return sign(t, old, jose.ES256, inner, signOpts{nonce: testNonce, url: keyChangeURL})
			}},
		{name: "fail/outer-not-verified", want: ErrServerInternal, unverified: true,
			inner: func(t *testing.T) []byte { return sign(t, keyEd(), jose.EdDSA, good, innerOpts) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := tc.inner(t)
			body := keyChangeBody(t, old, jose.ES256, inner)
			if tc.outer != nil {
				body = tc.outer(t, inner)
			}
			outer, err := ParseJWS(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("outer: %v", err)
			}
			if !tc.unverified {
				if _, err := outer.Verify(context.Background(), lookupKey(testAccount, oldPub)); err != nil {
					t.Fatalf("outer verify: %v", err)
				}
			}
			kc, err := VerifyKeyChange(outer, oldPub)
			if wantProblem(t, err, tc.want) != nil {
				return
			}
			if kc.Account != testAccount || !sameKey(kc.NewKey.Key, tc.wantKey) {
				t.Errorf("KeyChange = %+v", kc)
			}
		})
	}
}

func TestVerifyEAB(t *testing.T) {
	const newAccountURL = "https://ca.example.test/acme/new-account"
	macKey := bytes.Repeat([]byte{0x42}, 32)
	macKey512 := bytes.Repeat([]byte{0x43}, 64)
	keys := map[string][]byte{"kid-1": macKey, "kid-512": macKey512, "kid-short": macKey[:16]}
	lookup := func(_ context.Context, id string) ([]byte, error) {
		if k, ok := keys[id]; ok {
			return k, nil
		}
		return nil, ErrUnauthorized.Errorf("unknown external account key %q", id)
	}
	account := keyES256()
	accountJWK, _ := json.Marshal(jose.JSONWebKey{Key: account.Public()})
	eabOpts := func(kid string) signOpts { return signOpts{url: newAccountURL, kid: kid} }

	for _, tc := range []struct {
		name string
		eab  func(t *testing.T) []byte // nil: no binding
		want ProblemType
	}{
		{"ok/HS256", func(t *testing.T) []byte { return sign(t, macKey, jose.HS256, accountJWK, eabOpts("kid-1")) }, ""},
		{"ok/HS512", func(t *testing.T) []byte { return sign(t, macKey512, jose.HS512, accountJWK, eabOpts("kid-512")) }, ""},
		{"fail/missing", nil, ErrExternalAccountRequired},
		{"fail/wrong-mac-key", func(t *testing.T) []byte {
			return sign(t, macKey512[:32], jose.HS256, accountJWK, eabOpts("kid-1"))
		}, ErrUnauthorized},
		{"fail/unknown-key-id", func(t *testing.T) []byte { return sign(t, macKey, jose.HS256, accountJWK, eabOpts("kid-9")) }, ErrUnauthorized},
		{"fail/configured-key-too-short", func(t *testing.T) []byte {
			return sign(t, macKey, jose.HS256, accountJWK, eabOpts("kid-short"))
		}, ErrServerInternal},
		{"fail/binds-another-key", func(t *testing.T) []byte {
			other, _ := json.Marshal(jose.JSONWebKey{Key: keyES256b().Public()})
			return sign(t, macKey, jose.HS256, other, eabOpts("kid-1"))
		}, ErrUnauthorized},
		{"fail/payload-not-a-key", func(t *testing.T) []byte {
			return sign(t, macKey, jose.HS256, []byte(`{"kty":"nope"}`), eabOpts("kid-1"))
		}, ErrMalformed},
		{"fail/url-differs", func(t *testing.T) []byte {
			return sign(t, macKey, jose.HS256, accountJWK, signOpts{url: testURL, kid: "kid-1"})
		}, ErrMalformed},
		{"fail/has-nonce", func(t *testing.T) []byte {
			return sign(t, macKey, jose.HS256, accountJWK, signOpts{url: newAccountURL, kid: "kid-1", nonce: testNonce})
		}, ErrMalformed},
		{"fail/no-kid", func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "HS256", "url": newAccountURL}, string(accountJWK))
		}, ErrMalformed},
		{"fail/asymmetric-alg", func(t *testing.T) []byte {
			return sign(t, keyES256b(), jose.ES256, accountJWK, signOpts{url: newAccountURL, kid: "kid-1"})
		}, ErrBadSignatureAlgorithm},
		{"fail/alg-none", func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "none", "url": newAccountURL, "kid": "kid-1"}, string(accountJWK))
		}, ErrBadSignatureAlgorithm},
		{"fail/tampered-payload", func(t *testing.T) []byte {
			return mutate(t, sign(t, macKey, jose.HS256, accountJWK, eabOpts("kid-1")), func(m map[string]string) {
				m["payload"] = b64(append(accountJWK[:len(accountJWK)-1:len(accountJWK)-1], ` }`...))
			})
		}, ErrUnauthorized},
		{"fail/compact", func(t *testing.T) []byte { return []byte(`"a.b.c"`) }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := map[string]any{"contact": []string{"mailto:ops@example.test"}}
			if tc.eab != nil {
				req["externalAccountBinding"] = json.RawMessage(tc.eab(t))
			}
			payload, _ := json.Marshal(req)
			outer, err := ParseJWS(bytes.NewReader(sign(t, account, jose.ES256, payload, signOpts{nonce: testNonce, url: newAccountURL})))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := outer.Verify(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			var body struct {
				EAB json.RawMessage `json:"externalAccountBinding"`
			}
			_ = json.Unmarshal(outer.Payload(), &body)
			kid, err := VerifyEAB(context.Background(), outer, body.EAB, lookup)
			if wantProblem(t, err, tc.want) == nil && kid == "" {
				t.Error("no key ID returned")
			}
		})
	}

	// A binding made by hand with crypto/hmac, as RFC 8555 §7.3.4 describes.
	t.Run("ok/hand-made-HS256", func(t *testing.T) {
		hdr, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": "kid-1", "url": newAccountURL})
		input := b64(hdr) + "." + b64(accountJWK)
		m := hmac.New(sha256.New, macKey)
		m.Write([]byte(input))
		eab, _ := json.Marshal(map[string]string{"protected": b64(hdr), "payload": b64(accountJWK), "signature": b64(m.Sum(nil))})
		outer, _ := ParseJWS(bytes.NewReader(sign(t, account, jose.ES256, []byte(`{}`), signOpts{nonce: testNonce, url: newAccountURL})))
		if _, err := outer.Verify(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyEAB(context.Background(), outer, eab, lookup); err != nil {
			t.Fatal(err)
		}
		unverified, _ := ParseJWS(bytes.NewReader(sign(t, account, jose.ES256, []byte(`{}`), signOpts{nonce: testNonce, url: newAccountURL})))
		_, err := VerifyEAB(context.Background(), unverified, eab, lookup)
		wantProblem(t, err, ErrServerInternal)
	})
}
