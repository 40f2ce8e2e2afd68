package validator_test

import (
	"bytes"
	"encoding/json"
	"sort"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// fakeView is an in-memory View. It hands out its own pointers, so a
// Decide that modified them in place would be caught by snapshot.
type fakeView struct {
	records map[certchain.Hash]*certchain.Record
	nodes   map[string]*certchain.NodeRecord
	keys    map[certchain.Hash]*certchain.BlockedKey
	// memberHeights are the heights of member changes applied.
	memberHeights map[string]uint64
	// delegates are the OCSP delegates registered, by key and issuer hash.
	delegates map[[2]certchain.Hash]*certchain.OCSPDelegate
	err       error // returned by every call when set
}

func (v *fakeView) OCSPDelegate(keyHash, issuerHash certchain.Hash) (*certchain.OCSPDelegate, error) {
	if v.err != nil {
		return nil, v.err
	}
	d, ok := v.delegates[[2]certchain.Hash{keyHash, issuerHash}]
	if !ok {
		return nil, certchain.ErrNotFound
	}
	return d, nil
}

func (v *fakeView) BlockedKey(h certchain.Hash) (*certchain.BlockedKey, error) {
	if v.err != nil {
		return nil, v.err
	}
	k, ok := v.keys[h]
	if !ok {
		return nil, certchain.ErrNotFound
	}
	return k, nil
}

func (v *fakeView) MemberHeight(name string) (uint64, error) { return v.memberHeights[name], v.err }

func (v *fakeView) CertsByKey(h certchain.Hash, limit int) ([]certchain.Hash, error) {
	if v.err != nil {
		return nil, v.err
	}
	var ids []certchain.Hash
	for id, r := range v.records {
		if r.KeyHash == h {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids[:min(len(ids), limit+1)], nil
}

func (v *fakeView) Node(id string) (*certchain.NodeRecord, error) {
	if v.err != nil {
		return nil, v.err
	}
	n, ok := v.nodes[id]
	if !ok {
		return nil, certchain.ErrNotFound
	}
	return n, nil
}

func newFakeView() *fakeView { return &fakeView{records: map[certchain.Hash]*certchain.Record{}} }

func (v *fakeView) Record(id certchain.Hash) (*certchain.Record, error) {
	if v.err != nil {
		return nil, v.err
	}
	r, ok := v.records[id]
	if !ok {
		return nil, certchain.ErrNotFound
	}
	return r, nil
}

func (v *fakeView) CurrentByIdentity(identity string) (certchain.Hash, bool, error) {
	if v.err != nil {
		return certchain.Hash{}, false, v.err
	}
	for id, r := range v.records {
		current := r.Status == certchain.StatusGood || r.Status == certchain.StatusSuspended
		if r.SelfSigned && current && r.Identity == identity {
			return id, true, nil
		}
	}
	return certchain.Hash{}, false, nil
}

// apply stores copies of the effect's records.
func (v *fakeView) apply(eff validator.Effect) {
	for _, r := range eff.Records {
		cp := *r
		v.records[r.ID] = &cp
	}
	for _, m := range eff.Members {
		if v.memberHeights == nil {
			v.memberHeights = map[string]uint64{}
		}
		v.memberHeights[m.Name] = m.Height
	}
	for _, k := range eff.Keys {
		if v.keys == nil {
			v.keys = map[certchain.Hash]*certchain.BlockedKey{}
		}
		v.keys[k.KeyHash] = k
	}
	for _, d := range eff.Delegates {
		if v.delegates == nil {
			v.delegates = map[[2]certchain.Hash]*certchain.OCSPDelegate{}
		}
		v.delegates[[2]certchain.Hash{d.KeyHash, d.IssuerHash}] = d
	}
	for _, n := range eff.Nodes {
		if v.nodes == nil {
			v.nodes = map[string]*certchain.NodeRecord{}
		}
		cp := *n
		v.nodes[n.ID] = &cp
	}
}

// snapshot returns a canonical encoding of the whole state.
func (v *fakeView) snapshot(t *testing.T) []byte {
	t.Helper()
	ids := make([]certchain.Hash, 0, len(v.records))
	for id := range v.records {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	var out []byte
	for _, id := range ids {
		b, err := json.Marshal(v.records[id])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func recordsEqual(a, b *certchain.Record) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// ledger is a network, its options and a fake state to decide against.
type ledger struct {
	t      *testing.T
	n      *vt.Network
	opts   *validator.Options
	view   *fakeView
	height uint64
}

func newLedger(t *testing.T, n *vt.Network, opts *validator.Options) *ledger {
	return &ledger{t: t, n: n, opts: opts, view: newFakeView(), height: 1}
}

// decide decides tx in a new block and applies its effect.
func (l *ledger) decide(tx *certchain.Tx) (validator.Effect, certchain.Verdict) {
	l.t.Helper()
	l.height++
	eff, v, err := validator.DecideErr(tx, tx.ID(), nil, l.opts, l.n.Genesis, l.view, l.height)
	if err != nil {
		l.t.Fatalf("DecideErr: %v", err)
	}
	l.view.apply(eff)
	return eff, v
}

// must decides tx and fails unless it is accepted.
func (l *ledger) must(tx *certchain.Tx) validator.Effect {
	l.t.Helper()
	eff, v := l.decide(tx)
	if v.Code != certchain.Accepted {
		l.t.Fatalf("setup %s by %s: %s %s", tx.Type, tx.Submitter, v.Code, v.Reason)
	}
	return eff
}

// publish publishes der as submitter and returns the certificate's ID.
func (l *ledger) publish(submitter string, der []byte) certchain.Hash {
	l.t.Helper()
	l.must(publishTx(submitter, der))
	return certchain.Sum(der)
}

func (l *ledger) record(id certchain.Hash) *certchain.Record {
	l.t.Helper()
	r, ok := l.view.records[id]
	if !ok {
		l.t.Fatalf("record %s not in the view", id)
	}
	return r
}

func publishTx(submitter string, der []byte) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxPublish, Submitter: submitter, Cert: der}
}

func renewTx(submitter string, old certchain.Hash, der []byte) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxRenew, Submitter: submitter, Target: old, Cert: der}
}

func statusTx(typ certchain.TxType, submitter string, target certchain.Hash, reason certchain.Reason) *certchain.Tx {
	return &certchain.Tx{Type: typ, Submitter: submitter, Target: target, Reason: reason}
}

// wantVerdict fails t unless v has code and (for a rejection or
// unchanged) a reason starting with "rule: ".
func wantVerdict(t *testing.T, v certchain.Verdict, code certchain.VerdictCode, rule string) {
	t.Helper()
	if v.Code != code || (rule == "") != (v.Reason == "") || (rule != "" && !bytes.HasPrefix([]byte(v.Reason), []byte(rule+": "))) {
		t.Fatalf("verdict %s %q, want %s %q", v.Code, v.Reason, code, rule)
	}
}
