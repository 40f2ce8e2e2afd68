package raftstore

import (
	"bytes"
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
		c.mustSubmit(c.waitLeader(), c.nodeAdd(i))
	}
	c.waitServers(size)
	return c
}

// clusterTimeouts are the Raft timers of the in-process cluster: three
// nodes, the race detector and whatever else the machine runs share two
// cores, so a node may not be scheduled for a good part of a second. The
// LAN defaults (half a second) would make that an election; a second
// keeps elections to the tests that cause them.
var clusterTimeouts = RaftTimeouts{Heartbeat: time.Second, Election: time.Second, LeaderLease: time.Second}

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
		Genesis: c.net.Genesis, Bootstrap: i == 0, SmallMemory: true, Timeouts: clusterTimeouts,
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
	c.eventually(30*time.Second, "a leader", func() bool { i = c.leader(); return i >= 0 })
	return i
}

func (c *cluster) waitServers(n int) {
	c.eventually(30*time.Second, fmt.Sprintf("%d servers in the Raft configuration", n), func() bool {
		s, err := c.node(c.waitLeader()).Servers()
		return err == nil && len(s) == n
	})
}

// waitSameHead waits until every running node has the same head.
func (c *cluster) waitSameHead() certchain.Header {
	var h certchain.Header
	c.eventually(30*time.Second, "equal heads on every node", func() bool {
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

// mustSubmit submits txs through node i as a client does (submit) and
// fails the test unless every one is on the ledger, accepted or
// unchanged.
func (c *cluster) mustSubmit(i int, txs ...certchain.Tx) []Result {
	c.t.Helper()
	res := c.submit(i, txs...)
	for _, r := range res {
		if r.Verdict.Code == certchain.Rejected {
			c.t.Fatalf("submit on node%d: %+v", i, r)
		}
	}
	return res
}

// submitPatience bounds how long submit keeps sending a transaction that
// has no definite answer.
const submitPatience = 90 * time.Second

// submit sends txs through node i the way a client of the API does, so a
// leader change under a loaded machine does not fail the test: what gets
// no definite answer (no leader, leadership lost while committing, busy,
// a timeout, node i stopped) is sent again, through node i while it runs
// (else through the leader), as the same transactions. A copy that did
// reach the ledger the first time is then answered "duplicate-tx", and
// its result is read from the ledger: the end state decides, not the
// first answer. Node i has applied every result's block when submit
// returns, as after a write through it.
func (c *cluster) submit(i int, txs ...certchain.Tx) []Result {
	c.t.Helper()
	stamp(txs) // fixed IDs: a resend is the same transaction
	out := make([]Result, len(txs))
	todo := make([]int, len(txs))
	for k := range todo {
		todo[k] = k
	}
	deadline := time.Now().Add(submitPatience)
	for wait := 50 * time.Millisecond; len(todo) > 0; wait = min(2*wait, time.Second) {
		if time.Now().After(deadline) {
			c.t.Fatalf("submit on node%d: %d transactions without an answer after %v", i, len(todo), submitPatience)
		}
		todo = c.submitOnce(c.entry(i), txs, todo, out)
		if len(todo) > 0 {
			time.Sleep(wait)
		}
	}
	for k := range out {
		if out[k].Verdict == duplicateTx {
			out[k] = c.fromLedger(out[k].TxID)
		}
	}
	c.appliedOn(i, out)
	return out
}

// entry is the node a client of node i reaches: node i while it runs and
// is connected, else the leader (nil while there is none).
func (c *cluster) entry(i int) *Node {
	if n := c.node(i); n != nil && !c.fault[i].isolated() {
		return n
	}
	if l := c.leader(); l >= 0 {
		return c.node(l)
	}
	return nil
}

// submitOnce sends txs[todo] to n, stores the definite results in out and
// returns what must be sent again.
func (c *cluster) submitOnce(n *Node, txs []certchain.Tx, todo []int, out []Result) []int {
	if n == nil {
		return todo
	}
	batch := make([]certchain.Tx, len(todo))
	for k, idx := range todo {
		batch[k] = txs[idx]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := n.Submit(ctx, batch)
	if err != nil {
		c.t.Logf("submit on %s: %v; sending again", n.ID(), err)
		return todo
	}
	var again []int
	for k, idx := range todo {
		if res[k].Err != nil {
			again = append(again, idx)
			continue
		}
		out[idx] = res[k]
	}
	if len(again) > 0 {
		c.t.Logf("submit on %s: %d of %d without a definite answer (%v); sending again", n.ID(), len(again), len(todo), firstErr(res))
	}
	return again
}

func firstErr(res []Result) error {
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// fromLedger is the result of transaction id as the ledger of any running
// node records it (where it first appeared).
func (c *cluster) fromLedger(id certchain.Hash) Result {
	c.t.Helper()
	var r Result
	c.eventually(20*time.Second, fmt.Sprintf("transaction %s on a ledger", id), func() bool {
		for k := range c.nodes {
			n := c.node(k)
			if n == nil {
				continue
			}
			if h, pos, err := n.State().TxLocation(id); err == nil {
				blk, err := n.State().Block(h)
				if err != nil {
					c.t.Fatal(err)
				}
				r = Result{TxID: id, Height: h, Verdict: blk.Verdicts[pos]}
				return true
			}
		}
		return false
	})
	return r
}

// appliedOn waits until node i (if it runs) has applied every result's
// block, so the caller may read its write there.
func (c *cluster) appliedOn(i int, res []Result) {
	c.t.Helper()
	var h uint64
	for _, r := range res {
		h = max(h, r.Height)
	}
	c.eventually(20*time.Second, fmt.Sprintf("node%d at height %d", i, h), func() bool {
		n := c.node(i)
		return n == nil || n.State().Head().Height >= h
	})
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

// writeObjects writes through node i as a client does: a write refused
// for want of a leader is sent again; one whose outcome is unknown is
// looked up on the leader's state once the leader has applied everything
// before it (a barrier), and sent again only if it is not there. A
// conflict is returned (tests expect some). Node i has applied the write
// when writeObjects returns.
func (c *cluster) writeObjects(ctx context.Context, i int, writes []ObjectWrite) (uint64, error) {
	c.t.Helper()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		n := c.entry(i)
		if n == nil {
			if err := sleepCtx(ctx, wait); err != nil {
				return 0, err
			}
			continue
		}
		v, err := n.WriteObjects(ctx, writes)
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, ErrOutcomeUnknown):
			if v, ok := c.objectsWritten(writes); ok {
				return v, c.node(i).State().WaitApplied(ctx, v)
			}
		case !errors.Is(err, certchain.ErrNotLeader) && !errors.Is(err, certchain.ErrBusy):
			return 0, err
		}
		c.t.Logf("object write through node%d: %v; sending again", i, err)
		if err := sleepCtx(ctx, wait); err != nil {
			return 0, err
		}
	}
}

// objectsWritten reports whether the leader's state shows every write of
// writes (values set, deletions gone) and the version they were written
// at.
func (c *cluster) objectsWritten(writes []ObjectWrite) (uint64, bool) {
	l := c.node(c.waitLeader())
	if err := l.raft.Barrier(10 * time.Second).Error(); err != nil {
		return 0, false
	}
	var version uint64
	for _, w := range writes {
		v, ver, err := l.State().Object(w.Key)
		if w.Value == nil {
			if !errors.Is(err, certchain.ErrNotFound) {
				return 0, false
			}
			continue
		}
		if err != nil || !bytes.Equal(v, w.Value) {
			return 0, false
		}
		version = ver
	}
	if version == 0 { // deletions only: applied by now
		version = l.State().AppliedIndex()
	}
	return version, true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
