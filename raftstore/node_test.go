package raftstore

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// testNet is a network dated on the real clock (the node stamps blocks
// with time.Now).
type testNet struct {
	*validatortest.Network
}

func newTestNet(t testing.TB) *testNet {
	return &testNet{validatortest.NewNetworkAt(t, time.Now().UTC())}
}

func (n *testNet) device(t testing.TB, opts ...validatortest.Option) *validatortest.Device {
	return n.SelfSigned(t, opts...)
}

// soloTimeouts make a single-voter node elect itself at once; it has
// nobody to lose its leadership to, so a starved scheduler cannot unseat
// it.
var soloTimeouts = RaftTimeouts{Heartbeat: 50 * time.Millisecond, Election: 50 * time.Millisecond, LeaderLease: 50 * time.Millisecond}

func openNode(t testing.TB, dir string, g *certchain.Genesis) *Node {
	t.Helper()
	n, err := Open(Config{ID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Genesis: g, Bootstrap: true, SmallMemory: true, Timeouts: soloTimeouts})
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !n.IsLeader() {
		select {
		case <-ctx.Done():
			t.Fatal("node did not become leader")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return n
}

func submit(t *testing.T, n *Node, txs ...certchain.Tx) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := n.Submit(ctx, txs)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("tx %d: %v", i, r.Err)
		}
	}
	return res
}

func publishTx(d *validatortest.Device) certchain.Tx {
	return certchain.Tx{Type: certchain.TxPublish, Submitter: validatortest.Vendor, Cert: d.DER}
}

func TestNodePublishRevokeAndStatus(t *testing.T) {
	tn := newTestNet(t)
	n := openNode(t, t.TempDir(), tn.Genesis)
	defer n.Close()
	d1, d2 := tn.device(t, validatortest.WithCN("dev-1")), tn.device(t, validatortest.WithCN("dev-2"))
	res := submit(t, n, publishTx(d1), publishTx(d2))
	for _, r := range res {
		if r.Verdict.Code != certchain.Accepted || r.Height == 0 {
			t.Fatalf("publish: %+v", r)
		}
	}
	id1 := certchain.Sum(d1.DER)
	rec, err := n.State().Record(id1)
	if err != nil || rec.Status != certchain.StatusGood || rec.Submitter != validatortest.Vendor {
		t.Fatalf("record: %+v %v", rec, err)
	}
	res = submit(t, n, certchain.Tx{Type: certchain.TxRevoke, Submitter: validatortest.Admin, Target: id1, Reason: certchain.ReasonKeyCompromise})
	if res[0].Verdict.Code != certchain.Accepted {
		t.Fatalf("revoke: %+v", res[0])
	}
	rec, _ = n.State().Record(id1)
	if rec.Status != certchain.StatusRevoked || rec.Reason != certchain.ReasonKeyCompromise || rec.StatusHeight != res[0].Height {
		t.Fatalf("after revoke: %+v", rec)
	}
	blk, err := n.State().Block(res[0].Height)
	if err != nil || len(blk.Txs) != 1 || blk.Txs[0].Submitter != validatortest.Admin {
		t.Fatalf("block names its submitter: %+v %v", blk, err)
	}
}

func TestRejectedRequestLeavesLedgerUnchanged(t *testing.T) {
	tn := newTestNet(t)
	n := openNode(t, t.TempDir(), tn.Genesis)
	defer n.Close()
	before := n.State().Head()
	cases := map[string]certchain.Tx{
		"fail/other-network":    publishTx(tn.device(t, validatortest.WithNetworkID("another-consortium"))),
		"fail/not-member":       {Type: certchain.TxPublish, Submitter: "mallory", Cert: tn.device(t).DER},
		"fail/operator-publish": {Type: certchain.TxPublish, Submitter: validatortest.Operator, Cert: tn.device(t).DER},
		"fail/revoke-unknown":   {Type: certchain.TxRevoke, Submitter: validatortest.Admin, Target: certchain.Sum([]byte("nothing"))},
		"fail/garbage-der":      {Type: certchain.TxPublish, Submitter: validatortest.Vendor, Cert: []byte{0x30, 0x03, 0x01}},
	}
	for name, tx := range cases {
		t.Run(name, func(t *testing.T) {
			res := submit(t, n, tx)
			if res[0].Verdict.Code != certchain.Rejected || res[0].Height != 0 {
				t.Fatalf("want rejected before the ledger, got %+v", res[0])
			}
			if n.State().Head() != before {
				t.Fatal("ledger head changed")
			}
		})
	}
}

func TestPublishIsIdempotent(t *testing.T) {
	tn := newTestNet(t)
	n := openNode(t, t.TempDir(), tn.Genesis)
	defer n.Close()
	d := tn.device(t)
	first := submit(t, n, publishTx(d))
	head := n.State().Head()
	again := submit(t, n, publishTx(d))
	if first[0].Verdict.Code != certchain.Accepted || again[0].Verdict.Code != certchain.Unchanged {
		t.Fatalf("verdicts: %+v then %+v", first[0].Verdict, again[0].Verdict)
	}
	if n.State().Head() != head {
		t.Fatal("re-publishing wrote a block")
	}
	// The same certificate twice in one request: one record, one write.
	d2 := tn.device(t)
	both := submit(t, n, publishTx(d2), publishTx(d2))
	if both[0].Verdict.Code != certchain.Accepted || both[1].Verdict.Code != certchain.Unchanged {
		t.Fatalf("same request: %+v", both)
	}
}

