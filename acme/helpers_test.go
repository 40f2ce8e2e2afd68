package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Keys are generated once per test binary: RSA generation is slow under -race.
var (
	keyES256  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	keyES256b = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	keyES384  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)) })
	keyES521  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)) })
	keyRS2048 = sync.OnceValue(func() crypto.Signer { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	keyRS1024 = sync.OnceValue(func() crypto.Signer { return must(rsa.GenerateKey(rand.Reader, 1024)) })
	keyEd     = sync.OnceValue(func() crypto.Signer {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return must(k, err)
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// signOpts describes a JWS for sign: headers beyond alg, and how the key
// is named.
type signOpts struct {
	nonce, url string
	kid        string // "kid" header instead of "jwk"
	extra      map[jose.HeaderKey]any
}

// sign makes a flattened JSON JWS with go-jose's signer.
func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, payload []byte, o signOpts) []byte {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	for k, v := range o.extra {
		opts.ExtraHeaders[k] = v
	}
	if o.nonce != "" {
		opts.ExtraHeaders["nonce"] = o.nonce
	}
	if o.url != "" {
		opts.ExtraHeaders["url"] = o.url
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if o.kid != "" {
		opts.ExtraHeaders["kid"] = o.kid
	} else {
		opts.EmbedJWK = true
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out := []byte(obj.FullSerialize())
	if len(payload) == 0 { // go-jose omits an empty payload; ACME's POST-as-GET sends ""
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		m["payload"] = ""
		out, _ = json.Marshal(m)
	}
	return out
}

// rawJWS builds a flattened JWS from a header and payload with a garbage
// signature, for what go-jose refuses to sign.
func rawJWS(hdr map[string]any, payload string) []byte {
	h, _ := json.Marshal(hdr)
	b, _ := json.Marshal(map[string]string{
		"protected": b64(h),
		"payload":   b64([]byte(payload)),
		"signature": b64([]byte("not a signature")),
	})
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK returns the public JWK of key as a JSON-ready value.
func publicJWK(key crypto.Signer) jose.JSONWebKey { return jose.JSONWebKey{Key: key.Public()} }

// wantProblem fails t unless err is a *Problem of type want.
func wantProblem(t testing.TB, err error, want ProblemType) *Problem {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return nil
	}
	if err == nil {
		t.Fatalf("no error, want %s", want.Name())
	}
	p, ok := errors.AsType[*Problem](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *Problem", err, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("problem %s (%s), want %s", p.Type.Name(), p.Detail, want.Name())
	}
	return p
}

// silentUDP returns the address of a UDP socket that never answers: a DNS
// server that times out.
func silentUDP(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// refusedPort returns a loopback TCP port nothing listens on.
func refusedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// blackhole returns a loopback TCP listener that accepts and never
// answers, and its port.
func blackhole(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// haveIPv6 reports whether ::1 can be listened on.
func haveIPv6() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
