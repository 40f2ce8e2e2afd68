package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// signed signs tx as its submitter with the member's identity key.
func signed(t *testing.T, n *vt.Network, tx *certchain.Tx) *certchain.Tx {
	t.Helper()
	if err := validator.SignTx(tx, n.Genesis.NetworkID, n.MemberKeys[tx.Submitter]); err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestMemberSignatures(t *testing.T) {
	n, _ := newNet(t)
	g := *n.Genesis
	g.Policy.RequireSignatures = true
	n.Genesis = &g
	opts, err := validator.NewOptions(n.Genesis, n.Now)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger(t, n, opts)

	dev := n.SelfSigned(t).DER
	_, v := l.decide(publishTx(vt.Vendor, dev))
	wantVerdict(t, v, certchain.Rejected, validator.RuleSignature) // unsigned where signatures are required

	byOther := publishTx(vt.Vendor, dev)
	if err := validator.SignTx(byOther, n.Genesis.NetworkID, n.MemberKeys[vt.Vendor2]); err != nil {
		t.Fatal(err)
	}
	_, v = l.decide(byOther)
	wantVerdict(t, v, certchain.Rejected, validator.RuleSignature) // another member's key

	tampered := signed(t, n, publishTx(vt.Vendor, dev))
	tampered.Cert = n.SelfSigned(t).DER // altered after signing
	_, v = l.decide(tampered)
	wantVerdict(t, v, certchain.Rejected, validator.RuleSignature)

	otherNet := publishTx(vt.Vendor, dev)
	if err := validator.SignTx(otherNet, "another-consortium", n.MemberKeys[vt.Vendor]); err != nil {
		t.Fatal(err)
	}
	_, v = l.decide(otherNet)
	wantVerdict(t, v, certchain.Rejected, validator.RuleSignature)

	ok := signed(t, n, publishTx(vt.Vendor, dev))
	ok.Time = 12345 // the entry node's time is not signed
	l.must(ok)
	id := certchain.Sum(dev)

	// Status changes are good once: Seen names the status height read.
	suspend := &certchain.Tx{Type: certchain.TxSuspend, Submitter: vt.Vendor, Target: id, Seen: l.view.records[id].StatusHeight}
	l.must(signed(t, n, suspend))
	l.must(signed(t, n, &certchain.Tx{Type: certchain.TxResume, Submitter: vt.Vendor, Target: id, Seen: l.view.records[id].StatusHeight}))
	replay := *suspend
	replay.Time = 99
	_, v = l.decide(&replay)
	wantVerdict(t, v, certchain.Rejected, validator.RuleReplay)

	// Member changes too: an old signed member-set cannot undo a later one.
	v2, _ := n.Genesis.Member(vt.Vendor2)
	changed := *v2
	changed.Namespace = &certchain.Namespace{Organizations: []string{"Vendor B"}}
	first := signed(t, n, memberTx(certchain.TxMemberSet, vt.Admin, changed))
	l.must(first)
	_, v = l.decide(signed(t, n, memberTx(certchain.TxMemberSet, vt.Admin, *v2))) // signed before the change (Seen 0)
	wantVerdict(t, v, certchain.Rejected, validator.RuleReplay)
	rm := memberTx(certchain.TxMemberRemove, vt.Admin, certchain.Member{Name: vt.Vendor2})
	rm.Seen = l.view.memberHeights[vt.Vendor2]
	l.must(signed(t, n, rm))
}
