package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// LogStore is a hashicorp/raft LogStore and StableStore backed by a
// dedicated Badger database, modelled on raft-boltdb's BoltStore.
//
// Keys inside the database:
//
//	"l/" + 8-byte big-endian index -> log record (see appendLogRecord)
//	"s/" + key                     -> stable value, stored verbatim
//
// Big-endian indexes make Badger's key order equal to log order, so the
// first and last entries are found with one iterator seek.
type LogStore struct {
	db *badger.DB
}

// NewLogStore returns a LogStore using db, which should be dedicated to
// the Raft log and opened with SyncWrites (see OpenBadger). The caller
// keeps ownership of db and closes it after Raft has shut down.
func NewLogStore(db *badger.DB) *LogStore { return &LogStore{db: db} }

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

// ErrKeyNotFound is returned by Get and GetUint64 for a key that was never
// set. Its text must stay exactly "not found": hashicorp/raft tells a
// missing key from a storage failure by comparing err.Error() with "not
// found" (HasExistingState and NewRaft in api.go, requestVote in raft.go),
// as raft-boltdb's ErrKeyNotFound and raft's InmemStore do.
var ErrKeyNotFound = errors.New("not found")

var (
	lsLogPrefix    = []byte("l/")
	lsStablePrefix = []byte("s/")
)

const (
	lsLogKeyLen = 2 + 8
	// lsDeleteChunk is how many log keys DeleteRange collects and deletes
	// per pass; a whole range may not fit in one Badger transaction.
	lsDeleteChunk = 4096
)

// lsAppendLogKey appends the key of log index to dst.
func lsAppendLogKey(dst []byte, index uint64) []byte {
	dst = append(dst, lsLogPrefix...)
	return binary.BigEndian.AppendUint64(dst, index)
}

// lsLogIndex returns the index encoded in a log key.
func lsLogIndex(key []byte) (uint64, error) {
	if len(key) != lsLogKeyLen {
		return 0, fmt.Errorf("raftstore: malformed log key %x", key)
	}
	return binary.BigEndian.Uint64(key[len(lsLogPrefix):]), nil
}

// FirstIndex implements raft.LogStore: the lowest stored index, 0 if none.
func (s *LogStore) FirstIndex() (uint64, error) { return s.edgeIndex(false) }

// LastIndex implements raft.LogStore: the highest stored index, 0 if none.
func (s *LogStore) LastIndex() (uint64, error) { return s.edgeIndex(true) }

// edgeIndex seeks to the first (or, reversed, the last) log key.
func (s *LogStore) edgeIndex(reverse bool) (uint64, error) {
	var index uint64
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.IteratorOptions{Prefix: lsLogPrefix, Reverse: reverse}
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := lsAppendLogKey(nil, 0)
		if reverse {
			seek = lsAppendLogKey(nil, math.MaxUint64)
		}
		it.Seek(seek)
		if !it.Valid() {
			return nil
		}
		var err error
		index, err = lsLogIndex(it.Item().Key())
		return err
	})
	return index, err
}

// GetLog implements raft.LogStore; a missing index gives raft.ErrLogNotFound.
// Data and Extensions of l share one freshly allocated buffer.
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var key [lsLogKeyLen]byte
		item, err := txn.Get(lsAppendLogKey(key[:0], index))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	if err := decodeLogRecord(val, l); err != nil {
		return fmt.Errorf("raftstore: log %d: %w", index, err)
	}
	if l.Index != index {
		return fmt.Errorf("raftstore: log key %d holds index %d", index, l.Index)
	}
	return nil
}

// StoreLog implements raft.LogStore.
func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore. All entries are written in one Badger
// transaction, so the batch is atomic whenever it fits in one. If Badger
// reports badger.ErrTxnTooBig the batch is committed in several
// consecutive transactions, in index order, so a crash can leave only a
// prefix of the batch stored. Raft tolerates that exactly as it tolerates a
// crash just before the call: on restart it trusts LastIndex, and the
// leader's AppendEntries consistency check re-sends everything after the
// last stored index.
//
// Keys and records of the whole batch are encoded into one allocation;
// Badger keeps references to them until commit, so it cannot be reused.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	buf := make([]byte, 0, lsBatchSize(logs))
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, l := range logs {
		k := len(buf)
		buf = lsAppendLogKey(buf, l.Index)
		v := len(buf)
		buf = appendLogRecord(buf, l)
		var err error
		txn, err = lsSet(s.db, txn, buf[k:v:v], buf[v:len(buf):len(buf)])
		if err != nil {
			return fmt.Errorf("raftstore: store log %d: %w", l.Index, err)
		}
	}
	return txn.Commit()
}

