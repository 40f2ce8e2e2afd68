package acme

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for NonceConfig.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func wantNonceErr(t *testing.T, err, reason error) {
	t.Helper()
	if reason == nil {
		if err != nil {
			t.Fatalf("Redeem: %v", err)
		}
		return
	}
	wantProblem(t, err, ErrBadNonce)
	if !errors.Is(err, reason) {
		t.Fatalf("Redeem: %v, want reason %v", err, reason)
	}
}

func TestNonceFormat(t *testing.T) {
	s := NewNonceSource(NonceConfig{Node: "node1"})
	n := s.Nonce()
	if len(n) != nonceLen || !isBase64URL(n) || !strings.HasPrefix(n, s.Prefix()) {
		t.Errorf("nonce %q: want %d base64url chars starting with %q", n, nonceLen, s.Prefix())
	}
	if again := NewNonceSource(NonceConfig{Node: "node1"}); again.Prefix() != s.Prefix() {
		t.Error("same node name gave a different prefix")
	}
	if other := NewNonceSource(NonceConfig{Node: "node2"}); other.Prefix() == s.Prefix() {
		t.Error("different node names gave the same prefix")
	}
	if a, b := NewNonceSource(NonceConfig{}), NewNonceSource(NonceConfig{}); a.Prefix() == b.Prefix() {
		t.Error("unnamed sources share a prefix")
	}
	if n == s.Nonce() {
		t.Error("two nonces are equal")
	}
}

func TestNonceRedeem(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	node1 := NewNonceSource(NonceConfig{Node: "node1", Now: clock.Now})
	node2 := NewNonceSource(NonceConfig{Node: "node2", Now: clock.Now})
	node1Restarted := NewNonceSource(NonceConfig{Node: "node1", Now: clock.Now})

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name   string
		nonce  func() string
		reason error
	}{
		{"ok/fresh", node1.Nonce, nil},
		{"fail/other-node", node2.Nonce, ErrNonceForeign},
		{"fail/same-node-before-restart", node1Restarted.Nonce, ErrNonceUnknown},
		{"fail/tampered-counter", func() string { return flip(node1.Nonce(), noncePrefixLen+7) }, ErrNonceUnknown},
		{"fail/tampered-time", func() string { return flip(node1.Nonce(), noncePrefixLen+15) }, ErrNonceUnknown},
		{"fail/tampered-mac", func() string { return flip(node1.Nonce(), nonceLen-3) }, ErrNonceUnknown},
		{"fail/tampered-prefix", func() string { return flip(node1.Nonce(), 0) }, ErrNonceForeign},
		{"fail/truncated", func() string { n := node1.Nonce(); return n[:len(n)-1] }, ErrNonceMalformed},
		{"fail/padded", func() string { n := node1.Nonce(); return n[:len(n)-1] + "=" }, ErrNonceMalformed},
		{"fail/not-base64url", func() string { n := node1.Nonce(); return n[:20] + "+" + n[21:] }, ErrNonceMalformed},
		{"fail/empty", func() string { return "" }, ErrNonceMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantNonceErr(t, node1.Redeem(tc.nonce()), tc.reason)
		})
	}
	// The last character also carries 2 padding bits: changing it gives a
	// non-canonical encoding or a MAC failure, never an accepted nonce.
	n := node1.Nonce()
	wantProblem(t, node1.Redeem(flip(n, len(n)-1)), ErrBadNonce)
	wantNonceErr(t, node1.Redeem(n), nil)
}

func TestNonceReplay(t *testing.T) {
	s := NewNonceSource(NonceConfig{Node: "n"})
	n := s.Nonce()
	wantNonceErr(t, s.Redeem(n), nil)
	wantNonceErr(t, s.Redeem(n), ErrNonceReplayed)
	wantNonceErr(t, s.Redeem(n), ErrNonceReplayed)
}

func TestNonceWindow(t *testing.T) {
	s := NewNonceSource(NonceConfig{Node: "n", Window: 64})
	n0, n1 := s.Nonce(), s.Nonce()
	wantNonceErr(t, s.Redeem(n1), nil)
	var later []string
	for range 63 {
		later = append(later, s.Nonce())
	}
	// 65 nonces issued: n0 has 64 newer ones and left the window, n1 has
	// 63 and is still inside it (but used).
	wantNonceErr(t, s.Redeem(n0), ErrNonceExpired)
	wantNonceErr(t, s.Redeem(n1), ErrNonceReplayed)
	// later[62] (counter 64) took n0's bitmap slot: a slot is reset for its
	// new owner, which redeems once.
	wantNonceErr(t, s.Redeem(later[62]), nil)
	wantNonceErr(t, s.Redeem(later[62]), ErrNonceReplayed)
	n65 := s.Nonce() // slot of n1, which was redeemed
	wantNonceErr(t, s.Redeem(n65), nil)
	wantNonceErr(t, s.Redeem(n1), ErrNonceExpired)
	for _, n := range later[:62] {
		wantNonceErr(t, s.Redeem(n), nil)
	}
	if got := len(s.used) * 64; got != 64 {
		t.Errorf("bitmap holds %d bits, want 64", got)
	}
}

func TestNonceWindowRounding(t *testing.T) {
	if s := NewNonceSource(NonceConfig{Window: 100}); s.window != 128 {
		t.Errorf("window %d, want 128", s.window)
	}
	if s := NewNonceSource(NonceConfig{}); s.window != DefaultNonceWindow || len(s.used) != DefaultNonceWindow/64 {
		t.Errorf("default window %d", s.window)
	}
}

func TestNonceMaxAge(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_900_000_000, 0)}
	s := NewNonceSource(NonceConfig{Node: "n", MaxAge: time.Minute, Now: clock.Now})
	fresh, old := s.Nonce(), s.Nonce()
	clock.Advance(time.Minute)
	wantNonceErr(t, s.Redeem(fresh), nil)
	clock.Advance(time.Second)
	wantNonceErr(t, s.Redeem(old), ErrNonceExpired)
}

func TestNonceConcurrent(t *testing.T) {
	s := NewNonceSource(NonceConfig{Node: "n", Window: 1 << 16})
	const workers, each = 16, 200
	var wg sync.WaitGroup
	nonces := make(chan string, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				n := s.Nonce()
				nonces <- n
			}
		})
	}
	wg.Wait()
	close(nonces)
	var list []string
	seen := map[string]bool{}
	for n := range nonces {
		if seen[n] {
			t.Fatalf("nonce issued twice: %s", n)
		}
		seen[n] = true
		list = append(list, n)
	}
	// Every nonce is redeemed by two goroutines racing: exactly one wins.
	var ok, replayed atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := range list {
				n := list[(i+w*each/2)%len(list)]
				switch err := s.Redeem(n); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrNonceReplayed):
					replayed.Add(1)
				default:
					t.Errorf("Redeem: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != int64(len(list)) {
		t.Errorf("%d redemptions succeeded, want %d", got, len(list))
	}
	if got := replayed.Load(); got != int64(len(list)*(workers-1)) {
		t.Errorf("%d replays, want %d", got, len(list)*(workers-1))
	}
}

func BenchmarkNonce(b *testing.B) {
	s := NewNonceSource(NonceConfig{Node: "n"})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Redeem(s.Nonce()); err != nil {
			b.Fatal(err)
		}
	}
}
