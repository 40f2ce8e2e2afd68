package raftstore

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// chaosDuration is how long TestChaos runs: CERTCHAIN_CHAOS (a Go
// duration; `make chaos` sets it), else a short run for `make test`.
func chaosDuration(t *testing.T) time.Duration {
	v := os.Getenv("CERTCHAIN_CHAOS")
	if v == "" {
		return 6 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("CERTCHAIN_CHAOS: %v", err)
	}
	return d
}

// TestChaos runs concurrent clients while randomly hard-stopping,
// restarting, isolating and healing nodes (at most one node out at a
// time, so a majority stays), then checks on every node that every
// acknowledged change is there, nothing was published twice, and all
// heads are equal.
func TestChaos(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.SnapshotThreshold, cfg.TrailingLogs = 64, 32 })
	l := startLoad(c, 3)
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	t.Logf("chaos for %v, seed %d", chaosDuration(t), seed)
	end := time.Now().Add(chaosDuration(t))
	out, how := -1, ""
	for time.Now().Before(end) {
		if out < 0 {
			out, how = r.IntN(3), []string{"stop", "isolate"}[r.IntN(2)]
			t.Logf("%s node%d", how, out)
			if how == "stop" {
				c.stop(out)
			} else {
				c.fault[out].isolate(true)
			}
		} else {
			t.Logf("bring back node%d", out)
			if how == "stop" {
				c.start(out)
			} else {
				c.fault[out].isolate(false)
			}
			out = -1
		}
		time.Sleep(time.Duration(300+r.IntN(900)) * time.Millisecond)
	}
	if out >= 0 && how == "stop" {
		c.start(out)
	} else if out >= 0 {
		c.fault[out].isolate(false)
	}
	l.halt()
	c.waitSameHead()
	l.check(t)
	t.Logf("%d changes acknowledged under chaos; every node agrees", len(l.acked))
}
