package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/internal/pki"
)

// writeLoad publishes fresh device certificates to the nodes of a process
// cluster from several workers, each request to a node picked at random
// among those alive, and records when each acknowledged request was sent
// and answered. A request is sent once: the load's own client does not
// retry (so what is measured is the cluster, not a retry policy); a worker
// whose request failed sends a new one at once.
type writeLoad struct {
	c       *procCluster
	nid     string
	batch   int           // certificates per request
	every   time.Duration // per worker between requests (0: back to back)
	mu      sync.Mutex
	alive   []bool
	clients []*client
	acks    []ack
	failed  atomic.Int64
	seq     atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// ack is one acknowledged write: when it was sent and when it was answered.
type ack struct{ sent, done time.Time }

func startWriteLoad(c *procCluster, workers, batch int, every time.Duration) *writeLoad {
	l := &writeLoad{c: c, nid: mustNetworkID(c.t, c.dirs[0]), batch: batch, every: every,
		alive: make([]bool, len(c.dirs)), clients: make([]*client, len(c.dirs)), stop: make(chan struct{})}
	for i := range c.dirs {
		l.up(i)
	}
	for w := range workers {
		l.wg.Go(func() { l.worker(w) })
	}
	return l
}

// up makes node i (started, or restarted on new ports) a target again.
func (l *writeLoad) up(i int) {
	co := clientOptions{data: l.c.dirs[i]}
	cl, err := co.client()
	if err != nil {
		l.c.t.Fatal(err)
	}
	cl.RetryFor = -1
	l.mu.Lock()
	l.alive[i], l.clients[i] = true, cl
	l.mu.Unlock()
}

// down stops sending to node i (before it is killed).
func (l *writeLoad) down(i int) {
	l.mu.Lock()
	l.alive[i] = false
	l.mu.Unlock()
}

func (l *writeLoad) target(r *rand.Rand) *client {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if i := r.IntN(len(l.alive)); l.alive[i] {
			return l.clients[i]
		}
	}
}

func (l *writeLoad) worker(w int) {
	r := rand.New(rand.NewPCG(uint64(w), 13))
	next := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-time.After(time.Until(next)):
		}
		next = time.Now().Add(l.every)
		if !l.send(l.target(r)) {
			next = time.Now().Add(10 * time.Millisecond)
		}
	}
}

// send publishes one batch and records it if every certificate was
// committed.
func (l *writeLoad) send(cl *client) bool {
	var body bytes.Buffer
	for range l.batch {
		cn := fmt.Sprintf("load-%d", l.seq.Add(1))
		der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: l.nid, Organization: "vendor", CommonName: cn})
		if err != nil {
			l.c.t.Error(err)
			return false
		}
		body.Write(pki.EncodeCertPEM(der))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent := time.Now()
	var resp api.PublishResponse
	err := cl.Do(ctx, http.MethodPost, "/v1/certificates", "application/x-pem-file", body.Bytes(), &resp)
	if err != nil || countPublished(resp) != l.batch {
		l.failed.Add(1)
		return false
	}
	l.mu.Lock()
	l.acks = append(l.acks, ack{sent: sent, done: time.Now()})
	l.mu.Unlock()
	return true
}

func countPublished(resp api.PublishResponse) (n int) {
	for _, r := range resp.Results {
		if r.State == api.StatePublished {
			n++
		}
	}
	return n
}

