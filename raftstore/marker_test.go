package raftstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recordingFS is osFS that records each step with what the ledger held
// at that moment (its block 1 hash).
type recordingFS struct {
	osFS
	state *State
	steps []string
}

func (r *recordingFS) note(step string) {
	blk, err := r.state.Block(1)
	if err != nil {
		r.steps = append(r.steps, step+" (ledger: "+err.Error()+")")
		return
	}
	r.steps = append(r.steps, step+" (ledger block 1 "+blk.Header.Hash().String()[:8]+")")
}

func (r *recordingFS) WriteSynced(name string, data []byte) error {
	r.note("write+sync " + filepath.Base(name))
	return r.osFS.WriteSynced(name, data)
}

func (r *recordingFS) Rename(from, to string) error {
	r.note("rename " + filepath.Base(from) + " " + filepath.Base(to))
	return r.osFS.Rename(from, to)
}

func (r *recordingFS) SyncDir(dir string) error {
	r.note("sync dir")
	return r.osFS.SyncDir(dir)
}

func (r *recordingFS) Remove(name string) error {
	r.note("remove " + filepath.Base(name))
	return r.osFS.Remove(name)
}

func shortHash(t *testing.T, s *State, h uint64) string {
	t.Helper()
	b, err := s.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	return b.Header.Hash().String()[:8]
}

// latestSnapshot opens the newest snapshot in a node's data directory.
func latestSnapshot(t *testing.T, dir string) io.ReadCloser {
	t.Helper()
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("no snapshot: %v", err)
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestRestoreMarkerIsDurableAroundTheDrop restores a snapshot over a
// ledger that holds other blocks and records the marker's file steps: the
// marker is written, synced, renamed into place and its directory synced
// while the old ledger is still whole; it is removed, and the removal
// synced, only once the snapshot's blocks are in place.
func TestRestoreMarkerIsDurableAroundTheDrop(t *testing.T) {
	tn := newTestNet(t)
	src := t.TempDir()
	n := openNode(t, src, tn.Genesis)
	for range 3 {
		submit(t, n, publishTx(tn.device(t)))
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	want := shortHash(t, n.State(), 1)
	n.Close()

	dst := t.TempDir()
	db, err := OpenBadger(filepath.Join(dst, "ledger"), BadgerOptions{Small: true, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := OpenState(db, tn.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	txs := []certchain.Tx{publishTx(tn.device(t))}
	if _, err := st.Apply(1, &certchain.Proposal{Time: time.Now().UnixNano(), Proposer: "other", Txs: txs}, certchain.TxIDs(txs)); err != nil {
		t.Fatal(err)
	}
	old := shortHash(t, st, 1)
	rec := &recordingFS{state: st}
	f := &fsm{state: st, marker: restoreMarker{path: filepath.Join(dst, "restoring"), fs: rec}}
	if err := f.Restore(latestSnapshot(t, src)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	wantSteps := []string{
		"write+sync restoring.tmp (ledger block 1 " + old + ")",
		"rename restoring.tmp restoring (ledger block 1 " + old + ")",
		"sync dir (ledger block 1 " + old + ")",
		"remove restoring (ledger block 1 " + want + ")",
		"sync dir (ledger block 1 " + want + ")",
	}
	if !slices.Equal(rec.steps, wantSteps) {
		t.Fatalf("restore steps:\n  %s\nwant:\n  %s", strings.Join(rec.steps, "\n  "), strings.Join(wantSteps, "\n  "))
	}
	if _, err := os.Stat(filepath.Join(dst, "restoring")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("marker left after a restore: %v", err)
	}
}

// TestCutOffRestoreIsRedoneAtStart simulates a crash in the middle of a
// snapshot restore: the marker is on disk and the ledger holds half of
// what it had (every other key gone, the genesis block among them, so it
// cannot even be opened as a ledger). The node, started again, discards
// that ledger, restores the snapshot, replays the log after it and ends
// with the head it had, a chain that audits, and no marker.
func TestCutOffRestoreIsRedoneAtStart(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	n := openNode(t, dir, tn.Genesis)
	for range 3 {
		submit(t, n, publishTx(tn.device(t)))
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	submit(t, n, publishTx(tn.device(t))) // after the snapshot: from the log
	head := n.State().Head()
	n.Close()

	marker := restoreMarker{path: filepath.Join(dir, "restoring"), fs: osFS{}}
	if err := marker.set(); err != nil {
		t.Fatal(err)
	}
	halveLedger(t, filepath.Join(dir, "ledger"))

	n = openNode(t, dir, tn.Genesis)
	defer n.Close()
	if got := testutil.ToFloat64(n.metrics.restores); got != 1 {
		t.Fatalf("%v snapshot restores at start, want 1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.State().WaitHeight(ctx, head.Height); err != nil {
		t.Fatalf("height after the redone restore: %d, want %d: %v", n.State().Head().Height, head.Height, err)
	}
	if got := n.State().Head(); got != head {
		t.Fatalf("head after the redone restore %d %s, want %d %s", got.Height, got.Hash(), head.Height, head.Hash())
	}
	if rep, err := Audit(n.ledger); err != nil || rep.Problem != nil || rep.Blocks != head.Height+1 {
		t.Fatalf("audit after the redone restore: %+v %v", rep, err)
	}
	if cut, err := marker.isSet(); cut || err != nil {
		t.Fatalf("marker still set after the redone restore (%v)", err)
	}
}

// halveLedger deletes every other key of the Badger database in dir, and
// the genesis block, but keeps the head.
func halveLedger(t *testing.T, dir string) {
	t.Helper()
	db, err := OpenBadger(dir, BadgerOptions{Small: true, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys [][]byte
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		i := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().KeyCopy(nil); i%2 == 0 && !bytes.Equal(k, keyHead) {
				keys = append(keys, k)
			}
			i++
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		t.Fatalf("ledger keys: %d %v", len(keys), err)
	}
	keys = append(keys, blockKey(0))
	err = db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
