package main

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// BenchmarkACMEIssuance runs whole ACME orders against one node with
// golang.org/x/crypto/acme, client and node on this machine: new order,
// http-01 validation over loopback, finalize (sign, publish to the ledger,
// commit) and download. It reports orders per second and the median and
// 99th percentile time of finalize alone, which is what
// certchain_acme_issuance_seconds measures on the node. "serial" is one
// client; "parallel" eight.
func BenchmarkACMEIssuance(b *testing.B) {
	ch := newChallengeServers(b)
	ch.host(b, "bench.certchain.test")
	a := startACMEApp(b, ch)
	ctx := context.Background()
	client := func() (*xacme.Client, error) {
		c := acmeClient(b, a, newKey(b, "p256"))
		_, err := c.Register(ctx, &xacme.Account{}, xacme.AcceptTOS)
		return c, err
	}
	var mu sync.Mutex
	var finalize []time.Duration
	csr := csrFor(b, newKey(b, "p256"), "bench.certchain.test")
	order := func(c *xacme.Client) error {
		o, err := c.AuthorizeOrder(ctx, xacme.DomainIDs("bench.certchain.test"))
		if err != nil {
			return err
		}
		ch.solve(b, ctx, c, o.AuthzURLs[0], "http-01")
		start := time.Now()
		if _, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, true); err != nil {
			return err
		}
		mu.Lock()
		finalize = append(finalize, time.Since(start))
		mu.Unlock()
		return nil
	}
	report := func(b *testing.B, elapsed time.Duration) {
		slices.Sort(finalize)
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
		b.ReportMetric(float64(finalize[len(finalize)/2].Microseconds())/1000, "finalize-p50-ms")
		b.ReportMetric(float64(finalize[len(finalize)*99/100].Microseconds())/1000, "finalize-p99-ms")
		finalize = finalize[:0]
	}
	b.Run("serial", func(b *testing.B) {
		c, err := client()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for b.Loop() {
			if err := order(c); err != nil {
				b.Fatal(err)
			}
		}
		report(b, time.Since(start))
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4) // 8 clients on 2 cores
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			c, err := client()
			if err != nil { // not b.Fatal: this is not the benchmark's goroutine
				b.Error(err)
				return
			}
			for pb.Next() {
				if err := order(c); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, time.Since(start))
	})
}
