package ocsp

import (
	"math"
	"sync"
	"time"
)

// bucket is the token bucket that bounds nonce signatures: rate tokens a
// second, at most burst saved up (one second's worth, at least one).
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64) *bucket {
	burst := max(1, math.Ceil(rate))
	return &bucket{rate: rate, burst: burst, tokens: burst}
}

// allow takes a token if one is left at now. A negative rate never allows.
func (b *bucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		elapsed := max(now.Sub(b.last).Seconds(), 0)
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
