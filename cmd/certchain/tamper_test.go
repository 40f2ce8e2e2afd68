package main

import (
	"encoding/binary"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// tamperBlock flips one byte in the middle of the stored block at height,
// as someone editing the data directory behind the ledger's back would.
func tamperBlock(t *testing.T, db *badger.DB, height uint64) {
	t.Helper()
	key := binary.BigEndian.AppendUint64([]byte("b/"), height) // raftstore/keys.go: prefixBlock
	err := db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		v[len(v)/2] ^= 0x01
		return txn.Set(key, v)
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}
