package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws "done/total percent rate ETA" on one terminal line, at
// most every 200 ms.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	total     int
	n         int
	start     time.Time
	lastDraw  time.Time
	disabled  bool
	unitLabel string
}

func newProgress(w io.Writer, total int, disabled bool) *progress {
	return &progress{w: w, total: total, start: time.Now(), disabled: disabled, unitLabel: "certs"}
}

func (p *progress) add(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += k
	if now := time.Now(); now.Sub(p.lastDraw) >= 200*time.Millisecond || p.n == p.total {
		p.lastDraw = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	if p.disabled {
		return
	}
	el := now.Sub(p.start).Seconds()
	rate := float64(p.n) / max(el, 1e-3)
	eta := "-"
	if rate > 0 && p.n < p.total {
		eta = (time.Duration(float64(p.total-p.n)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100 * float64(p.n) / float64(max(p.total, 1))
	fmt.Fprintf(p.w, "\r%d/%d %s  %5.1f%%  %.0f/s  ETA %s   ", p.n, p.total, p.unitLabel, pct, rate, eta)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.disabled && p.n > 0 {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}
