package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// lsOpen opens a small Badger database in dir and a LogStore on it; the
// database is closed at cleanup unless the caller closed it already.
func lsOpen(t testing.TB, dir string, sync bool) (*LogStore, *badger.DB) {
	t.Helper()
	db, err := OpenBadger(dir, BadgerOptions{SyncWrites: sync, Small: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !db.IsClosed() {
			_ = db.Close()
		}
	})
	return NewLogStore(db), db
}

// lsTestLog returns a distinctive log entry for index.
func lsTestLog(index uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       index/10 + 1,
		Type:       raft.LogType(index % 6),
		Data:       []byte(fmt.Sprintf("data-%d", index)),
		Extensions: []byte(fmt.Sprintf("ext-%d", index)),
		AppendedAt: time.Unix(1_700_000_000, int64(index)),
	}
}

// lsRange returns entries first..last.
func lsRange(first, last uint64) []*raft.Log {
	logs := make([]*raft.Log, 0, last-first+1)
	for i := first; i <= last; i++ {
		logs = append(logs, lsTestLog(i))
	}
	return logs
}

// lsEqualLog reports whether two entries hold the same values.
func lsEqualLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

// lsCheckBounds asserts FirstIndex and LastIndex.
func lsCheckBounds(t *testing.T, s *LogStore, first, last uint64) {
	t.Helper()
	if got, err := s.FirstIndex(); err != nil || got != first {
		t.Fatalf("FirstIndex = %d, %v; want %d", got, err, first)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Fatalf("LastIndex = %d, %v; want %d", got, err, last)
	}
}

// lsCheckLog asserts that index is stored with lsTestLog's values, or absent.
func lsCheckLog(t *testing.T, s *LogStore, index uint64, present bool) {
	t.Helper()
	var got raft.Log
	err := s.GetLog(index, &got)
	switch {
	case !present && !errors.Is(err, raft.ErrLogNotFound):
		t.Fatalf("GetLog(%d) = %v; want ErrLogNotFound", index, err)
	case present && err != nil:
		t.Fatalf("GetLog(%d): %v", index, err)
	case present && !lsEqualLog(&got, lsTestLog(index)):
		t.Fatalf("GetLog(%d) = %+v; want %+v", index, got, lsTestLog(index))
	}
}

func TestLogStoreEmpty(t *testing.T) {
	s, _ := lsOpen(t, t.TempDir(), false)
	lsCheckBounds(t, s, 0, 0)
	lsCheckLog(t, s, 1, false)
	if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Fatalf("Get missing = %v; want error text %q", err, "not found")
	}
	v, err := s.GetUint64([]byte("missing"))
	if v != 0 || !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
		t.Fatalf("GetUint64 missing = %d, %v; want 0, not found", v, err)
	}
	if err := s.DeleteRange(1, 100); err != nil {
		t.Fatalf("DeleteRange on empty store: %v", err)
	}
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil): %v", err)
	}
}

func TestLogStoreStoreAndGet(t *testing.T) {
	tests := []struct {
		name        string
		store       func(s *LogStore) error
		first, last uint64
	}{
		{"single", func(s *LogStore) error { return s.StoreLog(lsTestLog(1)) }, 1, 1},
		{"batch", func(s *LogStore) error { return s.StoreLogs(lsRange(1, 100)) }, 1, 100},
		{"starts high", func(s *LogStore) error { return s.StoreLogs(lsRange(1000, 1010)) }, 1000, 1010},
		{"byte boundaries", func(s *LogStore) error { return s.StoreLogs(lsRange(250, 260)) }, 250, 260},
		{"batches in order", func(s *LogStore) error {
			if err := s.StoreLogs(lsRange(1, 10)); err != nil {
				return err
			}
			return s.StoreLogs(lsRange(11, 20))
		}, 1, 20},
		{"overwrite", func(s *LogStore) error {
			stale := lsRange(1, 5)
			for _, l := range stale {
				l.Data = []byte("stale")
			}
			if err := s.StoreLogs(stale); err != nil {
				return err
			}
			return s.StoreLogs(lsRange(1, 5))
		}, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := lsOpen(t, t.TempDir(), false)
			if err := tt.store(s); err != nil {
				t.Fatal(err)
			}
			lsCheckBounds(t, s, tt.first, tt.last)
			for i := tt.first; i <= tt.last; i++ {
				lsCheckLog(t, s, i, true)
			}
			lsCheckLog(t, s, tt.first-1, false)
			lsCheckLog(t, s, tt.last+1, false)
		})
	}
}

