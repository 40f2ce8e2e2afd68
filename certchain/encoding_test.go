package certchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleTxs() []Tx {
	return []Tx{
		{Type: TxPublish, Submitter: "vendor", Cert: []byte{0x30, 0x03, 0x02, 0x01, 0x01}, Time: 1_700_000_000_000_000_000},
		{Type: TxPublish, Submitter: "ca", Cert: []byte{0x30, 0x01, 0x00}, Chain: [][]byte{{0x30, 0x00}, {0x30, 0x01, 0x05}}, Time: 2},
		{Type: TxRevoke, Submitter: "admin", Target: Sum([]byte("c1")), Reason: ReasonKeyCompromise, Time: 3},
		{Type: TxSuspend, Submitter: "operator", Target: Sum([]byte("c2")), Time: 4},
		{Type: TxRenew, Submitter: "vendor", Target: Sum([]byte("c3")), Cert: []byte{0x30, 0x00}, Time: 5},
	}
}

func sampleBlock() Block {
	g := Header{Time: 1_600_000_000_000_000_000, Proposer: "genesis", TxRoot: Sum([]byte("genesis"))}
	p := Proposal{Time: 1_700_000_000_000_000_000, Proposer: "node1", Txs: sampleTxs()}
	vs := []Verdict{{Code: Accepted}, {Code: Rejected, Reason: "chain: x509: unknown authority"}, {Code: Accepted}, {Code: Unchanged, Reason: "already"}, {Code: Accepted}}
	return NewBlock(&g, &p, nil, vs)
}

func TestTxRoundTrip(t *testing.T) {
	nodeTxs := []Tx{
		{Type: TxNodeAdd, Submitter: "admin", Node: "node2", Address: "10.0.0.2:8300", API: "https://10.0.0.2:8443", Replica: true, Time: 9},
		{Type: TxNodeRemove, Submitter: "admin", Node: "node2", Time: 10},
	}
	for _, tx := range append(sampleTxs(), nodeTxs...) {
		t.Run(tx.Type.String(), func(t *testing.T) {
			enc := tx.Encode()
			got, err := DecodeTx(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatalf("re-encoding differs")
			}
			if got.ID() != tx.ID() {
				t.Fatalf("ID differs")
			}
		})
	}
}

func TestBlockRoundTripAndGolden(t *testing.T) {
	blk := sampleBlock()
	enc := blk.Encode()
	got, err := DecodeBlock(enc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !bytes.Equal(got.Encode(), enc) {
		t.Fatal("re-encoding differs")
	}
	if err := got.CheckContent(); err != nil {
		t.Fatalf("CheckContent: %v", err)
	}
	golden(t, "block.hex", hex.EncodeToString(enc)+"\n")
	golden(t, "block.hash", blk.Header.Hash().String()+"\n")
}

// golden compares got with testdata/name; -update rewrites it. Block
// hashes must stay byte-stable: a change here is a wire-format change.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run with -update once): %v", err)
	}
	if string(want) != got {
		t.Fatalf("%s changed:\n got %s\nwant %s", name, got, want)
	}
}

func TestProposalRoundTrip(t *testing.T) {
	p := Proposal{Time: 42, Proposer: "node1", Txs: sampleTxs()}
	got, ids, err := DecodeProposal(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, TxIDs(p.Txs)) || got.Time != 42 || got.Proposer != "node1" || len(got.Txs) != len(p.Txs) {
		t.Fatalf("round trip differs: %+v", got)
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	valid := sampleTxs()[2].Encode()
	cases := map[string][]byte{
		"fail/empty":          {},
		"fail/unknown-field":  append(append([]byte{}, valid...), 0x63, 0x01, 0x00),
		"fail/replica-not-1":  {0x01, 0x01, 0x06, 0x0b, 0x01, 0x02},
		"fail/out-of-order":   append([]byte{0x02, 0x01, 'x'}, []byte{0x01, 0x01, 0x03}...),
		"fail/repeated-field": {0x01, 0x01, 0x03, 0x01, 0x01, 0x03},
		"fail/zero-type":      {0x01, 0x01, 0x00},
		"fail/unknown-type":   {0x01, 0x01, 0x63},
		"fail/overlong-tag":   {0x81, 0x00, 0x01, 0x03},
		"fail/truncated":      valid[:len(valid)-1],
		"fail/huge-length":    {0x01, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"fail/empty-cert":     {0x01, 0x01, 0x01, 0x03, 0x00},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeTx(b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

// merkleRef is RFC 6962 §2.1 written as the RFC states it.
func merkleRef(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0][:]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := merkleRef(leaves[:k]), merkleRef(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestMerkleRootMatchesRFC6962(t *testing.T) {
	var leaves []Hash
	for n := 0; n <= 33; n++ {
		if got, want := MerkleRoot(leaves), merkleRef(leaves); got != want {
			t.Fatalf("n=%d: got %s want %s", n, got, want)
		}
		leaves = append(leaves, Sum([]byte{byte(n)}))
	}
}

func TestCheckContentDetectsEdits(t *testing.T) {
	edits := map[string]func(b *Block){
		"fail/tx-submitter": func(b *Block) { b.Txs[0].Submitter = "mallory" },
		"fail/verdict-code": func(b *Block) { b.Verdicts[1].Code = Accepted },
		"fail/verdict-text": func(b *Block) { b.Verdicts[3].Reason = "" },
		"fail/dropped-tx":   func(b *Block) { b.Txs, b.Verdicts = b.Txs[1:], b.Verdicts[1:] },
		"fail/reordered": func(b *Block) {
			b.Txs[0], b.Txs[2] = b.Txs[2], b.Txs[0]
			b.Verdicts[0], b.Verdicts[2] = b.Verdicts[2], b.Verdicts[0]
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			b := sampleBlock()
			b.Txs = append([]Tx(nil), b.Txs...)
			b.Verdicts = append([]Verdict(nil), b.Verdicts...)
			edit(&b)
			if err := b.CheckContent(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("edit not detected: %v", err)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	g := Header{Time: 10, Proposer: "genesis", TxRoot: Sum([]byte("g"))}
	chain := []*Block{{Header: g}}
	for i := 0; i < 4; i++ {
		p := Proposal{Time: int64(20 + i), Proposer: "n", Txs: sampleTxs()[:1]}
		b := NewBlock(&chain[len(chain)-1].Header, &p, nil, []Verdict{{Code: Accepted}})
		chain = append(chain, &b)
	}
	get := func(h uint64) (*Block, error) {
		if h >= uint64(len(chain)) {
			return nil, ErrNotFound
		}
		return chain[h], nil
	}
	head := chain[len(chain)-1].Header
	if n, err := VerifyChain(get, &head); err != nil || n != 5 {
		t.Fatalf("ok chain: n=%d err=%v", n, err)
	}
	chain[2].Header.Proposer = "mallory" // breaks block 3's link
	_, err := VerifyChain(get, &head)
	var p *ChainProblem
	if !errors.As(err, &p) || p.Height != 3 {
		t.Fatalf("want problem at block 3, got %v", err)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	blk := sampleBlock()
	f.Add(blk.Encode())
	f.Add(sampleTxs()[0].Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeBlock(b)
		if err != nil {
			return
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

func FuzzDecodeProposal(f *testing.F) {
	p := Proposal{Time: 1, Proposer: "n", Txs: sampleTxs()}
	f.Add(p.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ids, err := DecodeProposal(b)
		if err != nil {
			return
		}
		if !bytes.Equal(got.Encode(), b) || !reflect.DeepEqual(ids, TxIDs(got.Txs)) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}
