package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsSeq makes the names of the network namespaces a test process
// creates unique.
var netnsSeq atomic.Int32

// netns is a network namespace the test created with ip netns; it is
// deleted, with everything in it, when the test ends.
type netns struct{ name string }

// newNetns creates a network namespace with its loopback up.
func newNetns(t *testing.T, role string) *netns {
	t.Helper()
	n := &netns{name: fmt.Sprintf("certchain-%d-%d-%s", os.Getpid(), netnsSeq.Add(1), role)}
	ipCmd(t, "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := runTool("ip", "netns", "delete", n.name); err != nil {
			t.Errorf("ip netns delete %s: %v\n%s", n.name, err, out)
		}
	})
	ipCmd(t, "-n", n.name, "link", "set", "lo", "up")
	return n
}

// link joins a and b with a veth pair (eth0 in each) and gives each end
// its address, both in one /24.
func link(t *testing.T, a, b *netns, addrA, addrB string) {
	t.Helper()
	ipCmd(t, "-n", a.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.name)
	for _, end := range []struct {
		ns   *netns
		addr string
	}{{a, addrA}, {b, addrB}} {
		ipCmd(t, "-n", end.ns.name, "addr", "add", end.addr+"/24", "dev", "eth0")
		ipCmd(t, "-n", end.ns.name, "link", "set", "eth0", "up")
	}
}

// addAddress adds a host address (the inner address a tunnel carries).
func (n *netns) addAddress(t *testing.T, addr string) {
	t.Helper()
	ipCmd(t, "-n", n.name, "addr", "add", addr+"/32", "dev", "eth0")
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := runTool("ip", args...); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// do runs fn with the calling thread inside the namespace: sockets fn
// creates belong to the namespace for good. The thread enters it (setns)
// and ends with fn's goroutine, so nothing else ever runs there.
func (n *netns) do(fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime ends the thread
		f, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}

// listen opens a TCP listener inside the namespace.
func (n *netns) listen(addr string) (ln net.Listener, err error) {
	if nsErr := n.do(func() { ln, err = net.Listen("tcp", addr) }); nsErr != nil {
		return nil, nsErr
	}
	return ln, err
}

// dial connects from local (an address of the namespace) to addr, from
// inside the namespace.
func (n *netns) dial(local, addr string) (c net.Conn, err error) {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	if nsErr := n.do(func() { c, err = d.Dial("tcp", addr) }); nsErr != nil {
		return nil, nsErr
	}
	return c, err
}

// forwarder makes a TCP service on the test's loopback reachable at the
// same address from inside a namespace: a relying party there uses the
// URL certificates carry (the node's OCSP responder on 127.0.0.1).
type forwarder struct {
	ns   *netns
	addr string
	mu   sync.Mutex
	ln   net.Listener
}

// forwardInto starts forwarding addr into ns; it stops when the test ends.
func forwardInto(t *testing.T, ns *netns, addr string) *forwarder {
	t.Helper()
	f := &forwarder{ns: ns, addr: addr}
	f.start(t)
	t.Cleanup(f.stop)
	return f
}

// start listens inside the namespace and forwards until stop.
func (f *forwarder) start(t *testing.T) {
	t.Helper()
	ln, err := f.ns.listen(f.addr)
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", f.addr, f.ns.name, err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.pipe(c)
		}
	}()
}

// stop closes the listener: from inside the namespace the address now
// refuses connections, as an unreachable responder does.
func (f *forwarder) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
}

func (f *forwarder) pipe(in net.Conn) {
	defer in.Close()
	out, err := net.DialTimeout("tcp", f.addr, 30*time.Second)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			in.Close()
			out.Close()
		} else {
			_ = dst.(*net.TCPConn).CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(out, in)
	go cp(in, out)
	<-done
	<-done
}
