package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/certchain/certchain/certchain"
	"github.com/dgraph-io/badger/v4"
)

// txnView is validator.View over a Badger transaction; in a write
// transaction it sees the writes of earlier transactions of the same block.
type txnView struct{ txn *badger.Txn }

// Record implements validator.View.
func (v txnView) Record(id certchain.Hash) (*certchain.Record, error) {
	b, err := getValue(v.txn, recordKey(id))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", id, err)
	}
	var r certchain.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return &r, nil
}

// CurrentByIdentity implements validator.View.
func (v txnView) CurrentByIdentity(identity string) (certchain.Hash, bool, error) {
	var id certchain.Hash
	b, err := getValue(v.txn, identityKey(identity))
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
func (v txnView) Node(id string) (*certchain.NodeRecord, error) {
	b, err := getValue(v.txn, nodeKey(id))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", id, err)
	}
	var n certchain.NodeRecord
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("decode node %s: %w", id, err)
	}
	return &n, nil
}

func (v txnView) absent(id certchain.Hash) (bool, error) {
	_, err := v.txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return true, nil
	}
	return false, err
}

func (v txnView) hasTx(id certchain.Hash) (bool, error) {
	_, err := v.txn.Get(txKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}
