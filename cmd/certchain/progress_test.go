package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testProgress(tty bool, total int) (*progress, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newProgress(&buf, total, false)
	p.tty, p.now, p.created = tty, clk.now, clk.now()
	return p, &buf, clk
}

// run does n items, one every step.
func runItems(p *progress, clk *fakeClock, n int, step time.Duration) {
	for range n {
		clk.advance(step)
		p.add(1)
	}
}

func TestProgressOutput(t *testing.T) {
	t.Run("log/short-run-one-summary-line", func(t *testing.T) {
		p, buf, clk := testProgress(false, 100)
		runItems(p, clk, 100, 10*time.Millisecond) // one second
		p.done()
		if got := buf.String(); got != "done: 100 certs in 1s (100/s)\n" {
			t.Fatalf("output %q, want only the summary", got)
		}
	})
	t.Run("log/plain-line-every-few-seconds", func(t *testing.T) {
		p, buf, clk := testProgress(false, 1200)
		runItems(p, clk, 1200, 10*time.Millisecond) // twelve seconds
		p.done()
		out := buf.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if strings.Contains(out, "\r") || len(lines) != 3 {
			t.Fatalf("want two progress lines and a summary, no \\r:\n%q", out)
		}
		if !strings.HasPrefix(lines[0], "500/1200 certs   41.7%  100/s  ETA 7s") || lines[2] != "done: 1200 certs in 12s (100/s)" {
			t.Fatalf("lines:\n%s", out)
		}
	})
	t.Run("tty/frames-in-place-no-doubled-last-line", func(t *testing.T) {
		p, buf, clk := testProgress(true, 50)
		runItems(p, clk, 50, 100*time.Millisecond)
		p.done()
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !strings.HasPrefix(out, "\r") {
			t.Fatalf("want \\r frames and one final newline: %q", out)
		}
		if n := strings.Count(out, "50/50 certs"); n != 1 {
			t.Fatalf("final frame drawn %d times: %q", n, out)
		}
	})
	t.Run("quiet/nothing", func(t *testing.T) {
		p, buf, clk := testProgress(true, 10)
		p.quiet = true
		runItems(p, clk, 10, time.Second)
		p.done()
		if buf.Len() != 0 {
			t.Fatalf("quiet wrote %q", buf.String())
		}
	})
}

// TestProgressFirstETA: no ETA until the rate has been measured for a
// second from the first item done; time spent before it (walking,
// connecting) does not count.
func TestProgressFirstETA(t *testing.T) {
	p, buf, clk := testProgress(true, 1000)
	clk.advance(30 * time.Second) // walking a directory, connecting
	p.add(1)
	if !strings.Contains(buf.String(), "ETA -") || !strings.Contains(buf.String(), " -/s") {
		t.Fatalf("first frame %q: want no rate or ETA yet", buf.String())
	}
	runItems(p, clk, 100, 10*time.Millisecond) // 100/s from here
	last := buf.String()[strings.LastIndex(buf.String(), "\r"):]
	if !strings.Contains(last, "101/1000 certs") || !strings.Contains(last, "100/s  ETA 9s") {
		t.Fatalf("frame after 1s at 100/s: %q", last)
	}
}

// TestIsTerminal: a pseudo-terminal is one, a pipe and a file are not.
func TestIsTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name string
		w    any
		want bool
	}{{"tty/pts", pts, true}, {"no/pipe", w, false}, {"no/file", f, false}, {"no/buffer", &bytes.Buffer{}, false}} {
		if got := isTerminal(tc.w.(interface{ Write([]byte) (int, error) })); got != tc.want {
			t.Errorf("%s: isTerminal = %v, want %v", tc.name, got, tc.want)
		}
	}
}