// TestLogStoreBigBatch stores a batch larger than one Badger transaction,
// which StoreLogs must split.
func TestLogStoreBigBatch(t *testing.T) {
	s, db := lsOpen(t, t.TempDir(), false)
	logs := lsRange(1, 64)
	for _, l := range logs {
		l.Data = bytes.Repeat([]byte{byte(l.Index)}, 64<<10)
	}
	total := int64(lsBatchSize(logs))
	if limit := db.Opts().MemTableSize * 15 / 100; total <= limit {
		t.Fatalf("batch of %d bytes fits one txn (limit %d); test is not exercising the split", total, limit)
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	lsCheckBounds(t, s, 1, 64)
	for _, want := range logs {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil || !lsEqualLog(&got, want) {
			t.Fatalf("GetLog(%d) = %v (equal=%v)", want.Index, err, lsEqualLog(&got, want))
		}
	}
}

func TestLogStoreDeleteRange(t *testing.T) {
	const n = 10_000 // more than lsDeleteChunk, so deletes take several passes
	tests := []struct {
		name        string
		min, max    uint64
		first, last uint64 // expected bounds afterwards
	}{
		{"compact prefix", 1, 6000, 6001, n},
		{"truncate suffix", 9001, n, 1, 9000},
		{"middle gap", 100, 9000, 1, n},
		{"all", 1, n, 0, 0},
		{"beyond both ends", 0, math.MaxUint64, 0, 0},
		{"exactly one chunk", 1, lsDeleteChunk, lsDeleteChunk + 1, n},
		{"single", 5, 5, 1, n},
		{"below stored", 0, 0, 1, n},
		{"above stored", n + 1, n + 100, 1, n},
		{"inverted", 10, 5, 1, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := lsOpen(t, t.TempDir(), false)
			if err := s.StoreLogs(lsRange(1, n)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(tt.min, tt.max); err != nil {
				t.Fatal(err)
			}
			lsCheckBounds(t, s, tt.first, tt.last)
			for _, i := range []uint64{1, 5, 99, 100, 4096, 4097, 6000, 6001, 9000, 9001, n} {
				deleted := i >= tt.min && i <= tt.max
				lsCheckLog(t, s, i, !deleted)
			}
		})
	}
}

func TestLogStoreStable(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *LogStore)
	}{
		{"set get", func(t *testing.T, s *LogStore) {
			lsMust(t, s.Set([]byte("k"), []byte("v1")))
			lsMust(t, s.Set([]byte("k"), []byte("v2")))
			lsWantGet(t, s, "k", "v2")
		}},
		{"empty value", func(t *testing.T, s *LogStore) {
			lsMust(t, s.Set([]byte("k"), nil))
			lsWantGet(t, s, "k", "")
		}},
		{"uint64", func(t *testing.T, s *LogStore) {
			lsMust(t, s.SetUint64([]byte("CurrentTerm"), 7))
			lsMust(t, s.SetUint64([]byte("big"), math.MaxUint64))
			lsWantUint64(t, s, "CurrentTerm", 7)
			lsWantUint64(t, s, "big", math.MaxUint64)
		}},
		{"uint64 of wrong size", func(t *testing.T, s *LogStore) {
			lsMust(t, s.Set([]byte("k"), []byte("abc")))
			if _, err := s.GetUint64([]byte("k")); err == nil || err.Error() == "not found" {
				t.Fatalf("GetUint64 of 3-byte value = %v; want a corruption error", err)
			}
		}},
		{"separate from logs", func(t *testing.T, s *LogStore) {
			lsMust(t, s.Set([]byte("l/\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("x")))
			lsCheckBounds(t, s, 0, 0)
			lsMust(t, s.StoreLogs(lsRange(1, 3)))
			lsMust(t, s.DeleteRange(0, math.MaxUint64))
			lsWantGet(t, s, "l/\x00\x00\x00\x00\x00\x00\x00\x01", "x")
		}},
		{"caller may reuse buffers", func(t *testing.T, s *LogStore) {
			key, val := []byte("k"), []byte("v")
			lsMust(t, s.Set(key, val))
			key[0], val[0] = 'x', 'x'
			lsWantGet(t, s, "k", "v")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := lsOpen(t, t.TempDir(), false)
			tt.run(t, s)
		})
	}
}

// lsMust fails the test on err.
func lsMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lsWantGet asserts a stable value.
func lsWantGet(t *testing.T, s *LogStore, key, want string) {
	t.Helper()
	got, err := s.Get([]byte(key))
	if err != nil || string(got) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
	}
}

// lsWantUint64 asserts a stable uint64 value.
func lsWantUint64(t *testing.T, s *LogStore, key string, want uint64) {
	t.Helper()
	got, err := s.GetUint64([]byte(key))
	if err != nil || got != want {
		t.Fatalf("GetUint64(%q) = %d, %v; want %d", key, got, err, want)
	}
}

func TestLogStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s, db := lsOpen(t, dir, true)
	lsMust(t, s.StoreLogs(lsRange(1, 500)))
	lsMust(t, s.DeleteRange(1, 99))
	lsMust(t, s.SetUint64([]byte("CurrentTerm"), 42))
	lsMust(t, s.Set([]byte("LastVoteCand"), []byte("node-1")))
	lsMust(t, db.Close())

	s, _ = lsOpen(t, dir, true)
	lsCheckBounds(t, s, 100, 500)
	lsCheckLog(t, s, 99, false)
	lsCheckLog(t, s, 100, true)
	lsCheckLog(t, s, 500, true)
	lsWantUint64(t, s, "CurrentTerm", 42)
	lsWantGet(t, s, "LastVoteCand", "node-1")
}