func (l *writeLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

func (l *writeLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// firstAckAfter is how long after t0 the first request sent after t0 was
// acknowledged.
func (l *writeLoad) firstAckAfter(t0 time.Time) (time.Duration, bool) {
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

// BenchmarkFailover kill -9s the leader of a three-node cluster of
// `certchain node` processes (default Raft timeouts) under a write load,
// CERTCHAIN_FAILOVER_KILLS times (default 20), and reports the median and
// worst time from the kill to the first write sent after it and
// committed. After each kill the dead node restarts on its data, re-joins
// and catches up before the next leader is killed. Run it with
// -benchtime 1x (make bench-failover).
func BenchmarkFailover(b *testing.B) {
	kills := envInt(b, "CERTCHAIN_FAILOVER_KILLS", 20)
	for range b.N {
		b.StopTimer()
		gaps := failovers(b, kills)
		b.StartTimer()
		slices.Sort(gaps)
		b.ReportMetric(float64(gaps[len(gaps)/2].Milliseconds()), "ms-median")
		b.ReportMetric(float64(gaps[len(gaps)-1].Milliseconds()), "ms-worst")
		b.Logf("%d leader kills: median %v, worst %v, all %v", kills, gaps[len(gaps)/2], gaps[len(gaps)-1], gaps)
	}
}

func failovers(b *testing.B, kills int) []time.Duration {
	c := startProcCluster(b)
	l := startWriteLoad(c, 4, 5, 0)
	defer l.halt()
	c.eventually(func() bool { return l.acked() >= 20 }, "writes before the first kill")
	var gaps []time.Duration
	for k := range kills {
		leader := c.leader(c.anyRunning(-1))
		l.down(leader)
		killed := time.Now()
		c.kill(leader)
		c.eventually(func() bool { _, ok := l.firstAckAfter(killed); return ok }, "a commit after kill %d", k+1)
		gap, _ := l.firstAckAfter(killed)
		gaps = append(gaps, gap)
		b.Logf("kill %d: node%d, first commit after %v", k+1, leader+1, gap)
		c.start(leader)
		c.waitAllReachable(leader)
		l.up(leader)
		n := l.acked()
		c.eventually(func() bool { return l.acked() >= n+20 }, "writes with node%d back", leader+1)
	}
	return gaps
}

// waitAllReachable waits until node i's cluster status lists every node
// as reachable.
func (c *procCluster) waitAllReachable(i int) {
	c.t.Helper()
	c.eventually(func() bool {
		rows, out := c.status(i)
		return strings.Contains(out, fmt.Sprintf("%d of %d nodes reachable", len(c.dirs), len(c.dirs))) && len(rows) == len(c.dirs)
	}, "node%d back in a cluster of %d reachable nodes", i+1, len(c.dirs))
}

// steadyDuration is how long the steady-load run lasts: CERTCHAIN_STEADY
// (a Go duration; make bench-steady sets 10m), else def.
func steadyDuration(tb testing.TB, def time.Duration) time.Duration {
	v := os.Getenv("CERTCHAIN_STEADY")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("CERTCHAIN_STEADY: %v", err)
	}
	return d
}

// steadyResult is what a steady-load run saw.
type steadyResult struct {
	elections, leaderChanges float64
	acked                    int
	failed                   int64
}

// steadyLoad runs a three-node cluster of `certchain node` processes
// (default Raft timeouts) under a steady write load for d: 4 workers,
// each publishing 10 fresh certificates every 250 ms (160 certificates/s),
// spread over the nodes, and counts the elections and leader changes the
// nodes report (certchain_raft_elections_total,
// certchain_raft_leader_changes_total) from the start of the load to its
// end.
func steadyLoad(tb testing.TB, d time.Duration) steadyResult {
	c := startProcCluster(tb)
	for i := range c.dirs { // formed: every node knows every other
		c.waitAllReachable(i)
	}
	elections, changes := c.metricSum("certchain_raft_elections_total"), c.metricSum("certchain_raft_leader_changes_total")
	l := startWriteLoad(c, 4, 10, 250*time.Millisecond)
	time.Sleep(d)
	l.halt()
	return steadyResult{elections: c.metricSum("certchain_raft_elections_total") - elections,
		leaderChanges: c.metricSum("certchain_raft_leader_changes_total") - changes, acked: l.acked(), failed: l.failed.Load()}
}

// TestSteadyLoadNoElections: under a steady write load on the default
// (LAN) Raft timeouts, no node starts an election and the leader never
// changes. make bench-steady runs the same for ten minutes.
func TestSteadyLoadNoElections(t *testing.T) {
	d := steadyDuration(t, 20*time.Second)
	r := steadyLoad(t, d)
	t.Logf("%v of steady load: %d requests acknowledged, %d failed, %v elections, %v leader changes", d, r.acked, r.failed, r.elections, r.leaderChanges)
	if r.elections != 0 || r.leaderChanges != 0 {
		t.Fatalf("%v elections and %v leader changes under steady load, want none", r.elections, r.leaderChanges)
	}
	if r.acked < int(d/time.Second) {
		t.Fatalf("only %d requests acknowledged in %v", r.acked, d)
	}
}

// BenchmarkSteadyLoad runs the steady load for CERTCHAIN_STEADY (default
// 10 minutes) and reports the elections and leader changes seen. Run it
// with -benchtime 1x (make bench-steady).
func BenchmarkSteadyLoad(b *testing.B) {
	d := steadyDuration(b, 10*time.Minute)
	for range b.N {
		r := steadyLoad(b, d)
		b.ReportMetric(r.elections, "elections")
		b.ReportMetric(r.leaderChanges, "leader-changes")
		b.ReportMetric(float64(r.acked), "requests-acked")
		b.ReportMetric(float64(r.failed), "requests-failed")
		b.Logf("%v of steady load: %d requests acknowledged, %d failed, %v elections, %v leader changes", d, r.acked, r.failed, r.elections, r.leaderChanges)
	}
}

// metricSum adds the value of a counter over every running node's
// /metrics.
func (c *procCluster) metricSum(name string) (sum float64) {
	c.t.Helper()
	for i, p := range c.procs {
		if p != nil {
			sum += scrapeMetric(c.t, c.readURL(i)+"/metrics", name)
		}
	}
	return sum
}

// scrapeMetric reads an unlabelled metric from a Prometheus text page (a
// node's /metrics); a missing metric fails the test.
func scrapeMetric(tb testing.TB, url, name string) float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	tb.Fatalf("%s: no %s", url, name)
	return 0
}
