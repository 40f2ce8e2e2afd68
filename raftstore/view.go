package raftstore

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
)

// txnView is validator.View over a Badger transaction; in a write
// transaction it sees the writes of earlier transactions of the same block.
// One view serves one decide: it remembers the last record it found
// missing, so that storing that record next (a publish looks its
// certificate up, then stores it) needs no second lookup.
type txnView struct {
	txn *badger.Txn
	// blocked, when set, holds every key that may be blocked as of txn's
	// snapshot; blockedHere, the keys this view's block blocked so far.
	// A key in neither has no record (no lookup).
	blocked     *blockedSet
	blockedHere map[certchain.Hash]bool
	// filter, when set, says which records, identities and transactions
	// may be stored. A view whose writes are committed (Apply) enters
	// each such key in it before writing it; one whose writes are thrown
	// away (Precheck) keeps them in own instead.
	filter *keyFilter
	own    map[string]struct{}
	// missed is an ID whose record Record found absent and that putRecord
	// has not written since (valid while hasMissed).
	missed    certchain.Hash
	hasMissed bool
}

// Record implements validator.View. A missing record is the bare
// certchain.ErrNotFound: deciding a block looks up many records that are
// not there, and the validator only tests for it.
func (v *txnView) Record(id certchain.Hash) (*certchain.Record, error) {
	if !v.mayHave(recordKey(id)) {
		v.missed, v.hasMissed = id, true
		return nil, certchain.ErrNotFound
	}
	r, err := loadRecord(v.txn, id)
	if errors.Is(err, certchain.ErrNotFound) {
		v.missed, v.hasMissed = id, true
	}
	return r, err
}

// CurrentByIdentity implements validator.View.
func (v *txnView) CurrentByIdentity(identity string) (certchain.Hash, bool, error) {
	var id certchain.Hash
	key := identityKey(identity)
	if !v.mayHave(key) {
		return id, false, nil
	}
	b, err := getValue(v.txn, key)
	if errors.Is(err, certchain.ErrNotFound) {
		return id, false, nil
	}
	if err != nil || len(b) != len(id) {
		return id, false, fmt.Errorf("identity index %q: bad entry (%v)", identity, err)
	}
	copy(id[:], b)
	return id, true, nil
}

// Node implements validator.View.
func (v *txnView) Node(id string) (*certchain.NodeRecord, error) { return getNode(v.txn, id) }

// BlockedKey implements validator.View.
func (v *txnView) BlockedKey(h certchain.Hash) (*certchain.BlockedKey, error) {
	if v.blocked != nil && !v.blocked.has(h) && !v.blockedHere[h] {
		return nil, certchain.ErrNotFound
	}
	return getBlockedKey(v.txn, h)
}

// block notes that this view's block blocked key h.
func (v *txnView) block(h certchain.Hash) {
	if v.blockedHere == nil {
		v.blockedHere = make(map[certchain.Hash]bool)
	}
	v.blockedHere[h] = true
}

// MemberHeight implements validator.View.
func (v *txnView) MemberHeight(name string) (uint64, error) {
	b, err := getValue(v.txn, memberKey(name))
	if errors.Is(err, certchain.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	r, err := certchain.DecodeMemberRecord(b)
	if err != nil {
		return 0, err
	}
	return r.Height, nil
}

// OCSPDelegate implements validator.View.
func (v *txnView) OCSPDelegate(keyHash, issuerHash certchain.Hash) (*certchain.OCSPDelegate, error) {
	b, err := getValue(v.txn, ocspDelegateKey(keyHash, issuerHash))
	if err != nil {
		return nil, err
	}
	return certchain.DecodeOCSPDelegate(b)
}

// CertsByKey implements validator.View.
func (v *txnView) CertsByKey(h certchain.Hash, limit int) ([]certchain.Hash, error) {
	return certsByKey(v.txn, h, limit)
}

func getBlockedKey(txn *badger.Txn, h certchain.Hash) (*certchain.BlockedKey, error) {
	b, err := getValue(txn, blockedKey(h))
	if err != nil {
		return nil, err
	}
	return certchain.DecodeBlockedKey(b)
}

// certsByKey lists (from the key index) the IDs of the certificates
// carrying public key h, at most limit+1 of them.
func certsByKey(txn *badger.Txn, h certchain.Hash, limit int) ([]certchain.Hash, error) {
	prefix := join(prefixKey, h[:])
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []certchain.Hash
	for it.Seek(prefix); it.ValidForPrefix(prefix) && len(ids) <= limit; it.Next() {
		k := it.Item().Key()
		var id certchain.Hash
		if len(k) != len(prefix)+len(id) {
			return nil, fmt.Errorf("key index entry %x: bad length", k)
		}
		copy(id[:], k[len(prefix):])
		ids = append(ids, id)
	}
	return ids, nil
}

// absent reports whether no record id is stored.
func (v *txnView) absent(id certchain.Hash) (bool, error) {
	if v.hasMissed && v.missed == id {
		return true, nil
	}
	key := recordKey(id)
	if !v.mayHave(key) {
		return true, nil
	}
	_, err := v.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return true, nil
	}
	return false, err
}

