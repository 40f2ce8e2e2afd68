package raftstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

// TestBusyWhenQueueFull: while blocks cannot be applied (the FSM is held
// here), proposals stay in flight, the batcher stops taking transactions,
// and once MaxPending are queued further writes are refused at once with
// certchain.ErrBusy instead of growing memory; nothing refused reaches the
// ledger, and everything accepted is applied once the FSM moves again.
func TestBusyWhenQueueFull(t *testing.T) {
	tn := newTestNet(t)
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	n, err := Open(Config{ID: "n1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", Genesis: tn.Genesis, Bootstrap: true,
		SmallMemory: true, Timeouts: soloTimeouts, MaxPending: 10, MaxInflight: 1,
		OnApply: func(*Applied) { <-gate }})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	// One block is held in the FSM, one gathered batch waits for the
	// in-flight slot, and then the queue fills.
	var wg sync.WaitGroup
	results := make(chan Result, 100)
	for range 40 {
		wg.Go(func() {
			res, err := n.Submit(ctx, []certchain.Tx{publishTx(tn.device(t))})
			if err != nil {
				t.Error(err)
				return
			}
			results <- res[0]
		})
		time.Sleep(5 * time.Millisecond) // let the batcher take what it can
	}
	busy := 0
	for busy == 0 {
		select {
		case r := <-results:
			if errors.Is(r.Err, certchain.ErrBusy) {
				busy++
			} else {
				t.Fatalf("a write was answered while the FSM was held: %+v", r)
			}
		case <-ctx.Done():
			t.Fatal("no write was refused as busy while the queue was full")
		}
	}
	release()
	wg.Wait()
	close(results)
	for r := range results {
		if errors.Is(r.Err, certchain.ErrBusy) {
			busy++
		} else if r.Err != nil || r.Verdict.Code != certchain.Accepted {
			t.Fatalf("after release: %+v", r)
		}
	}
	head := n.State().Head()
	published := 0
	for h := uint64(1); h <= head.Height; h++ {
		blk, err := n.State().Block(h)
		if err != nil {
			t.Fatal(err)
		}
		published += len(blk.Txs)
	}
	if published+busy != 40 {
		t.Fatalf("%d on the ledger + %d refused busy != 40 submitted", published, busy)
	}
	t.Logf("%d refused busy, %d on the ledger", busy, published)
}
