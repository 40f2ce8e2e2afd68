package raftstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Replicated objects are small values that services on the nodes (the ACME
// server's accounts, orders and authorizations) keep in Raft so that every
// node has them and they survive the loss of any node, but that are not
// certificate ledger transactions: they are not verified, not hashed into
// blocks and not audited. Each write is a Raft entry of its own
// (entryObjects) holding one or more conditional writes that apply all or
// none, in the same Badger transaction as the applied index.
//
// Every object carries a version: the Raft index of the entry that last
// wrote it. A write names the version it read (optimistic concurrency), so
// two nodes changing one order at once cannot both win.

// AnyVersion as ObjectWrite.Version writes whatever the current version.
const AnyVersion = ^uint64(0)

// MaxObjectsEntry bounds the encoding of one WriteObjects call.
const MaxObjectsEntry = 1 << 20

// ObjectWrite is one conditional write of a replicated object.
type ObjectWrite struct {
	// Key names the object; any non-empty string of up to 512 bytes.
	Key string
	// Value is the new value; nil deletes the object.
	Value []byte
	// Version is the object's version the writer read, 0 for an object
	// that must not exist yet, or AnyVersion.
	Version uint64
}

// ObjectsApplied is the FSM's answer to an objects entry.
type ObjectsApplied struct {
	Index uint64
	// Err wraps certchain.ErrConflict when a version did not match;
	// nothing was written then.
	Err error
}

const maxObjectKey = 512

// encodeObjects makes the Raft entry for writes.
func encodeObjects(writes []ObjectWrite) ([]byte, error) {
	if len(writes) == 0 {
		return nil, fmt.Errorf("%w: no object writes", certchain.ErrInvalid)
	}
	b := []byte{entryObjects}
	b = binary.AppendUvarint(b, uint64(len(writes)))
	for _, w := range writes {
		if w.Key == "" || len(w.Key) > maxObjectKey {
			return nil, fmt.Errorf("%w: object key of %d bytes", certchain.ErrInvalid, len(w.Key))
		}
		b = binary.AppendUvarint(b, uint64(len(w.Key)))
		b = append(b, w.Key...)
		b = binary.AppendUvarint(b, w.Version)
		if w.Value == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(w.Value)))
		b = append(b, w.Value...)
	}
	if len(b) > MaxObjectsEntry {
		return nil, fmt.Errorf("%w: object writes of %d bytes (at most %d)", certchain.ErrInvalid, len(b), MaxObjectsEntry)
	}
	return b, nil
}

// EncodeObjects returns the wire form of writes (without the entry type),
// as forwarded to the leader.
func EncodeObjects(writes []ObjectWrite) ([]byte, error) {
	b, err := encodeObjects(writes)
	if err != nil {
		return nil, err
	}
	return b[1:], nil
}

// DecodeObjects parses what EncodeObjects made. Values alias b.
func DecodeObjects(b []byte) ([]ObjectWrite, error) {
	if len(b) > MaxObjectsEntry {
		return nil, fmt.Errorf("%w: object writes of %d bytes", certchain.ErrInvalid, len(b))
	}
	r := bytes.NewReader(b)
	n, err := readUvarint(r)
	if err != nil || n == 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: object writes: bad count", certchain.ErrInvalid)
	}
	chunk := func(max uint64) ([]byte, error) {
		l, err := readUvarint(r)
		if err != nil || l > max || l > uint64(r.Len()) {
			return nil, fmt.Errorf("%w: object writes: bad length", certchain.ErrInvalid)
		}
		off := len(b) - r.Len()
		_, _ = r.Seek(int64(l), 1)
		return b[off : off+int(l) : off+int(l)], nil
	}
	out := make([]ObjectWrite, 0, min(n, 64))
	for range n {
		key, err := chunk(maxObjectKey)
		if err != nil {
			return nil, err
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("%w: object writes: empty key", certchain.ErrInvalid)
		}
		w := ObjectWrite{Key: string(key)}
		if w.Version, err = readUvarint(r); err != nil {
			return nil, fmt.Errorf("%w: object writes: bad version", certchain.ErrInvalid)
		}
		switch flag, err := r.ReadByte(); {
		case err != nil || flag > 1:
			return nil, fmt.Errorf("%w: object writes: bad value flag", certchain.ErrInvalid)
		case flag == 1:
			v, err := chunk(MaxObjectsEntry)
			if err != nil {
				return nil, err
			}
			w.Value = v
			if w.Value == nil {
				w.Value = []byte{}
			}
		}
		out = append(out, w)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: object writes: %d trailing bytes", certchain.ErrInvalid, r.Len())
	}
	return out, nil
}

// readUvarint reads a minimally encoded uvarint, so that every list of
// writes has exactly one encoding.
func readUvarint(r *bytes.Reader) (uint64, error) {
	start := r.Len()
	x, err := binary.ReadUvarint(r)
	if err == nil && start-r.Len() != len(binary.AppendUvarint(nil, x)) {
		err = errors.New("non-minimal varint")
	}
	return x, err
}

