package raftstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/certchain/certchain/certchain"
)

// BenchmarkCluster measures three-node commit throughput with fsync on,
// beside the ECDSA ceiling of the same run. Every node verifies every
// certificate, so the ceiling of a three-node cluster on one 2-core
// machine is a third of it.
func BenchmarkCluster(b *testing.B) {
	b.Run("ceiling/ecdsa-p256-verify-all-cores", benchVerifyCeiling)
	b.Run("publish/single-16-clients", func(b *testing.B) { benchClusterPublish(b, 1, 16) })
	b.Run("publish/batch-1000", func(b *testing.B) { benchClusterPublish(b, 1000, 1) })
}

func benchClusterPublish(b *testing.B, batch, clients int) {
	c := newCluster(b, 3, nil)
	devices := makeDevices(b, c.net, b.N)
	leader := c.waitLeader()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for {
				start := int(next.Add(int64(batch))) - batch
				if start >= len(devices) {
					return
				}
				txs := make([]certchain.Tx, 0, batch)
				for _, d := range devices[start:min(start+batch, len(devices))] {
					txs = append(txs, publishTx(d))
				}
				submitAll(b, c.node((leader+w)%3), txs) // spread over leader and followers
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

func submitAll(b *testing.B, n *Node, txs []certchain.Tx) {
	res, err := n.Submit(context.Background(), txs)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil || r.Verdict.Code != certchain.Accepted {
			b.Fatalf("%+v", r)
		}
	}
}
