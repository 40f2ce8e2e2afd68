package raftstore

import (
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// TestBlockedKeySet: a key blocked by a revoke-key is refused in the same
// block, in later blocks and prechecks, and after the state is reopened
// (a restart) — although deciding skips the Badger lookup of keys outside
// the in-memory set.
func TestBlockedKeySet(t *testing.T) {
	tn := newTestNet(t)
	s, closeDB := openTestState(t, filepath.Join(t.TempDir(), "ledger"), tn.Genesis)
	defer closeDB()
	k := vt.NewKey(t, vt.KeyP256)
	withK := func(cn string) certchain.Tx {
		return publishTx(tn.device(t, vt.WithCN(cn), vt.WithPublicKey(k.Public()), vt.WithSigner(k)))
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	revoke := certchain.Tx{Type: certchain.TxRevokeKey, Submitter: vt.Admin, Target: certchain.Sum(spki), Reason: certchain.ReasonKeyCompromise}
	other := publishTx(tn.device(t, vt.WithCN("other")))

	index := uint64(0)
	apply := func(s *State, txs ...certchain.Tx) []certchain.Verdict {
		t.Helper()
		index++
		a, err := s.Apply(index, &certchain.Proposal{Time: tn.Now.UnixNano(), Proposer: "n1", Txs: txs}, certchain.TxIDs(txs))
		if err != nil {
			t.Fatal(err)
		}
		return a.Verdicts
	}
	want := func(step string, v certchain.Verdict, code certchain.VerdictCode, rule string) {
		t.Helper()
		if v.Code != code || !strings.HasPrefix(v.Reason, rule) {
			t.Fatalf("%s: %+v, want %s %s", step, v, code, rule)
		}
	}

	if s.blocked.has(revoke.Target) {
		t.Fatal("a fresh ledger has a blocked key")
	}
	v := apply(s, withK("before"), revoke, withK("same-block"), other)
	want("publish before the revoke-key", v[0], certchain.Accepted, "")
	want("revoke-key", v[1], certchain.Accepted, "")
	want("publish after it in the same block", v[2], certchain.Rejected, validator.RuleKeyBlocked)
	want("another key", v[3], certchain.Accepted, "")

	v = apply(s, withK("next-block"))
	want("publish in a later block", v[0], certchain.Rejected, validator.RuleKeyBlocked)
	pre, _, err := s.Precheck([]certchain.Tx{withK("precheck")}, certchain.TxIDs([]certchain.Tx{withK("precheck")}), tn.Now)
	if err != nil {
		t.Fatal(err)
	}
	want("precheck", pre[0], certchain.Rejected, validator.RuleKeyBlocked)

	// Reopened: the set is loaded from the ledger.
	s2, err := OpenState(s.db, tn.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.blocked.has(revoke.Target) {
		t.Fatal("reopened state lost the blocked key")
	}
	v = apply(s2, withK("after-restart"))
	want("publish after a restart", v[0], certchain.Rejected, validator.RuleKeyBlocked)
}
