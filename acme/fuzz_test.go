package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseJWS feeds arbitrary bodies to ParseJWS and, when they parse, to
// the verification steps that follow it. Nothing may panic, and what is
// accepted must be consistent.
func FuzzParseJWS(f *testing.F) {
	payload := []byte(`{"identifiers":[{"type":"dns","value":"svc.example.test"}]}`)
	std := signOpts{nonce: testNonce, url: testURL}
	kid := signOpts{nonce: testNonce, url: testURL, kid: testAccount}
	valid := sign(f, keyES256(), jose.ES256, payload, std)
	inner := sign(f, keyEd(), jose.EdDSA, keyChangePayload(testAccount, keyES256().Public()), signOpts{url: testURL})
	for _, seed := range [][]byte{
		valid,
		sign(f, keyES384(), jose.ES384, payload, std),
		sign(f, keyRS2048(), jose.RS256, payload, std),
		sign(f, keyEd(), jose.EdDSA, payload, std),
		sign(f, keyES256(), jose.ES256, nil, kid),
		sign(f, keyES256(), jose.ES256, inner, kid), // a key change
		sign(f, keyRS1024(), jose.RS256, payload, std),
		sign(f, keyES521(), jose.ES512, payload, std),
		sign(f, bytes.Repeat([]byte{1}, 32), jose.HS256, payload, kid),
		rawJWS(map[string]any{"alg": "none", "nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES256())}, "{}"),
		rawJWS(map[string]any{"alg": "ES256", "nonce": testNonce, "url": testURL, "jwk": publicJWK(keyES256()), "b64": false, "crit": []string{"b64"}}, "{}"),
		[]byte(`{"payload":"e30","signatures":[{"protected":"e30","signature":""}]}`),
		[]byte(`{"protected":"e30","payload":"","signature":"","header":{"kid":"x"}}`),
		[]byte(`{"protected":"eyJhbGciOiJFUzI1NiJ9","protected":"e30","payload":"","signature":""}`),
		[]byte(`eyJhbGciOiJFUzI1NiJ9.e30.c2ln`),
		[]byte(`{}`), []byte(`[]`), []byte(`null`), []byte(``), []byte(`{"protected":`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := ParseJWS(bytes.NewReader(body))
		if err != nil {
			if p := ProblemOf(err); p.Type == ErrServerInternal {
				t.Fatalf("parse error is serverInternal: %v", err)
			}
			return
		}
		if j.Algorithm == "" || j.URL == "" || j.Nonce == "" || (j.JWK == nil) == (j.KeyID == "") {
			t.Fatalf("accepted an incomplete request: %+v", j)
		}
		lookup := func(context.Context, string) (crypto.PublicKey, error) { return keyES256().Public(), nil }
		if _, err := j.Verify(context.Background(), lookup); err != nil {
			return
		}
		_, _ = VerifyKeyChange(j, keyES256().Public())
		_, _ = VerifyEAB(context.Background(), j, j.Payload(), func(context.Context, string) ([]byte, error) {
			return bytes.Repeat([]byte{1}, 64), nil
		})
	})
}

// FuzzRedeemNonce: of arbitrary strings only the one issued nonce is
// accepted, once; everything else is a badNonce, never a panic.
func FuzzRedeemNonce(f *testing.F) {
	s := NewNonceSource(NonceConfig{Node: "fuzz", Window: 256})
	issued := s.Nonce()
	f.Add(issued)
	f.Add(NewNonceSource(NonceConfig{Node: "other"}).Nonce())
	f.Add("")
	f.Add("not a nonce")
	f.Fuzz(func(t *testing.T, nonce string) {
		err := s.Redeem(nonce)
		if err == nil {
			if nonce != issued { // and a second time it is a replay
				t.Fatalf("accepted %q", nonce)
			}
			return
		}
		wantProblem(t, err, ErrBadNonce)
	})
}

// FuzzCheckCSR feeds arbitrary finalize CSRs to the server's CSR checks:
// nothing may panic, and an accepted CSR names exactly the order's
// identifier and carries a key the policy accepts.
func FuzzCheckCSR(f *testing.F) {
	s := &Server{cfg: Config{KeyPolicy: CheckAccountKey}}
	ident := []Identifier{{IdentifierDNS, "svc.example.test"}}
	f.Add(b64(newCSR(f, keyES256(), &x509.CertificateRequest{DNSNames: []string{"svc.example.test"}}).Raw))
	f.Add(b64(newCSR(f, keyRS1024(), &x509.CertificateRequest{DNSNames: []string{"svc.example.test"}}).Raw))
	f.Add(b64(newCSR(f, keyEd(), &x509.CertificateRequest{DNSNames: []string{"svc.example.test", "other.example.test"}}).Raw))
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, csr string) {
		c, err := s.checkCSR(csr, ident)
		if err != nil {
			if ProblemOf(err).Type == ErrServerInternal {
				t.Fatalf("internal error for client input: %v", err)
			}
			return
		}
		if c.CheckSignature() != nil || CheckAccountKey(c.PublicKey) != nil {
			t.Fatalf("accepted a CSR that fails its own checks")
		}
	})
}

// FuzzRenewalCertID feeds arbitrary ARI CertIDs to their parser.
func FuzzRenewalCertID(f *testing.F) {
	f.Add("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
	f.Add(".")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, id string) {
		if _, _, err := parseCertID(id); err != nil && ProblemOf(err).Type != ErrMalformed {
			t.Fatalf("CertID %q: %v", id, err)
		}
	})
}
