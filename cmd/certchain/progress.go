package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress output: on a terminal a bar redrawn in place (\r) at most
// every ttyEvery; anywhere else (a log, a pipe, CI) a plain line every
// logEvery and nothing for a short run. Either way done ends with one
// summary line. The rate and ETA are measured from the first item done
// (not from the start, which includes walking and connecting), and no ETA
// is shown until that has run for measureAfter.
const (
	ttyEvery     = 200 * time.Millisecond
	logEvery     = 5 * time.Second
	measureAfter = time.Second
)

// progress draws "done/total unit percent rate ETA".
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool // redraw one line in place
	quiet bool
	unit  string
	now   func() time.Time

	total, n  int
	created   time.Time
	first     time.Time // when the first item was done
	n0        int       // items done then
	lastDraw  time.Time
	drawnN    int // n at the last draw
	everDrawn bool
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	p := &progress{w: w, total: total, quiet: quiet, tty: isTerminal(w), unit: "certs", now: time.Now}
	p.created = p.now()
	return p
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// grow adds k to the total (a file held more than one certificate).
func (p *progress) grow(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += k
}

// add counts k more items done.
func (p *progress) add(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.n += k
	if p.first.IsZero() {
		p.first, p.n0 = now, p.n
	}
	last, every := p.lastDraw, ttyEvery
	if !p.tty {
		every = logEvery
		if last.IsZero() {
			last = p.created // a short run logs no progress lines
		}
	}
	if now.Sub(last) >= every {
		p.draw(now)
	}
}

// rate is items per second since the first, once it can be measured.
func (p *progress) rate(now time.Time) (float64, bool) {
	el := now.Sub(p.first)
	if p.first.IsZero() || el < measureAfter || p.n <= p.n0 {
		return 0, false
	}
	return float64(p.n-p.n0) / el.Seconds(), true
}

func (p *progress) line(now time.Time) string {
	rate, eta := "-", "-"
	if r, ok := p.rate(now); ok {
		rate = fmt.Sprintf("%.0f", r)
		eta = time.Duration(float64(max(p.total-p.n, 0)) / r * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100 * float64(p.n) / float64(max(p.total, p.n, 1))
	return fmt.Sprintf("%d/%d %s  %5.1f%%  %s/s  ETA %s", p.n, max(p.total, p.n), p.unit, pct, rate, eta)
}

func (p *progress) draw(now time.Time) {
	p.lastDraw = now
	if p.quiet {
		return
	}
	p.everDrawn, p.drawnN = true, p.n
	if p.tty {
		fmt.Fprintf(p.w, "\r%s   ", p.line(now))
		return
	}
	fmt.Fprintln(p.w, p.line(now))
}

// done ends the output: on a terminal the last frame and a newline, else
// one summary line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet || p.n == 0 {
		return
	}
	now := p.now()
	if p.tty {
		if p.drawnN != p.n || !p.everDrawn {
			fmt.Fprintf(p.w, "\r%s   ", p.line(now))
		}
		fmt.Fprintln(p.w)
		return
	}
	el := now.Sub(p.created)
	fmt.Fprintf(p.w, "done: %d %s in %s (%.0f/s)\n", p.n, p.unit, el.Round(100*time.Millisecond), float64(p.n)/max(el.Seconds(), 1e-3))
}
