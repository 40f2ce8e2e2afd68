package certreload

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PollInterval is how often a Reloader looks at the files by default.
const PollInterval = 5 * time.Second

// Results of a reload (the result label).
const (
	ResultOK        = "ok"
	ResultUnchanged = "unchanged"
	ResultError     = "error"
)

// Reloader reloads pairs when told (a signal) and when their files
// change, logging and counting every outcome. Its methods are safe for
// concurrent use.
type Reloader struct {
	mu    sync.Mutex // guards the watched state
	pairs []*watched
	log   *slog.Logger
	m     *metrics
}

// watched is a pair and what the poll last saw of its files.
type watched struct {
	p       *Pair
	seen    [2]os.FileInfo // nil: missing
	pending bool           // the files changed; reload once they settle
}

// New returns a Reloader of pairs that logs to logger (nil:
// slog.Default()) and registers its metrics with reg (nil: not exported).
func New(logger *slog.Logger, reg prometheus.Registerer, pairs ...*Pair) (*Reloader, error) {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Reloader{log: logger, m: newMetrics()}
	for _, p := range pairs {
		w := &watched{p: p, pending: true} // the first settled poll compares contents
		w.seen = w.stat()
		r.pairs = append(r.pairs, w)
		r.m.init(p)
	}
	if reg != nil {
		if err := r.m.register(reg); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Run reloads every pair when hup delivers (SIGHUP) and polls the files
// every interval (zero: PollInterval), until ctx ends.
func (r *Reloader) Run(ctx context.Context, hup <-chan os.Signal, every time.Duration) {
	if every <= 0 {
		every = PollInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-hup:
			r.ReloadAll(sig.String())
		case <-t.C:
			r.Poll()
		}
	}
}

// ReloadAll reloads every pair now; trigger names why in the logs. It
// returns the errors of the pairs it refused.
func (r *Reloader) ReloadAll(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, w := range r.pairs {
		w.seen, w.pending = w.stat(), false
		errs = append(errs, r.reload(w.p, trigger, true))
	}
	return errors.Join(errs...)
}

// Poll reloads the pairs whose files changed and have not changed since
// the previous poll (see doc.go, "Triggers").
func (r *Reloader) Poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.pairs {
		now := w.stat()
		switch {
		case !sameState(now, w.seen):
			w.seen, w.pending = now, true
		case w.pending:
			w.pending = false
			_ = r.reload(w.p, "file change", false)
		}
	}
}

// reload reloads p, logs and counts the outcome; an unchanged pair is
// logged and counted only when asked (a signal, not a poll).
func (r *Reloader) reload(p *Pair, trigger string, reportUnchanged bool) error {
	old := p.Current()
	changed, err := p.Reload()
	certFile, keyFile := p.Files()
	switch {
	case err != nil:
		r.log.Error("certificate reload refused; the current certificate stays in use", "what", p.What(), "trigger", trigger,
			"cert", certFile, "key", keyFile, "err", err, "current_serial", serial(old), "current_not_after", old.Leaf.NotAfter)
		r.m.count(p, ResultError)
	case changed:
		c := p.Current()
		r.log.Info("certificate reloaded", "what", p.What(), "trigger", trigger, "subject", c.Leaf.Subject.String(),
			"serial", serial(c), "not_after", c.Leaf.NotAfter, "previous_serial", serial(old))
		r.m.count(p, ResultOK)
	case reportUnchanged:
		r.log.Info("certificate files unchanged", "what", p.What(), "trigger", trigger, "serial", serial(old))
		r.m.count(p, ResultUnchanged)
	}
	return err
}

func serial(c *Cert) string { return c.Leaf.SerialNumber.Text(16) }

// stat returns what the file system says of the pair's files now.
func (w *watched) stat() [2]os.FileInfo {
	certFile, keyFile := w.p.Files()
	var out [2]os.FileInfo
	for i, f := range []string{certFile, keyFile} {
		out[i], _ = os.Stat(f) // follows symlinks: a retargeted link is a change
	}
	return out
}

// sameState reports whether two stats of the files show no change: same
// file (device and inode), size and modification time, or missing both.
func sameState(a, b [2]os.FileInfo) bool {
	for i := range a {
		switch {
		case a[i] == nil || b[i] == nil:
			if a[i] != b[i] {
				return false
			}
		case !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()):
			return false
		}
	}
	return true
}
