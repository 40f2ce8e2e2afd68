package raftstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/hashicorp/raft"
)

// cluster is the in-process harness: N validator nodes on loopback TCP,
// each on its own data directory, forwarding to each other in-process,
// with a fault layer per node that can cut it off the network.
type cluster struct {
	t     testing.TB
	net   *testNet
	dirs  []string
	nodes []*Node // nil while stopped
	fault []*faultLayer
	addrs []string // Raft bind address of each node (kept across restarts)
	mu    sync.RWMutex
	cfg   func(*Config) // optional per-test tuning
}

func newCluster(t testing.TB, size int, tune func(*Config)) *cluster {
	c := &cluster{t: t, net: newTestNet(t), cfg: tune}
	for i := range size {
		c.dirs = append(c.dirs, t.TempDir())
		c.fault = append(c.fault, &faultLayer{})
		c.addrs = append(c.addrs, freeAddr(t))
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	t.Cleanup(c.stopAll)
	c.waitLeader()
	for i := 1; i < size; i++ {
		c.mustSubmit(c.leader(), c.nodeAdd(i))
	}
	c.waitServers(size)
	return c
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func apiOf(i int) string { return fmt.Sprintf("https://node%d.test", i) }

func (c *cluster) start(i int) {
	cfg := Config{
		ID: fmt.Sprintf("node%d", i), Dir: c.dirs[i], RaftAddr: c.addrs[i], API: apiOf(i),
		Genesis: c.net.Genesis, Bootstrap: i == 0, SmallMemory: true, RaftTimeout: 200 * time.Millisecond,
		Forwarder: c, WrapStream: c.fault[i].wrap,
	}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("open node%d: %v", i, err)
	}
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
}

// stop hard-stops node i: Raft shuts down without handing over leadership.
func (c *cluster) stop(i int) {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n != nil {
		_ = n.Close()
	}
}

func (c *cluster) stopAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *cluster) node(i int) *Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes[i]
}

// Forward implements Forwarder in-process: the API URL names the node.
func (c *cluster) Forward(ctx context.Context, api string, txs []certchain.Tx) ([]Result, error) {
	n, err := c.byAPI(api)
	if err != nil {
		return nil, err
	}
	return n.SubmitLocal(ctx, txs)
}

// ForwardObjects implements Forwarder in-process.
func (c *cluster) ForwardObjects(ctx context.Context, api string, encoded []byte) (uint64, error) {
	n, err := c.byAPI(api)
	if err != nil {
		return 0, err
	}
	return n.WriteObjectsLocal(ctx, encoded)
}

func (c *cluster) byAPI(api string) (*Node, error) {
	for i := range c.nodes {
		if apiOf(i) == api {
			if n := c.node(i); n != nil && !c.fault[i].isolated() {
				return n, nil
			}
			return nil, fmt.Errorf("%s unreachable", api)
		}
	}
	return nil, fmt.Errorf("no node at %s", api)
}

func (c *cluster) nodeAdd(i int) certchain.Tx {
	return certchain.Tx{Type: certchain.TxNodeAdd, Submitter: validatortest.Admin, Node: fmt.Sprintf("node%d", i), Address: c.addrs[i], API: apiOf(i)}
}

// leader returns the index of the running, connected node that leads.
func (c *cluster) leader() int {
	for i := range c.nodes {
		if n := c.node(i); n != nil && n.IsLeader() && !c.fault[i].isolated() {
			return i
		}
	}
	return -1
}

func (c *cluster) waitLeader() int {
	var i int
	c.eventually(10*time.Second, "a leader", func() bool { i = c.leader(); return i >= 0 })
	return i
}

func (c *cluster) waitServers(n int) {
	c.eventually(15*time.Second, fmt.Sprintf("%d servers in the Raft configuration", n), func() bool {
		s, err := c.node(c.waitLeader()).Servers()
		return err == nil && len(s) == n
	})
}

// waitSameHead waits until every running node has the same head.
func (c *cluster) waitSameHead() certchain.Header {
	var h certchain.Header
	c.eventually(20*time.Second, "equal heads on every node", func() bool {
		first := true
		for i := range c.nodes {
			n := c.node(i)
			if n == nil {
				continue
			}
			if first {
				h, first = n.State().Head(), false
			} else if n.State().Head() != h {
				return false
			}
		}
		return true
	})
	return h
}

func (c *cluster) eventually(d time.Duration, what string, ok func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) mustSubmit(i int, txs ...certchain.Tx) []Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := c.node(i).Submit(ctx, txs)
	if err != nil {
		c.t.Fatalf("submit on node%d: %v", i, err)
	}
	for _, r := range res {
		if r.Err != nil || r.Verdict.Code == certchain.Rejected {
			c.t.Fatalf("submit on node%d: %+v", i, r)
		}
	}
	return res
}

// faultLayer wraps a node's Raft stream layer; isolating the node closes
// its connections and refuses new ones in both directions.
type faultLayer struct {
	raft.StreamLayer
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func (f *faultLayer) wrap(l raft.StreamLayer) raft.StreamLayer {
	f.StreamLayer = l
	f.mu.Lock()
	f.conns = map[net.Conn]bool{}
	f.mu.Unlock()
	return f
}

func (f *faultLayer) isolated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut
}

// isolate cuts (true) or heals (false) the node's network.
func (f *faultLayer) isolate(cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = cut
	for c := range f.conns {
		c.Close()
	}
	f.conns = map[net.Conn]bool{}
}

var errCut = errors.New("fault injection: node isolated")

func (f *faultLayer) track(c net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		c.Close()
		return nil, errCut
	}
	f.conns[c] = true
	return c, nil
}

// Accept implements net.Listener. A connection accepted while cut is
// dropped, and Accept goes on waiting for the next one.
func (f *faultLayer) Accept() (net.Conn, error) {
	for {
		c, err := f.track(f.StreamLayer.Accept())
		if !errors.Is(err, errCut) {
			return c, err
		}
	}
}

// Dial implements raft.StreamLayer.
func (f *faultLayer) Dial(a raft.ServerAddress, d time.Duration) (net.Conn, error) {
	if f.isolated() {
		return nil, errCut
	}
	return f.track(f.StreamLayer.Dial(a, d))
}
