package acme

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Reasons a nonce is refused. Redeem wraps one of them in a badNonce
// problem, so callers can count refusals by reason with errors.Is.
var (
	ErrNonceMalformed = errors.New("nonce is not one this server issues")
	ErrNonceForeign   = errors.New("nonce was issued by another node")
	ErrNonceUnknown   = errors.New("nonce was not issued by this node (tampered, or issued before a restart)")
	ErrNonceExpired   = errors.New("nonce has expired")
	ErrNonceReplayed  = errors.New("nonce has already been used")
)

// Defaults of NonceConfig.
const (
	DefaultNonceWindow = 1 << 20 // 128 KiB of bitmap
	DefaultNonceMaxAge = time.Hour
)

// Nonce layout: an 8-character node prefix, then base64url of
// counter (8 bytes) | issue time in Unix seconds (8) | MAC (16).
const (
	noncePrefixLen = 8
	nonceBodyLen   = 8 + 8 + 16
	nonceLen       = noncePrefixLen + (nonceBodyLen*8+5)/6
)

// NonceConfig configures a NonceSource. The zero value works: a random
// node prefix, DefaultNonceWindow, DefaultNonceMaxAge, time.Now.
type NonceConfig struct {
	// Node names this node; the nonce prefix is derived from it, so a node
	// recognizes (and refuses with a precise reason) nonces of its peers.
	// Empty means a random prefix.
	Node string
	// Window is how many of the most recently issued nonces stay
	// redeemable; older ones are refused as expired. It costs Window/8
	// bytes. Zero means DefaultNonceWindow; it is rounded up to a
	// multiple of 64.
	Window int
	// MaxAge refuses nonces issued longer ago. Zero means
	// DefaultNonceMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NonceSource issues and redeems the anti-replay nonces of one node
// (RFC 8555 §6.5). A nonce is redeemable once, only on the node (and the
// process) that issued it, within the window and MaxAge. It is safe for
// concurrent use. See the package documentation for the design.
type NonceSource struct {
	prefix string
	key    []byte // per-process HMAC key
	window uint64
	maxAge time.Duration
	now    func() time.Time

	mu   sync.Mutex
	next uint64   // counter of the next nonce
	used []uint64 // bit c%window set: nonce c was redeemed
}

// NewNonceSource returns a NonceSource with a fresh random MAC key.
func NewNonceSource(cfg NonceConfig) *NonceSource {
	window := uint64(max(cfg.Window, 0))
	if window == 0 {
		window = DefaultNonceWindow
	}
	window = (window + 63) &^ 63
	s := &NonceSource{
		prefix: noncePrefix(cfg.Node),
		key:    make([]byte, 32),
		window: window,
		maxAge: cfg.MaxAge,
		now:    cfg.Now,
		used:   make([]uint64, window/64),
	}
	_, _ = rand.Read(s.key) // never fails (crypto/rand since Go 1.24)
	if s.maxAge <= 0 {
		s.maxAge = DefaultNonceMaxAge
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// noncePrefix derives the node prefix: 6 bytes of SHA-256 of the node name
// (random for an empty name), base64url.
func noncePrefix(node string) string {
	b := make([]byte, 6)
	if node == "" {
		_, _ = rand.Read(b)
	} else {
		sum := sha256.Sum256([]byte("certchain acme nonce prefix\x00" + node))
		copy(b, sum[:])
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Prefix returns the prefix every nonce of this source starts with.
func (s *NonceSource) Prefix() string { return s.prefix }

// Nonce issues a fresh nonce.
func (s *NonceSource) Nonce() string {
	s.mu.Lock()
	c := s.next
	s.next++
	s.used[(c%s.window)/64] &^= 1 << (c % 64) // the slot now belongs to c
	s.mu.Unlock()

	body := make([]byte, 16, nonceBodyLen)
	binary.BigEndian.PutUint64(body, c)
	binary.BigEndian.PutUint64(body[8:], uint64(s.now().Unix()))
	body = append(body, s.mac(body)...)
	return s.prefix + base64.RawURLEncoding.EncodeToString(body)
}

// mac authenticates the prefix and the counter and time in body.
func (s *NonceSource) mac(body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(s.prefix))
	m.Write(body[:16])
	return m.Sum(nil)[:16]
}

// Redeem accepts nonce if this source issued it, it is in the window and
// not older than MaxAge, and it was not redeemed before; it is then used
// up. Otherwise it returns a badNonce *Problem wrapping one of the
// ErrNonce… reasons: the client retries with the fresh nonce the response
// carries (RFC 8555 §6.5).
func (s *NonceSource) Redeem(nonce string) error {
	c, issued, err := s.open(nonce)
	if err != nil {
		return ErrBadNonce.Errorf("JWS %w", err)
	}
	if age := s.now().Sub(time.Unix(int64(issued), 0)); age > s.maxAge {
		return ErrBadNonce.Errorf("JWS %w (issued %s ago)", ErrNonceExpired, age.Round(time.Second))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c >= s.next { // authentic, so cannot happen; refuse rather than corrupt the window
		return ErrBadNonce.Errorf("JWS %w", ErrNonceUnknown)
	}
	if s.next-c > s.window {
		return ErrBadNonce.Errorf("JWS %w (more than %d newer nonces issued since)", ErrNonceExpired, s.window)
	}
	word, bit := &s.used[(c%s.window)/64], uint64(1)<<(c%64)
	if *word&bit != 0 {
		return ErrBadNonce.Errorf("JWS %w", ErrNonceReplayed)
	}
	*word |= bit
	return nil
}

// open checks the form, prefix and MAC of nonce and returns its counter and
// issue time.
func (s *NonceSource) open(nonce string) (counter, issued uint64, err error) {
	if len(nonce) != nonceLen || !isBase64URL(nonce) {
		return 0, 0, ErrNonceMalformed
	}
	if nonce[:noncePrefixLen] != s.prefix {
		return 0, 0, ErrNonceForeign
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(nonce[noncePrefixLen:])
	if err != nil || len(body) != nonceBodyLen {
		return 0, 0, ErrNonceMalformed
	}
	if !hmac.Equal(body[16:], s.mac(body)) {
		return 0, 0, ErrNonceUnknown
	}
	return binary.BigEndian.Uint64(body), binary.BigEndian.Uint64(body[8:]), nil
}
