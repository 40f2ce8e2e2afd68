package raftstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestClusterForwardsWritesAndReplicates(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitLeader()
	follower := (leader + 1) % 3
	d := c.net.device(t)
	res := c.mustSubmit(follower, publishTx(d)) // sent to a follower: forwarded
	if res[0].Height == 0 || res[0].Verdict.Code != certchain.Accepted {
		t.Fatalf("forwarded publish: %+v", res[0])
	}
	// The follower answered only once it had applied the write itself.
	if rec, err := c.node(follower).State().Record(certchain.Sum(d.DER)); err != nil || rec.Status != certchain.StatusGood {
		t.Fatalf("read-your-write on the follower: %v %v", rec, err)
	}
	head := c.waitSameHead()
	servers, err := c.node(leader).Servers()
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers: %+v %v", servers, err)
	}
	blk, err := c.node(follower).State().Block(res[0].Height)
	if err != nil || blk.Header.Hash() != mustBlockHash(t, c.node(leader), res[0].Height) {
		t.Fatalf("block %d differs between nodes", res[0].Height)
	}
	t.Logf("3 nodes at height %d, head %s", head.Height, head.Hash())
}

func mustBlockHash(t *testing.T, n *Node, h uint64) certchain.Hash {
	b, err := n.State().Block(h)
	if err != nil {
		t.Fatal(err)
	}
	return b.Header.Hash()
}

func TestMembershipChangesAreAdminOnlyAndRecorded(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader()
	bad := certchain.Tx{Type: certchain.TxNodeRemove, Submitter: validatortest.Vendor, Node: "node2"}
	if res := c.submit(l, bad); res[0].Verdict.Code != certchain.Rejected {
		t.Fatalf("vendor removing a node: %+v", res)
	}
	rm := c.mustSubmit(l, certchain.Tx{Type: certchain.TxNodeRemove, Submitter: validatortest.Admin, Node: "node2"})
	c.waitServers(2)
	blk, err := c.node(l).State().Block(rm[0].Height)
	if err != nil || blk.Txs[0].Type != certchain.TxNodeRemove || blk.Txs[0].Submitter != validatortest.Admin {
		t.Fatalf("removal not on the ledger: %+v %v", blk, err)
	}
	c.stop(2) // node2's process is gone; the two that remain keep committing
	c.mustSubmit(c.waitLeader(), publishTx(c.net.device(t)))
}

// load is a steady stream of publishes and revokes from several clients
// against random running nodes. It records what was acknowledged.
type load struct {
	c     *cluster
	mu    sync.Mutex
	acked map[certchain.Hash]certchain.TxType // certificate -> last acknowledged change
	acks  []ack
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startLoad(c *cluster, clients int) *load {
	l := &load{c: c, acked: map[certchain.Hash]certchain.TxType{}, stop: make(chan struct{})}
	for w := range clients {
		l.wg.Go(func() { l.client(w) })
	}
	return l
}

func (l *load) client(w int) {
	r := rand.New(rand.NewPCG(uint64(w), 7))
	var mine []certchain.Hash
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		tx := publishTx(l.c.net.device(l.c.t, validatortest.WithCN(fmt.Sprintf("load-%d-%d", w, i))))
		if len(mine) > 0 && r.IntN(4) == 0 {
			tx = certchain.Tx{Type: certchain.TxRevoke, Submitter: validatortest.Vendor, Target: mine[0], Reason: certchain.ReasonKeyCompromise}
			mine = mine[1:]
		}
		if id, ok := l.send(r.IntN(len(l.c.nodes)), tx); ok && tx.Type == certchain.TxPublish {
			mine = append(mine, id)
		}
	}
}

// ack is one acknowledged write: when it was sent and when it was answered.
type ack struct{ sent, done time.Time }

