package raftstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

func TestObjectsEncodingRoundTrip(t *testing.T) {
	in := []ObjectWrite{
		{Key: "acct/1", Value: []byte(`{"status":"valid"}`), Version: 0},
		{Key: "acct/2", Value: []byte{}, Version: 17},
		{Key: "acct/3", Version: AnyVersion}, // delete
	}
	b, err := EncodeObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeObjects(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d writes back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Key != in[i].Key || out[i].Version != in[i].Version || !bytes.Equal(out[i].Value, in[i].Value) ||
			(out[i].Value == nil) != (in[i].Value == nil) {
			t.Errorf("write %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	bad := map[string][]byte{
		"empty":    {},
		"count 0":  {0},
		"trailing": append(append([]byte{}, b...), 0),
		"cut":      b[:len(b)-1],
		"flag 2":   {1, 1, 'k', 0, 2},
	}
	for name, in := range bad {
		if _, err := DecodeObjects(in); !errors.Is(err, certchain.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := EncodeObjects([]ObjectWrite{{Key: ""}}); !errors.Is(err, certchain.ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
}

func FuzzDecodeObjects(f *testing.F) {
	b, _ := EncodeObjects([]ObjectWrite{{Key: "a", Value: []byte("v"), Version: 3}, {Key: "b", Version: AnyVersion}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeObjects(b)
		if err != nil {
			return
		}
		again, err := EncodeObjects(w)
		if err != nil {
			t.Fatalf("decoded writes do not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical: %x re-encodes to %x", b, again)
		}
	})
}

// TestObjectsReplicateWithVersions writes through a follower (forwarded),
// checks read-your-write there, optimistic concurrency, all-or-nothing,
// and that the objects survive a leader change and a restart.
func TestObjectsReplicateWithVersions(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := c.waitLeader()
	f := (leader + 1) % 3
	head := c.node(leader).State().Head()

	v1, err := c.writeObjects(ctx, f, []ObjectWrite{{Key: "order/1", Value: []byte("pending")}})
	if err != nil {
		t.Fatalf("write through a follower: %v", err)
	}
	if got, ver, err := c.node(f).State().Object("order/1"); err != nil || string(got) != "pending" || ver != v1 {
		t.Fatalf("read-your-write on the follower: %q v%d %v (want v%d)", got, ver, err, v1)
	}
	// Creating it again, or updating from a stale version, conflicts.
	for _, w := range []ObjectWrite{{Key: "order/1", Value: []byte("x")}, {Key: "order/1", Value: []byte("x"), Version: v1 - 1}} {
		if _, err := c.writeObjects(ctx, leader, []ObjectWrite{w}); !errors.Is(err, certchain.ErrConflict) {
			t.Fatalf("stale write %+v: %v, want ErrConflict", w, err)
		}
	}
	// All or nothing: one stale write in a batch stops the others.
	_, err = c.writeObjects(ctx, f, []ObjectWrite{{Key: "order/2", Value: []byte("new")}, {Key: "order/1", Value: []byte("y")}})
	if !errors.Is(err, certchain.ErrConflict) {
		t.Fatalf("batch with a stale write: %v", err)
	}
	if _, _, err := c.node(f).State().Object("order/2"); !errors.Is(err, certchain.ErrNotFound) {
		t.Fatalf("half of a refused batch was written: %v", err)
	}
	v2, err := c.writeObjects(ctx, f, []ObjectWrite{{Key: "order/1", Value: []byte("ready"), Version: v1}, {Key: "order/2", Value: []byte("pending")}})
	if err != nil || v2 <= v1 {
		t.Fatalf("update: v%d %v", v2, err)
	}
	if h := c.node(leader).State().Head(); h != head {
		t.Fatalf("object writes moved the ledger head from %d to %d", head.Height, h.Height)
	}

	// Leader change: the objects are on the survivors.
	c.stop(leader)
	nl := c.waitLeader()
	if _, err := c.writeObjects(ctx, nl, []ObjectWrite{{Key: "order/1", Version: v2}}); err != nil {
		t.Fatalf("delete on the new leader: %v", err)
	}
	c.start(leader)
	c.eventually(30*time.Second, "the old leader to catch up", func() bool {
		_, _, err := c.node(leader).State().Object("order/1")
		return errors.Is(err, certchain.ErrNotFound)
	})
	var keys []string
	if err := c.node(leader).State().Objects("order/", func(k string, v []byte, _ uint64) bool {
		keys = append(keys, k+"="+string(v))
		return true
	}); err != nil || len(keys) != 1 || keys[0] != "order/2=pending" {
		t.Fatalf("objects on the restarted node: %v %v", keys, err)
	}
}
