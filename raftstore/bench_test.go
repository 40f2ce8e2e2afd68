package raftstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
)

// BenchmarkPublish measures self-signed P-256 certificates committed per
// second on one node with fsync on (batches of 1,000 through Submit: edge
// precheck, Raft, apply), beside the ceiling measured in the same run:
// ECDSA P-256 verifications per second on all cores.
func BenchmarkPublish(b *testing.B) {
	b.Run("ceiling/ecdsa-p256-verify-all-cores", benchVerifyCeiling)
	b.Run("node/batch-1000", func(b *testing.B) { benchPublish(b, 1000, 1) })
	b.Run("node/batch-1000x4", func(b *testing.B) { benchPublish(b, 1000, 4) })
}

func benchVerifyCeiling(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("certchain"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	b.ReportAllocs()
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("verify")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// benchPublish submits b.N certificates in batches from clients
// concurrent submitters, as a streaming client keeps several batches in
// flight.
func benchPublish(b *testing.B, batch, clients int) {
	tn := newTestNet(b)
	devices := makeDevices(b, tn, b.N)
	n := openNode(b, b.TempDir(), tn.Genesis)
	defer n.Close()
	batches := make(chan []*validatortest.Device, b.N/batch+1)
	for start := 0; start < len(devices); start += batch {
		batches <- devices[start:min(start+batch, len(devices))]
	}
	close(batches)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ds := range batches {
				txs := make([]certchain.Tx, len(ds))
				for i, d := range ds {
					txs[i] = publishTx(d)
				}
				res, err := n.Submit(context.Background(), txs)
				if err != nil || res[0].Verdict.Code != certchain.Accepted {
					b.Errorf("submit: %v %+v", err, res[0])
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// makeDevices makes n distinct device certificates on all cores.
func makeDevices(b *testing.B, tn *testNet, n int) []*validatortest.Device {
	out := make([]*validatortest.Device, n)
	var wg sync.WaitGroup
	per := (n + runtime.NumCPU() - 1) / runtime.NumCPU()
	for w := 0; w*per < n; w++ {
		wg.Go(func() {
			for i := w * per; i < min((w+1)*per, n); i++ {
				out[i] = tn.device(b)
			}
		})
	}
	wg.Wait()
	return out
}
