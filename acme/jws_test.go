package acme

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	xacme "golang.org/x/crypto/acme"
)

const (
	testURL     = "https://ca.example.test/acme/new-order"
	testAccount = "https://ca.example.test/acme/acct/1"
	testNonce   = "bm9uY2Utbm9uY2Utbm9uY2U"
)

// lookupKey is a KeyLookup knowing one account.
func lookupKey(kid string, key crypto.PublicKey) KeyLookup {
	return func(_ context.Context, id string) (crypto.PublicKey, error) {
		if id != kid {
			return nil, ErrAccountDoesNotExist.Errorf("no account %q", id)
		}
		return key, nil
	}
}

// mutate decodes a flattened JWS, lets f change its members and encodes it.
func mutate(t *testing.T, body []byte, f func(m map[string]string)) []byte {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("mutate: %v", err)
	}
	f(m)
	out, _ := json.Marshal(m)
	return out
}

// mutateHeader re-encodes the protected header after f changed it, keeping
// the old signature.
func mutateHeader(t *testing.T, body []byte, f func(h map[string]any)) []byte {
	return mutate(t, body, func(m map[string]string) {
		raw, _ := base64.RawURLEncoding.DecodeString(m["protected"])
		var h map[string]any
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("header: %v", err)
		}
		f(h)
		out, _ := json.Marshal(h)
		m["protected"] = b64(out)
	})
}