// send submits tx to node i and records it if the node acknowledged it.
func (l *load) send(i int, tx certchain.Tx) (certchain.Hash, bool) {
	sent := time.Now()
	n := l.c.node(i)
	if n == nil {
		time.Sleep(10 * time.Millisecond)
		return certchain.Hash{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := n.Submit(ctx, []certchain.Tx{tx})
	if err != nil || res[0].Err != nil || res[0].Verdict.Code != certchain.Accepted {
		return certchain.Hash{}, false
	}
	id := tx.Target
	if tx.Type == certchain.TxPublish {
		id = certchain.Sum(tx.Cert)
	}
	l.mu.Lock()
	l.acked[id] = tx.Type
	l.acks = append(l.acks, ack{sent: sent, done: time.Now()})
	l.mu.Unlock()
	return id, true
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// firstAckAfter returns how long after t0 the first write sent after t0
// was acknowledged (writes in flight at t0 do not count).
func (l *load) firstAckAfter(t0 time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, ok := time.Duration(0), false
	for _, a := range l.acks {
		if a.sent.After(t0) && (!ok || a.done.Sub(t0) < first) {
			first, ok = a.done.Sub(t0), true
		}
	}
	return first, ok
}

// check asserts the invariants on every running node: every acknowledged
// change is there, and no certificate was published by two transactions.
func (l *load) check(t *testing.T) {
	for i := range l.c.nodes {
		n := l.c.node(i)
		if n == nil {
			continue
		}
		for id, typ := range l.acked {
			rec, err := n.State().Record(id)
			want := certchain.StatusGood
			if typ == certchain.TxRevoke {
				want = certchain.StatusRevoked
			}
			if err != nil || (typ == certchain.TxRevoke && rec.Status != want) {
				t.Fatalf("node%d: acknowledged %s of %s lost: %v %v", i, typ, id, rec, err)
			}
		}
		checkNoDoublePublish(t, n)
	}
}

func checkNoDoublePublish(t *testing.T, n *Node) {
	seen := map[certchain.Hash]uint64{}
	head := n.State().Head()
	for h := uint64(1); h <= head.Height; h++ {
		b, err := n.State().Block(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, tx := range b.Txs {
			if tx.Type != certchain.TxPublish || b.Verdicts[i].Code != certchain.Accepted {
				continue
			}
			id := certchain.Sum(tx.Cert)
			if prev, dup := seen[id]; dup {
				t.Fatalf("certificate %s published at heights %d and %d", id, prev, h)
			}
			seen[id] = h
		}
	}
}

// TestFailoverUnderLoad kills the leader under a steady stream of writes:
// writes resume on a new leader, every acknowledged transaction is on
// every surviving node, heads are equal, nothing was applied twice.
func TestFailoverUnderLoad(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := startLoad(c, 4)
	c.eventually(10*time.Second, "writes before the kill", func() bool { return l.count() >= 20 })
	old := c.waitLeader()
	killed := time.Now()
	c.stop(old)
	c.eventually(15*time.Second, "a write committed after the kill", func() bool {
		_, ok := l.firstAckAfter(killed)
		return ok
	})
	gap, _ := l.firstAckAfter(killed)
	after := l.count()
	c.eventually(10*time.Second, "more writes on the new leader", func() bool { return l.count() >= after+20 })
	l.halt()
	c.waitSameHead()
	l.check(t)
	t.Logf("failover: %v from killing the leader to the first new commit; %d changes acknowledged", gap, len(l.acked))
}

// TestFollowerCatchesUpFromSnapshot stops a follower, writes past the
// compacted log, restarts it: it installs a snapshot and ends with the
// same head hash.
func TestFollowerCatchesUpFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.SnapshotThreshold, cfg.TrailingLogs = 8, 4 })
	leader := c.waitLeader()
	f := (leader + 1) % 3
	c.stop(f)
	for range 30 {
		c.mustSubmit(leader, publishTx(c.net.device(t)))
	}
	// Whichever of the two leads now (leadership may have moved) compacts
	// its log past what f has.
	for _, i := range []int{leader, (leader + 2) % 3} {
		if err := c.node(i).Snapshot(); err != nil {
			t.Fatalf("snapshot on node%d: %v", i, err)
		}
	}
	c.start(f)
	head := c.waitSameHead()
	if got := c.node(f).State().Head(); got.Hash() != head.Hash() {
		t.Fatalf("follower head %d", got.Height)
	}
	if got := testutil.ToFloat64(c.node(f).metrics.restores); got != 1 {
		t.Fatalf("the follower installed %v snapshots, want 1", got)
	}
	checkNoDoublePublish(t, c.node(f))
}

// TestPartitionedLeader isolates the leader: the majority elects a new one
// and keeps committing, the isolated node acknowledges nothing, and after
// healing every head is equal.
func TestPartitionedLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.waitLeader()
	c.fault[old].isolate(true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	res, err := c.node(old).Submit(ctx, []certchain.Tx{publishTx(c.net.device(t))})
	cancel()
	if err == nil && res[0].Err == nil && res[0].Verdict.Code == certchain.Accepted {
		t.Fatalf("the isolated node acknowledged a write: %+v", res[0])
	}
	now := c.waitLeader()
	if now == old {
		t.Fatal("isolated node still counted as leader")
	}
	c.mustSubmit(now, publishTx(c.net.device(t)))
	c.fault[old].isolate(false)
	c.waitSameHead()
}

// TestReadReplica adds a non-voting replica: it is in the configuration
// without a vote, serves reads from its own state, and forwards writes.
func TestReadReplica(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.dirs = append(c.dirs, t.TempDir())
	c.fault = append(c.fault, &faultLayer{})
	c.addrs = append(c.addrs, freeAddr(t))
	c.nodes = append(c.nodes, nil)
	c.start(2)
	add := c.nodeAdd(2)
	add.Replica = true
	c.mustSubmit(c.waitLeader(), add)
	c.waitServers(3)
	servers, _ := c.node(c.waitLeader()).Servers()
	for _, s := range servers {
		if s.ID == "node2" && s.Voter {
			t.Fatal("replica has a vote")
		}
	}
	d := c.net.device(t)
	res := c.mustSubmit(2, publishTx(d)) // written through the replica
	if rec, err := c.node(2).State().Record(certchain.Sum(d.DER)); err != nil || res[0].Height == 0 || rec.Status != certchain.StatusGood {
		t.Fatalf("replica: %+v %v %v", res[0], rec, err)
	}
}

// TestEachNodeVerifiesEachCertificateOnce: the leader verifies a
// certificate, and the member signature of its publish, at its edge and
// reuses the results when it applies the block; followers verify them when
// they apply; nobody verifies either twice. A leadership change during a
// round (a starved machine) makes the old leader verify again, as it
// should: such a round proves nothing and is run again with new
// certificates.
func TestEachNodeVerifiesEachCertificateOnce(t *testing.T) {
	c := newCluster(t, 3, nil)
	for round := 1; !c.verifiedOnce(t, 40); round++ {
		if round == 3 {
			t.Fatal("leadership changed during each of 3 rounds")
		}
		t.Logf("leadership changed during round %d; again with new certificates", round)
	}
}

// verifiedOnce publishes n signed certificates through a follower and
// checks that the proposer of their block verified each at its edge only
// and every other node at apply only. It returns false, checking nothing,
// when the leadership changed meanwhile.
func (c *cluster) verifiedOnce(t *testing.T, n int) bool {
	txs := make([]certchain.Tx, n)
	for i := range txs {
		txs[i] = publishTx(c.net.device(t))
		if err := validator.SignTx(&txs[i], c.net.Genesis.NetworkID, c.net.MemberKeys[txs[i].Submitter]); err != nil {
			t.Fatal(err)
		}
	}
	before, changes := c.checkCounts(), c.leaderChanges()
	leader := c.waitLeader()
	res := c.mustSubmit((leader+1)%3, txs...)
	c.waitSameHead()
	proposer := c.proposerOf(t, res)
	if proposer < 0 || c.leaderChanges() != changes {
		return false
	}
	want := func(i int) [2]float64 {
		if i == proposer {
			return [2]float64{float64(n), 0}
		}
		return [2]float64{0, float64(n)}
	}
	// The metrics are counted just after the state advances (Node.applied),
	// so a node may show its head a moment before its count.
	var got [3][2]float64
	c.eventually(10*time.Second, "verification counts", func() bool {
		now := c.checkCounts()
		for i := range now {
			got[i] = [2]float64{now[i][0] - before[i][0], now[i][1] - before[i][1]}
			if got[i] != want(i) {
				return false
			}
		}
		return true
	})
	return true
}

// checkCounts is each node's certificate checks at the edge and at apply,
// or negative numbers when member signatures were counted otherwise.
func (c *cluster) checkCounts() (out [3][2]float64) {
	for i := range out {
		m, sm := c.node(i).metrics.checks, c.node(i).metrics.sigChecks
		edge, apply := testutil.ToFloat64(m.WithLabelValues("edge")), testutil.ToFloat64(m.WithLabelValues("apply"))
		if se, sa := testutil.ToFloat64(sm.WithLabelValues("edge")), testutil.ToFloat64(sm.WithLabelValues("apply")); se != edge || sa != apply {
			out[i] = [2]float64{-se, -sa}
		} else {
			out[i] = [2]float64{edge, apply}
		}
	}
	return out
}

// leaderChanges sums the leader changes every running node has seen.
func (c *cluster) leaderChanges() (sum float64) {
	for i := range c.nodes {
		if n := c.node(i); n != nil {
			sum += testutil.ToFloat64(n.metrics.leaderChanges)
		}
	}
	return sum
}

// proposerOf is the index of the node that proposed every block carrying
// res, or -1 when they came from more than one.
func (c *cluster) proposerOf(t *testing.T, res []Result) int {
	proposer := ""
	for _, r := range res {
		blk, err := c.node(0).State().Block(r.Height)
		if err != nil {
			t.Fatal(err)
		}
		if proposer != "" && blk.Header.Proposer != proposer {
			return -1
		}
		proposer = blk.Header.Proposer
	}
	for i := range c.nodes {
		if fmt.Sprintf("node%d", i) == proposer {
			return i
		}
	}
	return -1
}