// lsBatchSize is the exact number of bytes StoreLogs encodes for logs.
func lsBatchSize(logs []*raft.Log) int {
	n := 0
	for _, l := range logs {
		n += lsLogKeyLen + logRecordSize(l)
	}
	return n
}

// lsSet sets key to val in txn. If txn is full it is committed and the set
// is retried in a new transaction, which is returned in its place.
func lsSet(db *badger.DB, txn *badger.Txn, key, val []byte) (*badger.Txn, error) {
	err := txn.Set(key, val)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return txn, err
	}
	if txn, err = lsRotate(db, txn); err != nil {
		return txn, err
	}
	return txn, txn.Set(key, val)
}

// lsDelete deletes key in txn, rotating to a new transaction like lsSet.
func lsDelete(db *badger.DB, txn *badger.Txn, key []byte) (*badger.Txn, error) {
	err := txn.Delete(key)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return txn, err
	}
	if txn, err = lsRotate(db, txn); err != nil {
		return txn, err
	}
	return txn, txn.Delete(key)
}

// lsRotate commits txn and opens a new update transaction.
func lsRotate(db *badger.DB, txn *badger.Txn) (*badger.Txn, error) {
	if err := txn.Commit(); err != nil {
		return txn, err
	}
	return db.NewTransaction(true), nil
}

// DeleteRange implements raft.LogStore: it deletes the stored entries with
// min <= index <= max. Only keys that exist are deleted (gaps are allowed),
// lsDeleteChunk keys per pass, each pass committed before the next, since
// a large range does not fit in one transaction. An error can leave the
// lower part of the range deleted, which Raft's compaction retries safely.
func (s *LogStore) DeleteRange(min, max uint64) error {
	for min <= max {
		keys, more, err := s.collectLogKeys(min, max)
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := s.deleteKeys(keys); err != nil {
			return err
		}
		if !more {
			return nil
		}
		last, _ := lsLogIndex(keys[len(keys)-1])
		min = last + 1
	}
	return nil
}

// collectLogKeys returns up to lsDeleteChunk stored log keys in
// [min, max], and whether more may follow.
func (s *LogStore) collectLogKeys(min, max uint64) ([][]byte, bool, error) {
	buf := make([]byte, 0, lsDeleteChunk*lsLogKeyLen)
	keys := make([][]byte, 0, lsDeleteChunk)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: lsLogPrefix})
		defer it.Close()
		for it.Seek(lsAppendLogKey(nil, min)); it.Valid() && len(keys) < lsDeleteChunk; it.Next() {
			key := it.Item().Key()
			index, err := lsLogIndex(key)
			if err != nil {
				return err
			}
			if index > max {
				break
			}
			start := len(buf)
			buf = append(buf, key...)
			keys = append(keys, buf[start:len(buf):len(buf)])
		}
		return nil
	})
	more := len(keys) == lsDeleteChunk && !lsIsLast(keys, max)
	return keys, more, err
}

// lsIsLast reports whether the last collected key is index max (or the
// largest possible index), so that nothing can follow it in the range.
func lsIsLast(keys [][]byte, max uint64) bool {
	last, _ := lsLogIndex(keys[len(keys)-1])
	return last >= max || last == math.MaxUint64
}

// deleteKeys deletes keys, committing as many transactions as needed.
func (s *LogStore) deleteKeys(keys [][]byte) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, key := range keys {
		var err error
		if txn, err = lsDelete(s.db, txn, key); err != nil {
			return fmt.Errorf("raftstore: delete logs: %w", err)
		}
	}
	return txn.Commit()
}

// Set implements raft.StableStore.
func (s *LogStore) Set(key, val []byte) error {
	k := lsStableKey(key)
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, val) })
}