// TestLogStoreRecordRoundTrip checks the binary log encoding.
func TestLogStoreRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		log  raft.Log
	}{
		{"zero", raft.Log{}},
		{"typical", *lsTestLog(12345)},
		{"max ints", raft.Log{Index: math.MaxUint64, Term: math.MaxUint64, Type: 255}},
		{"empty slices", raft.Log{Index: 1, Data: []byte{}, Extensions: []byte{}}},
		{"before 1970", raft.Log{Index: 2, AppendedAt: time.Unix(-5, 7)}},
		{"epoch", raft.Log{Index: 3, AppendedAt: time.Unix(0, 0)}},
		{"large data", raft.Log{Index: 4, Data: bytes.Repeat([]byte("x"), 1<<16)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := appendLogRecord(nil, &tt.log)
			if len(enc) != logRecordSize(&tt.log) {
				t.Fatalf("encoded %d bytes; logRecordSize says %d", len(enc), logRecordSize(&tt.log))
			}
			got := raft.Log{Data: []byte("junk"), AppendedAt: time.Now()}
			if err := decodeLogRecord(enc, &got); err != nil {
				t.Fatal(err)
			}
			if !lsEqualLog(&got, &tt.log) || got.AppendedAt.IsZero() != tt.log.AppendedAt.IsZero() {
				t.Fatalf("decoded %+v; want %+v", got, tt.log)
			}
		})
	}
}