func objectKey(key string) []byte { return append(withPrefix(prefixObject, len(key)), key...) }

// applyObjects writes one objects entry: all writes or, when a version
// does not match, none (the answer says which).
func (s *State) applyObjects(index uint64, writes []ObjectWrite) (*ObjectsApplied, error) {
	if index <= s.AppliedIndex() {
		return nil, nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	res := &ObjectsApplied{Index: index}
	for _, w := range writes {
		if w.Version == AnyVersion {
			continue
		}
		_, v, err := getObject(txn, w.Key)
		if err != nil && !errors.Is(err, certchain.ErrNotFound) {
			return nil, err
		}
		if v != w.Version {
			res.Err = fmt.Errorf("%w: object %q is at version %d, not %d", certchain.ErrConflict, w.Key, v, w.Version)
			break
		}
	}
	if res.Err == nil {
		for _, w := range writes {
			var err error
			if w.Value == nil {
				err = txn.Delete(objectKey(w.Key))
			} else {
				err = txn.Set(objectKey(w.Key), append(binary.BigEndian.AppendUint64(nil, index), w.Value...))
			}
			if err != nil {
				return nil, fmt.Errorf("object %q: %w", w.Key, err)
			}
		}
	}
	if err := txn.Set(keyApplied, u64(index)); err != nil {
		return nil, err
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("commit objects at index %d: %w", index, err)
	}
	s.advance(s.Head(), index)
	return res, nil
}

func getObject(txn *badger.Txn, key string) ([]byte, uint64, error) {
	v, err := getValue(txn, objectKey(key))
	if err != nil {
		return nil, 0, err
	}
	if len(v) < 8 {
		return nil, 0, fmt.Errorf("object %q: value of %d bytes", key, len(v))
	}
	return v[8:], binary.BigEndian.Uint64(v), nil
}

// Object returns the value and version of the object key as this node has
// applied it, or certchain.ErrNotFound.
func (s *State) Object(key string) (value []byte, version uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		value, version, err = getObject(txn, key)
		return err
	})
	return value, version, err
}

// Objects calls fn for each object whose key starts with prefix, in key
// order, until fn returns false.
func (s *State) Objects(prefix string, fn func(key string, value []byte, version uint64) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		p := objectKey(prefix)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) < 8 {
				return fmt.Errorf("object %q: value of %d bytes", it.Item().Key(), len(v))
			}
			key := string(it.Item().Key()[len(prefixObject):])
			if !fn(key, v[8:], binary.BigEndian.Uint64(v)) {
				return nil
			}
		}
		return nil
	})
}

// WaitApplied blocks until this node has applied the Raft entry at index,
// or ctx ends.
func (s *State) WaitApplied(ctx context.Context, index uint64) error {
	for {
		s.mu.RLock()
		cur, ch := s.applied, s.changed
		s.mu.RUnlock()
		if cur >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d (at %d): %w", index, cur, ctx.Err())
		}
	}
}

// WriteObjects replicates writes through Raft, all or none, and returns the
// Raft index they were applied at (the objects' new version). A version
// that does not match fails with certchain.ErrConflict and writes nothing.
// A follower forwards to the leader and waits until it has applied the
// entry itself, so a read here right after sees the write.
func (n *Node) WriteObjects(ctx context.Context, writes []ObjectWrite) (uint64, error) {
	entry, err := encodeObjects(writes)
	if err != nil {
		return 0, err
	}
	if n.IsLeader() || n.cfg.Forwarder == nil {
		return n.WriteObjectsLocal(ctx, entry[1:])
	}
	api, err := n.leaderAPI(ctx)
	if err != nil {
		return 0, err
	}
	index, err := n.cfg.Forwarder.ForwardObjects(ctx, api, entry[1:])
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	if err := n.state.WaitApplied(wctx, index); err != nil {
		return 0, fmt.Errorf("%w: written at index %d by the leader: %v", ErrOutcomeUnknown, index, err)
	}
	return index, nil
}

// WriteObjectsLocal proposes encoded object writes (EncodeObjects) on this
// node, which must be the leader; the leader's internal endpoint calls it
// for writes forwarded by followers.
func (n *Node) WriteObjectsLocal(ctx context.Context, encoded []byte) (uint64, error) {
	if _, err := DecodeObjects(encoded); err != nil {
		return 0, err
	}
	timeout := n.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(0, time.Until(d)))
	}
	f := n.raft.Apply(append([]byte{entryObjects}, encoded...), timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return 0, fmt.Errorf("%w: %v", certchain.ErrNotLeader, err)
		}
		return 0, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	}
	a, ok := f.Response().(*ObjectsApplied)
	if !ok || a == nil {
		return 0, fmt.Errorf("%w: entry was applied before a restart", ErrOutcomeUnknown)
	}
	return a.Index, a.Err
}