func TestParseJWS(t *testing.T) {
	payload := []byte(`{"identifiers":[{"type":"dns","value":"svc.example.test"}]}`)
	std := signOpts{nonce: testNonce, url: testURL}
	kid := signOpts{nonce: testNonce, url: testURL, kid: testAccount}
	es256 := func(t *testing.T) []byte { return sign(t, keyES256(), jose.ES256, payload, std) }
	hs256Key := bytes.Repeat([]byte{7}, 32)

	for _, tc := range []struct {
		name      string
		body      func(t *testing.T) []byte
		lookup    KeyLookup
		parseErr  ProblemType // wanted from ParseJWS
		verifyErr ProblemType // wanted from Verify, when parsing succeeds
		postAsGet bool
	}{
		{name: "ok/ES256-jwk", body: es256},
		{name: "ok/ES384-jwk", body: func(t *testing.T) []byte { return sign(t, keyES384(), jose.ES384, payload, std) }},
		{name: "ok/RS256-jwk", body: func(t *testing.T) []byte { return sign(t, keyRS2048(), jose.RS256, payload, std) }},
		{name: "ok/EdDSA-jwk", body: func(t *testing.T) []byte { return sign(t, keyEd(), jose.EdDSA, payload, std) }},
		{name: "ok/ES256-kid", body: func(t *testing.T) []byte { return sign(t, keyES256(), jose.ES256, payload, kid) },
			lookup: lookupKey(testAccount, keyES256().Public())},
		{name: "ok/EdDSA-kid-post-as-get", body: func(t *testing.T) []byte { return sign(t, keyEd(), jose.EdDSA, nil, kid) },
			lookup: lookupKey(testAccount, keyEd().Public()), postAsGet: true},
		{name: "ok/surrounding-whitespace", body: func(t *testing.T) []byte {
			return append(append([]byte("\n\t "), es256(t)...), "\r\n"...)
		}},
		{name: "ok/unknown-top-level-member-ignored", body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) { m["x-extra"] = "ignored" })
		}},
		{name: "ok/near-size-limit", body: func(t *testing.T) []byte {
			big := []byte(`{"pad":"` + strings.Repeat("a", 40<<10) + `"}`)
			return sign(t, keyES256(), jose.ES256, big, std)
		}},

		{name: "fail/alg-none", parseErr: ErrBadSignatureAlgorithm, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "none", "nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES256())}, "{}")
		}},
		{name: "fail/alg-HS256", parseErr: ErrBadSignatureAlgorithm, body: func(t *testing.T) []byte {
			return sign(t, hs256Key, jose.HS256, payload, kid)
		}},
		{name: "fail/alg-PS256", parseErr: ErrBadSignatureAlgorithm, body: func(t *testing.T) []byte {
			return sign(t, keyRS2048(), jose.PS256, payload, std)
		}},
		{name: "fail/alg-ES512", parseErr: ErrBadSignatureAlgorithm, body: func(t *testing.T) []byte {
			return sign(t, keyES521(), jose.ES512, payload, std)
		}},
		{name: "fail/alg-missing", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES256())}, "{}")
		}},
		{name: "fail/alg-does-not-fit-key", parseErr: ErrBadSignatureAlgorithm, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "ES256", "nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES384())}, "{}")
		}},
		{name: "fail/RSA-1024", parseErr: ErrBadPublicKey, body: func(t *testing.T) []byte {
			return sign(t, keyRS1024(), jose.RS256, payload, std)
		}},
		{name: "fail/RSA-1024-kid", verifyErr: ErrBadPublicKey, lookup: lookupKey(testAccount, keyRS1024().Public()),
			body: func(t *testing.T) []byte { return sign(t, keyRS1024(), jose.RS256, payload, kid) }},
		{name: "fail/nonce-missing", parseErr: ErrBadNonce, body: func(t *testing.T) []byte {
			return sign(t, keyES256(), jose.ES256, payload, signOpts{url: testURL})
		}},
		{name: "fail/nonce-not-base64url", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return sign(t, keyES256(), jose.ES256, payload, signOpts{nonce: "not/base64+", url: testURL})
		}},
		{name: "fail/url-missing", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return sign(t, keyES256(), jose.ES256, payload, signOpts{nonce: testNonce})
		}},
		{name: "fail/url-not-string", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return sign(t, keyES256(), jose.ES256, payload, signOpts{nonce: testNonce, extra: map[jose.HeaderKey]any{"url": 42}})
		}},
		{name: "fail/jwk-and-kid", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return sign(t, keyES256(), jose.ES256, payload, signOpts{nonce: testNonce, url: testURL, extra: map[jose.HeaderKey]any{"kid": testAccount}})
		}},
		{name: "fail/neither-jwk-nor-kid", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "ES256", "nonce": testNonce, "url": testURL}, "{}")
		}},
		{name: "fail/private-jwk", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "ES256", "nonce": testNonce, "url": testURL, "jwk": jose.JSONWebKey{Key: keyES256()}}, "{}")
		}},
		{name: "fail/b64-false", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return rawJWS(map[string]any{"alg": "ES256", "nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES256()),
				"b64": false, "crit": []string{"b64"}}, "{}")
		}},
		{name: "fail/tampered-payload", verifyErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) { m["payload"] = b64([]byte(`{"identifiers":[]}`)) })
		}},
		{name: "fail/tampered-signature", verifyErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) {
				sig, _ := base64.RawURLEncoding.DecodeString(m["signature"])
				sig[5] ^= 1
				m["signature"] = b64(sig)
			})
		}},
		{name: "fail/tampered-header-url", verifyErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutateHeader(t, es256(t), func(h map[string]any) { h["url"] = "https://ca.example.test/acme/revoke" })
		}},
		{name: "fail/signed-by-another-account-key", verifyErr: ErrMalformed, lookup: lookupKey(testAccount, keyES256().Public()),
			body: func(t *testing.T) []byte { return sign(t, keyES256b(), jose.ES256, payload, kid) }},
		{name: "fail/account-key-of-another-type", verifyErr: ErrMalformed, lookup: lookupKey(testAccount, keyRS2048().Public()),
			body: func(t *testing.T) []byte { return sign(t, keyES256(), jose.ES256, payload, kid) }},
		{name: "fail/unknown-account", verifyErr: ErrAccountDoesNotExist, lookup: lookupKey("https://elsewhere", keyES256().Public()),
			body: func(t *testing.T) []byte { return sign(t, keyES256(), jose.ES256, payload, kid) }},
		{name: "fail/kid-without-lookup", verifyErr: ErrServerInternal,
			body: func(t *testing.T) []byte { return sign(t, keyES256(), jose.ES256, payload, kid) }},
		{name: "fail/compact-serialization", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			obj, err := jose.ParseSignedJSON(string(es256(t)), []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			s, err := obj.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			return []byte(s)
		}},
		{name: "fail/two-signatures", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			signer, err := jose.NewMultiSigner([]jose.SigningKey{
				{Algorithm: jose.ES256, Key: keyES256()}, {Algorithm: jose.ES256, Key: keyES256b()},
			}, &jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"nonce": testNonce, "url": testURL}})
			if err != nil {
				t.Fatal(err)
			}
			obj, err := signer.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(obj.FullSerialize())
		}},
		{name: "fail/general-serialization-one-signature", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			var m map[string]string
			_ = json.Unmarshal(es256(t), &m)
			out, _ := json.Marshal(map[string]any{"payload": m["payload"],
				"signatures": []map[string]string{{"protected": m["protected"], "signature": m["signature"]}}})
			return out
		}},
		{name: "fail/unprotected-header", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			var m map[string]any
			_ = json.Unmarshal(es256(t), &m)
			m["header"] = map[string]string{"kid": testAccount}
			out, _ := json.Marshal(m)
			return out
		}},
		{name: "fail/duplicate-member", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			body := es256(t)
			return append([]byte(`{"payload":"e30",`), body[1:]...)
		}},
		{name: "fail/duplicate-header-member", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) {
				raw, _ := base64.RawURLEncoding.DecodeString(m["protected"])
				m["protected"] = b64(append([]byte(`{"url":"https://attacker.example",`), raw[1:]...))
			})
		}},
		{name: "fail/padded-base64", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) { m["signature"] += "==" })
		}},
		{name: "fail/std-base64-alphabet", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) { m["payload"] = "e30+" })
		}},
		{name: "fail/member-not-string", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return []byte(`{"protected":1,"payload":"","signature":""}`)
		}},
		{name: "fail/payload-missing", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			var m map[string]string
			_ = json.Unmarshal(es256(t), &m)
			delete(m, "payload")
			out, _ := json.Marshal(m)
			return out
		}},
		{name: "fail/trailing-data", parseErr: ErrMalformed, body: func(t *testing.T) []byte { return append(es256(t), "{}"...) }},
		{name: "fail/not-json", parseErr: ErrMalformed, body: func(t *testing.T) []byte { return []byte("{garbage") }},
		{name: "fail/json-array", parseErr: ErrMalformed, body: func(t *testing.T) []byte { return []byte("[]") }},
		{name: "fail/empty-body", parseErr: ErrMalformed, body: func(t *testing.T) []byte { return nil }},
		{name: "fail/header-not-object", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			return mutate(t, es256(t), func(m map[string]string) { m["protected"] = b64([]byte(`"alg"`)) })
		}},
		{name: "fail/oversize", parseErr: ErrMalformed, body: func(t *testing.T) []byte {
			big := []byte(`{"pad":"` + strings.Repeat("a", MaxJWSSize) + `"}`)
			return sign(t, keyES256(), jose.ES256, big, std)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body(t)
			j, err := ParseJWS(bytes.NewReader(body))
			if p := wantProblem(t, err, tc.parseErr); p != nil {
				if tc.parseErr == ErrBadSignatureAlgorithm && strings.Join(p.Algorithms, ",") != "ES256,ES384,RS256,EdDSA" {
					t.Errorf("algorithms = %v", p.Algorithms)
				}
				if tc.name == "fail/oversize" && !errors.Is(err, ErrTooLarge) {
					t.Errorf("oversize error %v does not wrap ErrTooLarge", err)
				}
				return
			}
			if j.Nonce != testNonce || (j.URL != testURL && !strings.Contains(tc.name, "tampered-header")) {
				t.Errorf("nonce %q url %q", j.Nonce, j.URL)
			}
			if (j.JWK == nil) == (j.KeyID == "") {
				t.Errorf("want exactly one of jwk (%v) and kid (%q)", j.JWK, j.KeyID)
			}
			if j.PostAsGet != tc.postAsGet {
				t.Errorf("PostAsGet = %v", j.PostAsGet)
			}
			if j.Payload() != nil {
				t.Error("payload available before verification")
			}
			got, err := j.Verify(context.Background(), tc.lookup)
			if wantProblem(t, err, tc.verifyErr) != nil {
				if j.Payload() != nil {
					t.Error("payload available after failed verification")
				}
				return
			}
			want := payload
			switch {
			case tc.postAsGet:
				want = []byte{}
			case strings.HasPrefix(tc.name, "ok/near-size-limit"):
				want = got
			}
			if !bytes.Equal(got, want) || !bytes.Equal(j.Payload(), want) {
				t.Errorf("payload %q, want %q", got, want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	j, err := ParseJWS(bytes.NewReader(sign(t, keyES256(), jose.ES256, nil, signOpts{nonce: testNonce, url: testURL})))
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, j.CheckURL(testURL), "")
	wantProblem(t, j.CheckURL("https://ca.example.test/acme/revoke-cert"), ErrUnauthorized)
}

func TestCheckAccountKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  crypto.PublicKey
		want ProblemType
	}{
		{"ok/P-256", keyES256().Public(), ""},
		{"ok/P-384", keyES384().Public(), ""},
		{"ok/RSA-2048", keyRS2048().Public(), ""},
		{"ok/Ed25519", keyEd().Public(), ""},
		{"fail/P-521", keyES521().Public(), ErrBadPublicKey},
		{"fail/RSA-1024", keyRS1024().Public(), ErrBadPublicKey},
		{"fail/symmetric", []byte("secret"), ErrBadPublicKey},
		{"fail/nil", nil, ErrBadPublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) { wantProblem(t, CheckAccountKey(tc.key), tc.want) })
	}
}