// TestLogStoreRecordRejects checks that malformed records are errors.
func TestLogStoreRecordRejects(t *testing.T) {
	valid := appendLogRecord(nil, lsTestLog(300))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{2}, valid[1:]...)},
		{"unknown flag", append([]byte{1, 0x02}, valid[2:]...)},
		{"trailing byte", append(append([]byte{}, valid...), 0)},
		{"huge length", []byte{1, 0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"overlong varint", []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for i := range valid {
		tests = append(tests, struct {
			name string
			b    []byte
		}{fmt.Sprintf("truncated to %d", i), valid[:i]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l raft.Log
			if err := decodeLogRecord(tt.b, &l); !errors.Is(err, errCorruptLog) {
				t.Fatalf("decode = %v; want errCorruptLog", err)
			}
		})
	}
}

// FuzzDecodeLog checks that decoding never panics and that whatever decodes
// re-encodes to a record that decodes to the same entry.
func FuzzDecodeLog(f *testing.F) {
	for _, l := range []*raft.Log{{}, lsTestLog(1), lsTestLog(1 << 40), {Index: math.MaxUint64, Data: []byte{0}}} {
		f.Add(appendLogRecord(nil, l))
	}
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if decodeLogRecord(b, &l) != nil {
			return
		}
		enc := appendLogRecord(nil, &l)
		if len(enc) != logRecordSize(&l) {
			t.Fatalf("size %d, logRecordSize %d", len(enc), logRecordSize(&l))
		}
		var again raft.Log
		if err := decodeLogRecord(enc, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !lsEqualLog(&l, &again) {
			t.Fatalf("round trip changed %+v into %+v", l, again)
		}
	})
}

// FuzzLogRecordRoundTrip encodes arbitrary entries and decodes them back.
func FuzzLogRecordRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint8(0), []byte("cmd"), []byte(nil), int64(1_700_000_000_000_000_000))
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data, ext []byte, nanos int64) {
		in := raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if nanos != 0 {
			in.AppendedAt = time.Unix(0, nanos)
		}
		var out raft.Log
		if err := decodeLogRecord(appendLogRecord(nil, &in), &out); err != nil {
			t.Fatal(err)
		}
		if !lsEqualLog(&in, &out) {
			t.Fatalf("round trip changed %+v into %+v", in, out)
		}
	})
}

// countingFSM counts applied commands and sums their 8-byte payloads.
type countingFSM struct {
	mu         sync.Mutex
	count, sum uint64
}

// Apply implements raft.FSM.
func (f *countingFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	f.sum += binary.BigEndian.Uint64(l.Data)
	return f.count
}

// Snapshot implements raft.FSM.
func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) {
	count, sum := f.state()
	return countingSnapshot{count, sum}, nil
}

// Restore implements raft.FSM.
func (f *countingFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count, f.sum = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	return nil
}

// state returns the counters.
func (f *countingFSM) state() (count, sum uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count, f.sum
}

// countingSnapshot is countingFSM's snapshot: count and sum, 8 bytes each.
type countingSnapshot struct{ count, sum uint64 }

// Persist implements raft.FSMSnapshot.
func (s countingSnapshot) Persist(sink raft.SnapshotSink) error {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, s.count), s.sum)
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (countingSnapshot) Release() {}

// lsRaftNode is a single-node Raft cluster over a Badger LogStore.
type lsRaftNode struct {
	r     *raft.Raft
	fsm   *countingFSM
	db    *badger.DB
	trans *raft.InmemTransport
}

// lsStartRaft starts (bootstrapping if the store is empty) a one-node
// cluster whose log, stable store and snapshots live under dir.
func lsStartRaft(t *testing.T, dir string) *lsRaftNode {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.TrailingLogs = 100
	conf.LogOutput = io.Discard

	store, db := lsOpen(t, dir+"/raft", true)
	snaps, err := raft.NewFileSnapshotStore(dir+"/snap", 2, io.Discard)
	lsMust(t, err)
	addr, trans := raft.NewInmemTransport("n1-addr")
	lsBootstrapOnce(t, conf, store, snaps, trans, addr)
	n := &lsRaftNode{fsm: &countingFSM{}, db: db, trans: trans}
	n.r, err = raft.NewRaft(conf, n.fsm, store, store, snaps, trans)
	lsMust(t, err)
	t.Cleanup(n.stop)
	lsWaitFor(t, 10*time.Second, "leadership", func() bool { return n.r.State() == raft.Leader })
	return n
}