// stored notes that record id was written.
func (v *txnView) stored(id certchain.Hash) {
	if v.missed == id {
		v.hasMissed = false
	}
}

// txVerdict returns the verdict transaction id got where it first appears
// on the ledger; false when it is not on the ledger.
func (v *txnView) txVerdict(id certchain.Hash) (certchain.Verdict, bool, error) {
	key := txKey(id)
	if !v.mayHave(key) {
		return certchain.Verdict{}, false, nil
	}
	loc, err := getValue(v.txn, key)
	if errors.Is(err, certchain.ErrNotFound) {
		return certchain.Verdict{}, false, nil
	} else if err != nil {
		return certchain.Verdict{}, false, err
	}
	blk, err := getBlock(v.txn, binary.BigEndian.Uint64(loc))
	if pos := int(binary.BigEndian.Uint32(loc[8:])); err == nil && pos < len(blk.Verdicts) {
		return blk.Verdicts[pos], true, nil
	}
	return certchain.Verdict{}, false, fmt.Errorf("transaction %s indexed at a block that lacks it: %w", id, cmp.Or(err, certchain.ErrInvalid))
}

// mayHave reports whether key may be stored (false is certain).
func (v *txnView) mayHave(key []byte) bool {
	if v.filter == nil || v.filter.mayHave(key) {
		return true
	}
	_, ok := v.own[string(key)]
	return ok
}

// set writes key (a record or identity key), entering it in the filter
// (or own) first.
func (v *txnView) set(key, value []byte) error {
	switch {
	case v.own != nil:
		v.own[string(key)] = struct{}{}
	case v.filter != nil:
		v.filter.add(key)
	}
	return v.txn.Set(key, value)
}

// getRecord reads and decodes the record of certificate id.
func getRecord(txn *badger.Txn, id certchain.Hash) (*certchain.Record, error) {
	r, err := loadRecord(txn, id)
	if errors.Is(err, certchain.ErrNotFound) {
		return nil, fmt.Errorf("certificate %s: %w", id, err)
	}
	return r, err
}

// loadRecord is getRecord, but a missing record is the bare
// certchain.ErrNotFound.
func loadRecord(txn *badger.Txn, id certchain.Hash) (*certchain.Record, error) {
	b, err := getValue(txn, recordKey(id))
	switch {
	case errors.Is(err, certchain.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("certificate %s: %w", id, err)
	}
	r, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return r, nil
}

// decodeRecord decodes a stored record: its canonical encoding, or the
// JSON that ledgers written before it hold (a JSON object starts with '{',
// which no record encoding does: it would be the unknown field 123).
func decodeRecord(b []byte) (*certchain.Record, error) {
	if len(b) > 0 && b[0] == '{' {
		var r certchain.Record
		return &r, json.Unmarshal(b, &r)
	}
	return certchain.DecodeRecord(b)
}

// getNode reads and decodes the record of validator node id (canonical
// encoding, or JSON as for records).
func getNode(txn *badger.Txn, id string) (*certchain.NodeRecord, error) {
	b, err := getValue(txn, nodeKey(id))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", id, err)
	}
	var n *certchain.NodeRecord
	if len(b) > 0 && b[0] == '{' {
		n = new(certchain.NodeRecord)
		err = json.Unmarshal(b, n)
	} else {
		n, err = certchain.DecodeNodeRecord(b)
	}
	if err != nil {
		return nil, fmt.Errorf("decode node %s: %w", id, err)
	}
	return n, nil
}