func TestRestartKeepsStateAndNeverReapplies(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	n := openNode(t, dir, tn.Genesis)
	var ids []certchain.Hash
	for i := 0; i < 5; i++ {
		d := tn.device(t)
		submit(t, n, publishTx(d))
		ids = append(ids, certchain.Sum(d.DER))
	}
	submit(t, n, certchain.Tx{Type: certchain.TxSuspend, Submitter: validatortest.Vendor, Target: ids[0]})
	head, applied := n.State().Head(), n.State().AppliedIndex()
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	n = openNode(t, dir, tn.Genesis)
	defer n.Close()
	if got := n.State().Head(); got != head {
		t.Fatalf("head after restart %d %s, want %d %s", got.Height, got.Hash(), head.Height, head.Hash())
	}
	if got := n.State().AppliedIndex(); got < applied {
		t.Fatalf("applied index went back: %d < %d", got, applied)
	}
	rec, err := n.State().Record(ids[0])
	if err != nil || rec.Status != certchain.StatusSuspended {
		t.Fatalf("status after restart: %+v %v", rec, err)
	}
	res := submit(t, n, certchain.Tx{Type: certchain.TxResume, Submitter: validatortest.Vendor, Target: ids[0]})
	if res[0].Height != head.Height+1 {
		t.Fatalf("next block %d, want %d", res[0].Height, head.Height+1)
	}
}

func TestSnapshotRestoresSameHead(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	n := openNode(t, dir, tn.Genesis)
	defer n.Close()
	var txs []certchain.Tx
	for i := 0; i < 3; i++ {
		txs = append(txs, publishTx(tn.device(t)))
		submit(t, n, txs[i])
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	head := n.State().Head()
	rc := latestSnapshot(t, dir)
	db, err := OpenBadger(filepath.Join(t.TempDir(), "ledger"), BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fresh, err := OpenState(db, tn.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&fsm{state: fresh}).Restore(rc); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := fresh.Head(); got.Hash() != head.Hash() {
		t.Fatalf("restored head %d, want %d", got.Height, head.Height)
	}
	if rep, err := Audit(db); err != nil || rep.Problem != nil {
		t.Fatalf("restored chain does not audit: %v %v", err, rep.Problem)
	}
	// The restored state knows its records (its key filter was rebuilt).
	a, err := fresh.Apply(fresh.AppliedIndex()+1, &certchain.Proposal{Time: time.Now().UnixNano(), Proposer: "n1", Txs: txs[:1]}, certchain.TxIDs(txs[:1]))
	if err != nil || a.Verdicts[0].Code != certchain.Unchanged {
		t.Fatalf("a restored certificate published again: %v %+v", err, a)
	}
}

func TestAuditNamesTamperedBlock(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	n := openNode(t, dir, tn.Genesis)
	for i := 0; i < 4; i++ {
		submit(t, n, publishTx(tn.device(t)))
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		height uint64
		offset func(int) int
	}{
		{"fail/last-byte-of-block-2", 2, func(n int) int { return n - 1 }},
		{"fail/middle-of-block-3", 3, func(n int) int { return n / 2 }},
		{"fail/header-of-block-1", 1, func(int) int { return 4 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenBadger(filepath.Join(dir, "ledger"), BadgerOptions{Small: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			restore := flipByte(t, db, blockKey(tc.height), tc.offset)
			defer restore()
			rep, err := Audit(db)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem == nil || rep.Problem.Height != tc.height {
				t.Fatalf("audit problem %v, want block %d", rep.Problem, tc.height)
			}
		})
	}
	db, err := OpenBadger(filepath.Join(dir, "ledger"), BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep, err := Audit(db); err != nil || rep.Problem != nil || rep.Blocks != 5 {
		t.Fatalf("untouched chain: %+v %v", rep, err)
	}
}

func TestOpenRefusesAnotherNetwork(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, newTestNet(t).Genesis)
	n.Close()
	other := newTestNet(t).Genesis
	_, err := Open(Config{ID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Genesis: other, SmallMemory: true})
	if !errors.Is(err, certchain.ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
}

func TestLookupOCSPBothHashes(t *testing.T) {
	tn := newTestNet(t)
	n := openNode(t, t.TempDir(), tn.Genesis)
	defer n.Close()
	d := tn.device(t)
	leaf := tn.Leaf(t, tn.CA)
	for _, r := range submit(t, n, publishTx(d), certchain.Tx{Type: certchain.TxPublish, Submitter: validatortest.CA, Cert: leaf.DER}) {
		if r.Verdict.Code != certchain.Accepted {
			t.Fatalf("publish: %+v", r.Verdict)
		}
	}
	for _, c := range []struct {
		name   string
		der    []byte
		issuer *x509.Certificate
	}{{"self-signed", d.DER, d.Cert}, {"ca-signed", leaf.DER, tn.CA.Cert}} {
		bits := validator.IssuerKeyBits(c.issuer)
		s1, s256 := sha1.Sum(bits), sha256.Sum256(bits)
		serial := mustParse(t, c.der).SerialNumber
		for _, h := range [][]byte{s1[:], s256[:]} {
			rec, err := n.State().LookupOCSP(h, serial)
			if err != nil || rec.ID != certchain.Sum(c.der) {
				t.Fatalf("%s: hash len %d: %v %v", c.name, len(h), rec, err)
			}
		}
		if _, err := n.State().LookupOCSP(s256[:], new(big.Int).Add(serial, big.NewInt(1))); !errors.Is(err, certchain.ErrNotFound) {
			t.Fatalf("%s: other serial: %v", c.name, err)
		}
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
