package raftstore

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator/validatortest"
	"github.com/dgraph-io/badger/v4"
)

// stateFixture is a State over its own Badger database, applying blocks
// directly (no Raft) at the test network's clock.
type stateFixture struct {
	t     *testing.T
	net   *validatortest.Network
	db    *badger.DB
	state *State
	index uint64
}

func newStateFixture(t *testing.T) *stateFixture {
	net := validatortest.NewNetwork(t)
	db, err := OpenBadger(filepath.Join(t.TempDir(), "ledger"), BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := OpenState(db, net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	return &stateFixture{t: t, net: net, db: db, state: s}
}

// apply prechecks txs, applies them as the next block and checks that both
// gave the same verdicts; it returns the codes.
func (f *stateFixture) apply(txs ...certchain.Tx) []certchain.VerdictCode {
	f.t.Helper()
	at := f.net.Now.Add(time.Duration(f.index) * time.Minute)
	ids := certchain.TxIDs(txs)
	pre, _, err := f.state.Precheck(txs, ids, at)
	if err != nil {
		f.t.Fatalf("precheck: %v", err)
	}
	f.index++
	got, err := f.state.Apply(f.index, &certchain.Proposal{Time: at.UnixNano(), Proposer: "n1", Txs: txs}, ids)
	if err != nil {
		f.t.Fatalf("apply: %v", err)
	}
	if !reflect.DeepEqual(pre, got.Verdicts) {
		f.t.Fatalf("precheck and apply disagree:\n%v\n%v", pre, got.Verdicts)
	}
	codes := make([]certchain.VerdictCode, len(got.Verdicts))
	for i, v := range got.Verdicts {
		codes[i] = v.Code
	}
	return codes
}

func publish(submitter string, der []byte) certchain.Tx {
	return certchain.Tx{Type: certchain.TxPublish, Submitter: submitter, Cert: der}
}

// TestStateWritesEveryIndex applies blocks of every kind of certificate
// transaction and compares the whole database with the keys and values
// the key layout of keys.go prescribes, built here the plain way.
func TestStateWritesEveryIndex(t *testing.T) {
	f := newStateFixture(t)
	n := f.net
	d1 := n.SelfSigned(t, validatortest.WithCN("dev-1"))
	twin := n.SelfSigned(t, validatortest.WithCN("dev-1"))
	uri := n.SelfSigned(t, validatortest.WithURI("urn:dev:2"))
	leaf := n.Leaf(t, n.CA)
	codes := f.apply(publish(validatortest.Vendor, d1.DER), publish(validatortest.Vendor, d1.DER),
		publish(validatortest.Vendor, twin.DER), publish(validatortest.Vendor, twin.DER), // refused, then its copy
		publish(validatortest.CA, leaf.DER), publish(validatortest.Vendor2, uri.DER))
	want := []certchain.VerdictCode{certchain.Accepted, certchain.Unchanged, certchain.Rejected, certchain.Rejected, certchain.Accepted, certchain.Accepted}
	if !slices.Equal(codes, want) {
		t.Fatalf("block 1: %v, want %v", codes, want)
	}
	next := n.SelfSigned(t, validatortest.WithCN("dev-1"))
	codes = f.apply(
		certchain.Tx{Type: certchain.TxRenew, Submitter: validatortest.Vendor, Target: certchain.Sum(d1.DER), Cert: next.DER},
		certchain.Tx{Type: certchain.TxRevoke, Submitter: validatortest.Admin, Target: certchain.Sum(leaf.DER), Reason: certchain.ReasonKeyCompromise},
		certchain.Tx{Type: certchain.TxSuspend, Submitter: validatortest.Vendor2, Target: certchain.Sum(uri.DER)},
		publish(validatortest.Admin, twin.DER),  // dev-1 is held by next now
		publish(validatortest.Vendor, twin.DER), // refused in block 1: refused again, never "already published"
	)
	want = []certchain.VerdictCode{certchain.Accepted, certchain.Accepted, certchain.Accepted, certchain.Rejected, certchain.Rejected}
	if !slices.Equal(codes, want) {
		t.Fatalf("block 2: %v, want %v", codes, want)
	}
	stored := dump(t, f.db)
	expect := map[string][]byte{}
	var records int
	for k, v := range stored {
		switch {
		case strings.HasPrefix(k, "c/"):
			r, err := certchain.DecodeRecord(v)
			if err != nil {
				t.Fatalf("record %x: %v", k, err)
			}
			records++
			for ek, ev := range referenceKeys(t, r) {
				expect[ek] = ev
			}
		case strings.HasPrefix(k, "t/"), strings.HasPrefix(k, "b/"), strings.HasPrefix(k, "m/"):
			expect[k] = v // written by writeBlock, checked below
		}
	}
	if records != 4 {
		t.Fatalf("%d records stored, want 4", records)
	}
	for k, v := range expect {
		if got, ok := stored[k]; !ok || !bytes.Equal(got, v) {
			t.Errorf("key %q: got %x (present %v), want %x", k, got, ok, v)
		}
	}
	for k := range stored {
		if _, ok := expect[k]; !ok {
			t.Errorf("unexpected key %q", k)
		}
	}
	checkTxIndex(t, f)
}

// referenceKeys are the keys record r must have: its own, the indexes
// (as keys.go describes them) and, while current, its identity.
func referenceKeys(t *testing.T, r *certchain.Record) map[string][]byte {
	serial, ok := new(big.Int).SetString(r.Serial, 16)
	if !ok {
		t.Fatalf("serial %q", r.Serial)
	}
	s1, s256 := sha1.Sum(r.IssuerKey), sha256.Sum256(r.IssuerKey)
	keys := map[string][]byte{
		"c/" + string(r.ID[:]):                           r.Encode(),
		"s/" + r.Submitter + "\x00" + string(r.ID[:]):    {},
		"k/" + string(r.KeyHash[:]) + string(r.ID[:]):    {},
		"o1/" + string(s1[:]) + string(serial.Bytes()):   r.ID[:],
		"o2/" + string(s256[:]) + string(serial.Bytes()): r.ID[:],
	}
	if r.SelfSigned && (r.Status == certchain.StatusGood || r.Status == certchain.StatusSuspended) {
		keys["i/"+r.Identity] = r.ID[:]
	}
	return keys
}

// checkTxIndex checks that every transaction is indexed by the height
// and position where it first appears; a copy after it, in the same block
// or a later one, is decided duplicate-tx (refused again when the first
// copy was refused) and leaves the index alone.
func checkTxIndex(t *testing.T, f *stateFixture) {
	first := map[certchain.Hash][2]int{}
	verdicts := map[certchain.Hash]certchain.Verdict{}
	for h := uint64(1); h <= f.state.Head().Height; h++ {
		blk, err := f.state.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range certchain.TxIDs(blk.Txs) {
			if _, again := first[id]; again {
				want := duplicateTx
				if verdicts[id].Code == certchain.Rejected {
					want = verdicts[id] // refused again, for the same reason
				}
				if blk.Verdicts[i] != want {
					t.Errorf("tx %d/%d repeats an earlier one but was decided %+v", h, i, blk.Verdicts[i])
				}
				continue
			}
			first[id] = [2]int{int(h), i}
			verdicts[id] = blk.Verdicts[i]
		}
	}
	for id, at := range first {
		if gh, gi, err := f.state.TxLocation(id); err != nil || int(gh) != at[0] || gi != at[1] {
			t.Errorf("tx %d/%d indexed at %d/%d (%v)", at[0], at[1], gh, gi, err)
		}
	}
}

// dump returns every key and value of db.
func dump(t *testing.T, db *badger.DB) map[string][]byte {
	out := map[string][]byte{}
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().KeyCopy(nil))] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStateReadsJSONRecords: ledgers written before the record encoding
// hold JSON; they are read, and a changed record is stored encoded.
func TestStateReadsJSONRecords(t *testing.T) {
	f := newStateFixture(t)
	d := f.net.SelfSigned(t)
	f.apply(publish(validatortest.Vendor, d.DER))
	id := certchain.Sum(d.DER)
	rec, err := f.state.Record(id)
	if err != nil {
		t.Fatal(err)
	}
	node := &certchain.NodeRecord{ID: "n2", Address: "10.0.0.2:8300", API: "https://10.0.0.2:8443", Height: 1, By: "admin"}
	err = f.db.Update(func(txn *badger.Txn) error {
		rj, _ := json.Marshal(rec)
		nj, _ := json.Marshal(node)
		return errors.Join(txn.Set(recordKey(id), rj), txn.Set(nodeKey(node.ID), nj))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.state.Record(id); err != nil || !reflect.DeepEqual(got, rec) {
		t.Fatalf("JSON record: %+v %v", got, err)
	}
	if got, err := f.state.Nodes(); err != nil || len(got) != 1 || *got[0] != *node {
		t.Fatalf("JSON node: %+v %v", got, err)
	}
	codes := f.apply(certchain.Tx{Type: certchain.TxSuspend, Submitter: validatortest.Vendor, Target: id})
	if codes[0] != certchain.Accepted {
		t.Fatalf("suspend: %v", codes)
	}
	got, err := f.state.Record(id)
	if err != nil || got.Status != certchain.StatusSuspended {
		t.Fatalf("suspended record: %+v %v", got, err)
	}
	if v := dump(t, f.db)[string(recordKey(id))]; !bytes.Equal(v, got.Encode()) {
		t.Fatalf("changed record not stored encoded: %q", v)
	}
}

func TestRecordNotFoundError(t *testing.T) {
	f := newStateFixture(t)
	id := certchain.Sum([]byte("nothing"))
	_, err := f.state.Record(id)
	if !errors.Is(err, certchain.ErrNotFound) || err.Error() != "certificate "+id.String()+": not found" {
		t.Fatalf("got %v", err)
	}
}

func TestIndexKeysMatchKeyLayout(t *testing.T) {
	for _, serial := range []string{"1", "0", "00", "00ff", "abc", "ABCDEF0123", "-5f", "+7", strings.Repeat("f1", 80)} {
		r := &certchain.Record{ID: certchain.Sum([]byte(serial)), KeyHash: certchain.Sum([]byte("k")), Serial: serial,
			IssuerKey: []byte{4, 5, 6}, Submitter: "vendor", Status: certchain.StatusGood}
		keys, err := indexKeys(r)
		if err != nil {
			t.Fatalf("%s: %v", serial, err)
		}
		ref := referenceKeys(t, r)
		for i, k := range keys {
			if _, ok := ref[string(k)]; !ok || cap(k) != len(k) {
				t.Errorf("serial %s: key %d %q not in the layout (or has spare capacity)", serial, i, k)
			}
		}
	}
	for _, bad := range []string{"", "-", "+", "0x1f", "1_0", "--1", "g", " 1"} {
		if _, err := indexKeys(&certchain.Record{Serial: bad}); err == nil {
			t.Errorf("serial %q accepted", bad)
		}
	}
}

// FuzzSerialDigits: serialDigits and appendSerial read a serial exactly as
// big.Int's SetString(s, 16) and Bytes did.
func FuzzSerialDigits(f *testing.F) {
	for _, s := range []string{"1", "00ff", "-abc", "+0", "1_0", "0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantOK := new(big.Int).SetString(s, 16)
		digits, ok := serialDigits(s)
		if ok != wantOK {
			t.Fatalf("%q: ok %v, big.Int %v", s, ok, wantOK)
		}
		if ok && !bytes.Equal(appendSerial(nil, digits), want.Bytes()) {
			t.Fatalf("%q: %x, big.Int %x", s, appendSerial(nil, digits), want.Bytes())
		}
	})
}

func TestWriteBlockIndexesEveryTx(t *testing.T) {
	f := newStateFixture(t)
	var txs []certchain.Tx
	for range 3 {
		txs = append(txs, publish(validatortest.Vendor, f.net.SelfSigned(t).DER))
	}
	f.apply(txs...)
	stored := dump(t, f.db)
	for i, id := range certchain.TxIDs(txs) {
		want := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, 1), uint32(i))
		if got := stored["t/"+string(id[:])]; !bytes.Equal(got, want) {
			t.Errorf("tx %d: %x, want %x", i, got, want)
		}
	}
}