// lsBootstrapOnce bootstraps a fresh store. HasExistingState reads
// CurrentTerm from the empty store, exercising the "not found" contract.
func lsBootstrapOnce(t *testing.T, conf *raft.Config, store *LogStore, snaps raft.SnapshotStore, trans raft.Transport, addr raft.ServerAddress) {
	t.Helper()
	has, err := raft.HasExistingState(store, store, snaps)
	lsMust(t, err)
	if has {
		return
	}
	cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}
	lsMust(t, raft.BootstrapCluster(conf, store, store, snaps, trans, cfg))
}

// stop shuts Raft down and closes the database; it is idempotent.
func (n *lsRaftNode) stop() {
	if n.db.IsClosed() {
		return
	}
	_ = n.r.Shutdown().Error()
	_ = n.trans.Close()
	_ = n.db.Close()
}

// apply applies commands first..last, each carrying its number.
func (n *lsRaftNode) apply(t *testing.T, first, last uint64) {
	t.Helper()
	for i := first; i <= last; i++ {
		f := n.r.Apply(binary.BigEndian.AppendUint64(nil, i), 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
}

// lsWaitFor polls cond until it holds or timeout passes.
func lsWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRaftSingleNodeReopen runs a real one-node cluster on the Badger
// LogStore, snapshots and compacts midway, restarts on the same
// directories and checks that the log survives and the FSM replays.
func TestRaftSingleNodeReopen(t *testing.T) {
	const total, wantSum = 500, 500 * 501 / 2
	dir := t.TempDir()
	n := lsStartRaft(t, dir)
	n.apply(t, 1, 300)
	lsMust(t, n.r.Snapshot().Error()) // compacts the log via DeleteRange
	n.apply(t, 301, total)
	lsMust(t, n.r.Barrier(5*time.Second).Error())
	if count, sum := n.fsm.state(); count != total || sum != wantSum {
		t.Fatalf("before restart: count %d sum %d", count, sum)
	}
	last := n.r.LastIndex()
	n.stop()

	store, db := lsOpen(t, dir+"/raft", true)
	first, err := store.FirstIndex()
	lsMust(t, err)
	lsCheckLast(t, store, last)
	if first <= 1 || first > last {
		t.Fatalf("FirstIndex after compaction = %d; want in (1, %d]", first, last)
	}
	lsMust(t, db.Close())

	n = lsStartRaft(t, dir)
	lsWaitFor(t, 10*time.Second, "FSM replay", func() bool {
		count, sum := n.fsm.state()
		return count == total && sum == wantSum
	})
	if got := n.r.LastIndex(); got <= last {
		t.Fatalf("LastIndex after restart = %d; want > %d (new leader entry)", got, last)
	}
}

// lsCheckLast asserts LastIndex.
func lsCheckLast(t *testing.T, s *LogStore, last uint64) {
	t.Helper()
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Fatalf("LastIndex after reopen = %d, %v; want %d", got, err, last)
	}
}

// BenchmarkLogStoreStoreLogs stores batches of 64 entries of 4 KiB, as a
// busy leader does, with and without fsync.
func BenchmarkLogStoreStoreLogs(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			db, err := OpenBadger(b.TempDir(), BadgerOptions{SyncWrites: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s := NewLogStore(db)
			logs := lsRange(1, 64)
			for _, l := range logs {
				l.Data = bytes.Repeat([]byte{'x'}, 4<<10)
			}
			b.SetBytes(64 * 4 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j, l := range logs {
					l.Index = uint64(i*64 + j + 1)
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