// RFC test vectors for thumbprints.
func TestThumbprintVectors(t *testing.T) {
	for _, tc := range []struct{ name, jwk, want string }{
		{"RFC7638-3.1-RSA", `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`,
			"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC8037-A.3-Ed25519", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
			"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k jose.JSONWebKey
			if err := k.UnmarshalJSON([]byte(tc.jwk)); err != nil {
				t.Fatal(err)
			}
			got, err := Thumbprint(k.Key)
			if err != nil || got != tc.want {
				t.Errorf("Thumbprint = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// Key authorizations agree with golang.org/x/crypto/acme's client.
func TestKeyAuthorizationMatchesXCrypto(t *testing.T) {
	token := NewToken()
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"ES256", keyES256()}, {"ES384", keyES384()}, {"RS256", keyRS2048()}} {
		t.Run(tc.name, func(t *testing.T) {
			client := &xacme.Client{Key: tc.key}
			want, err := client.HTTP01ChallengeResponse(token)
			if err != nil {
				t.Fatal(err)
			}
			got, err := KeyAuthorization(token, tc.key.Public())
			if err != nil || got != want {
				t.Errorf("KeyAuthorization = %q, %v; want %q", got, err, want)
			}
			wantTXT, _ := client.DNS01ChallengeRecord(token)
			if DNS01Record(got) != wantTXT {
				t.Errorf("DNS01Record = %q, want %q", DNS01Record(got), wantTXT)
			}
		})
	}
	if _, err := Thumbprint([]byte("symmetric")); err == nil {
		t.Error("thumbprint of a symmetric key")
	}
	if tok := NewToken(); len(tok) != 43 || !isBase64URL(tok) || tok == token {
		t.Errorf("NewToken() = %q", tok)
	}
}

func BenchmarkParseVerifyJWS(b *testing.B) {
	for _, bc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{{"ES256", keyES256(), jose.ES256}, {"RS256", keyRS2048(), jose.RS256}, {"EdDSA", keyEd(), jose.EdDSA}} {
		b.Run(bc.name, func(b *testing.B) {
			body := sign(b, bc.key, bc.alg, []byte(`{"identifiers":[{"type":"dns","value":"svc.example.test"}]}`),
				signOpts{nonce: testNonce, url: testURL})
			b.ReportAllocs()
			for b.Loop() {
				j, err := ParseJWS(bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := j.Verify(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