// Get implements raft.StableStore. A missing key gives ErrKeyNotFound,
// whose text "not found" is what Raft checks for.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(lsStableKey(key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrKeyNotFound
	}
	return val, err
}

// SetUint64 implements raft.StableStore, storing val as 8 big-endian bytes.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore. A missing key gives 0 and
// ErrKeyNotFound, as raft-boltdb does; Raft accepts either that or 0, nil.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("raftstore: stable key %q holds %d bytes, want 8", key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}

// lsStableKey returns the database key of stable-store key.
func lsStableKey(key []byte) []byte {
	k := make([]byte, 0, len(lsStablePrefix)+len(key))
	return append(append(k, lsStablePrefix...), key...)
}

// Log record encoding, version 1. Integers are unsigned varints
// (encoding/binary Uvarint) unless stated:
//
//	version     1 byte, = 1
//	flags       1 byte; bit 0: AppendedAt present; other bits must be 0
//	Index       uvarint
//	Term        uvarint
//	Type        1 byte (raft.LogType)
//	AppendedAt  8 bytes, big-endian int64 Unix nanoseconds; only if flag bit 0
//	Data        uvarint length, then the bytes
//	Extensions  uvarint length, then the bytes
//
// Nothing may follow Extensions. A zero AppendedAt is omitted and decodes
// as the zero time.Time; others decode as time.Unix(0, nanos), so times
// outside 1678..2262 (beyond int64 nanoseconds) are not representable.
// Empty Data and Extensions decode as nil.
const (
	logRecordV1       = 1
	logFlagAppendedAt = 1 << 0
)

// errCorruptLog wraps every decoding failure.
var errCorruptLog = errors.New("corrupt log record")

// uvarintLen is the length of x encoded by binary.AppendUvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// logRecordSize is the exact encoded length of l.
func logRecordSize(l *raft.Log) int {
	n := 2 + uvarintLen(l.Index) + uvarintLen(l.Term) + 1
	if !l.AppendedAt.IsZero() {
		n += 8
	}
	n += uvarintLen(uint64(len(l.Data))) + len(l.Data)
	return n + uvarintLen(uint64(len(l.Extensions))) + len(l.Extensions)
}

// appendLogRecord appends the encoding of l to dst.
func appendLogRecord(dst []byte, l *raft.Log) []byte {
	var flags byte
	if !l.AppendedAt.IsZero() {
		flags |= logFlagAppendedAt
	}
	dst = append(dst, logRecordV1, flags)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	if flags&logFlagAppendedAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(l.AppendedAt.UnixNano()))
	}
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	return append(dst, l.Extensions...)
}

// decodeLogRecord decodes b into l, overwriting every field. Data and
// Extensions alias b (with capped capacity); b must not be modified later.
func decodeLogRecord(b []byte, l *raft.Log) error {
	r := recordReader{b: b}
	if v := r.readByte(); r.err == nil && v != logRecordV1 {
		return fmt.Errorf("%w: version %d", errCorruptLog, v)
	}
	flags := r.readByte()
	if r.err == nil && flags&^logFlagAppendedAt != 0 {
		return fmt.Errorf("%w: flags %#x", errCorruptLog, flags)
	}
	l.Index = r.readUvarint()
	l.Term = r.readUvarint()
	l.Type = raft.LogType(r.readByte())
	l.AppendedAt = time.Time{}
	if flags&logFlagAppendedAt != 0 {
		l.AppendedAt = time.Unix(0, int64(r.readUint64()))
	}
	l.Data = r.readBytes()
	l.Extensions = r.readBytes()
	return r.finish()
}

// recordReader reads a log record, remembering the first error.
type recordReader struct {
	b   []byte
	err error
}

// fail records a truncation error.
func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad or truncated %s", errCorruptLog, what)
	}
}

// readByte reads one byte.
func (r *recordReader) readByte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// readUvarint reads an unsigned varint.
func (r *recordReader) readUvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// readUint64 reads 8 big-endian bytes.
func (r *recordReader) readUint64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("timestamp")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// readBytes reads a length-prefixed byte string; empty gives nil.
func (r *recordReader) readBytes() []byte {
	n := r.readUvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// finish reports the first error, or trailing bytes after the record.
func (r *recordReader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorruptLog, len(r.b))
	}
	return r.err
}
