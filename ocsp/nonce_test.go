package ocsp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"net/http"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNonce: within the budget a nonce comes back in a freshly signed,
// uncacheable response; past it the request gets the cached response
// without a nonce and the metric counts it. Nonces outside RFC 8954's 1-32
// octets are ignored.
func TestNonce(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.NonceRate = 2 }) // burst 2, clock stands still
	s := f.device(t, nil, certchain.StatusGood, 0)
	id := rawCertID(t, newRequest(t, s, crypto.SHA256))
	cached := fetch(t, f.srv.URL, http.MethodPost, buildRequest(t, [][]byte{id}, nil))
	cases := []struct {
		name  string
		nonce []byte
		echo  bool
	}{
		{"ok/16-octets", bytes.Repeat([]byte{1}, 16), true},
		{"ok/32-octets-by-get", bytes.Repeat([]byte{2}, 32), true},
		{"cached/budget-spent", bytes.Repeat([]byte{3}, 16), false},
		{"cached/33-octets", bytes.Repeat([]byte{4}, 33), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := http.MethodPost
			if c.name == "ok/32-octets-by-get" {
				method = http.MethodGet
			}
			body := fetch(t, f.srv.URL, method, buildRequest(t, [][]byte{id}, c.nonce))
			d := decode(t, body)
			want, _ := asn1.Marshal(c.nonce)
			if c.echo && !bytes.Equal(d.nonce(), want) {
				t.Fatalf("nonce %x, want %x", d.nonce(), want)
			}
			if !c.echo && !bytes.Equal(body, cached) {
				t.Fatal("not the cached response")
			}
		})
	}
	if n := testutil.ToFloat64(f.r.m.nonceExceeded); n != 1 {
		t.Fatalf("nonce_budget_exceeded_total %v, want 1", n)
	}
	if n := testutil.ToFloat64(f.r.m.requests[methodPOST][outcomeGood][cacheNonce]); n != 1 {
		t.Fatalf("nonce responses by POST %v", n)
	}
	if f.r.cache.len() != 1 {
		t.Fatalf("nonce requests were cached: %d entries", f.r.cache.len())
	}
}

// TestNoncesDisabled: a negative NonceRate never signs for a nonce.
func TestNoncesDisabled(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.NonceRate = -1 })
	s := f.device(t, nil, certchain.StatusGood, 0)
	body := fetch(t, f.srv.URL, http.MethodPost, buildRequest(t, [][]byte{rawCertID(t, newRequest(t, s, crypto.SHA1))}, []byte("0123456789abcdef")))
	if decode(t, body).nonce() != nil {
		t.Fatal("nonce echoed")
	}
}
