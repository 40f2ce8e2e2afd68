package certreload

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestPollWaitsForSettledFiles: a poll reloads a pair once its files
// changed and then stayed the same for one poll; a certificate copied
// without its key yet is refused once (logged once, not at every poll),
// and taken as soon as the key follows.
func TestPollWaitsForSettledFiles(t *testing.T) {
	ca := newTestCA(t)
	h := newHarness(t, NodeTLS, both(ca.issue(t, leaf{})))
	first := h.serial()
	h.r.Poll() // nothing changed: a settled compare finds the same content
	next, nextKey := ca.issue(t, leaf{})

	h.f.write(t, next, nil) // the certificate first, the key later
	steps := []struct {
		name   string
		do     func()
		serial string
		errors float64
	}{
		{"settling/cert-changed", h.r.Poll, first, 0},
		{"fail/cert-without-its-key", h.r.Poll, first, 1},
		{"fail/not-logged-again", h.r.Poll, first, 1},
		{"settling/key-changed", func() { h.f.write(t, nil, nextKey); h.r.Poll() }, first, 1},
		{"ok/both-settled", h.r.Poll, serialOf(t, next), 1},
	}
	for _, st := range steps {
		st.do()
		if h.serial() != st.serial || h.count(ResultError) != st.errors {
			t.Fatalf("%s: serial %s errors %v, want %s and %v\n%s", st.name, h.serial(), h.count(ResultError), st.serial, st.errors, h.logs)
		}
	}
	if n := h.logs.lines("certificate reload refused"); n != 1 {
		t.Fatalf("refusal logged %d times, want once:\n%s", n, h.logs)
	}
	if h.count(ResultOK) != 1 || h.count(ResultUnchanged) != 0 {
		t.Fatalf("ok %v unchanged %v, want 1 and 0 (a poll does not count unchanged files)", h.count(ResultOK), h.count(ResultUnchanged))
	}
}

// TestPollFollowsSymlinks: a retargeted symlink (how Kubernetes updates
// a mounted Secret) is a change.
func TestPollFollowsSymlinks(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	v1, v2 := files{dir + "/v1.pem", dir + "/v1-key.pem"}, files{dir + "/v2.pem", dir + "/v2-key.pem"}
	first, firstKey := ca.issue(t, leaf{})
	v1.write(t, first, firstKey)
	next, nextKey := ca.issue(t, leaf{})
	v2.write(t, next, nextKey)
	link := files{dir + "/tls.crt", dir + "/tls.key"}
	for _, l := range [][2]string{{v1.cert, link.cert}, {v1.key, link.key}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(NodeTLS, link.cert, link.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{v2.cert, link.cert}, {v2.key, link.key}} {
		if err := os.Symlink(l[0], l[1]+".new"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(l[1]+".new", l[1]); err != nil {
			t.Fatal(err)
		}
	}
	r.Poll()
	r.Poll()
	if got := serial(p.Current()); got != serialOf(t, next) {
		t.Fatalf("serial %s in use, want %s", got, serialOf(t, next))
	}
}

// TestRunReloadsOnSignal: Run reloads at once when the signal channel
// delivers, whatever the poll interval.
func TestRunReloadsOnSignal(t *testing.T) {
	ca := newTestCA(t)
	h := newHarness(t, NodeTLS, both(ca.issue(t, leaf{})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	hup := make(chan os.Signal, 1)
	go func() { h.r.Run(ctx, hup, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	next, nextKey := ca.issue(t, leaf{})
	h.f.write(t, next, nextKey)
	hup <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool { return h.serial() == serialOf(t, next) })
	waitFor(t, "the log line", func() bool { return h.logs.lines("trigger=hangup") == 1 })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
