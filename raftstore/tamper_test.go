package raftstore

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// flipByte flips one byte of the value stored at key (at the offset pos
// picks from the value's length) and returns a function that puts it back.
func flipByte(t *testing.T, db *badger.DB, key []byte, pos func(n int) int) func() {
	t.Helper()
	var orig []byte
	err := db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		if orig, err = item.ValueCopy(nil); err != nil {
			return err
		}
		edited := append([]byte(nil), orig...)
		edited[pos(len(edited))] ^= 0x01
		return txn.Set(key, edited)
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
	return func() {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, orig) }); err != nil {
			t.Fatalf("untamper: %v", err)
		}
	}
}
