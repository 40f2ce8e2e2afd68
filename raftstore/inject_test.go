package raftstore

import (
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// TestTamperedTransactionInjectedIntoRaft: a transaction whose signature
// was altered after it was made, proposed straight into Raft as a faulty
// or hostile leader could (no edge check on the way), is rejected when
// applied, by every node alike, and changes nothing. The same transaction
// with its signature intact, injected the same way, is accepted: the
// ledger's own rules decide, not the edge.
func TestTamperedTransactionInjectedIntoRaft(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitLeader()
	d := c.net.device(t)
	c.mustSubmit(leader, publishTx(d))
	id := certchain.Sum(d.DER)
	rec, err := c.node(leader).State().Record(id)
	if err != nil {
		t.Fatal(err)
	}
	proof := validatortest.OwnerProof(t, d.Key, validator.OwnerRequest{Network: c.net.Genesis.NetworkID,
		Action: "suspend", Certificate: id.String(), StatusHeight: rec.StatusHeight})
	tampered := append([]byte(nil), proof...)
	k := len(tampered) - 5 // a character of the signature
	tampered[k] = map[bool]byte{true: 'B', false: 'A'}[tampered[k] == 'A']

	inject := func(proof []byte) (certchain.Verdict, uint64) {
		t.Helper()
		tx := certchain.Tx{Type: certchain.TxSuspend, Submitter: certchain.OwnerSubmitter, Target: id, Proof: proof, Time: time.Now().UnixNano()}
		p := certchain.Proposal{Time: time.Now().UnixNano(), Proposer: "hostile", Txs: []certchain.Tx{tx}}
		f := c.node(c.waitLeader()).raft.Apply(encodeProposal(&p), 10*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		a := f.Response().(*Applied)
		return a.Verdicts[0], a.Header.Height
	}
	v, h := inject(tampered)
	if v.Code != certchain.Rejected || !strings.HasPrefix(v.Reason, validator.RuleOwnerProof+":") {
		t.Fatalf("tampered transaction: %s %s", v.Code, v.Reason)
	}
	c.waitSameHead()
	for i := range 3 {
		blk, err := c.node(i).State().Block(h)
		if err != nil || blk.Verdicts[0] != v {
			t.Fatalf("node%d decided block %d differently: %+v %v", i, h, blk, err)
		}
		if r, err := c.node(i).State().Record(id); err != nil || r.Status != certchain.StatusGood {
			t.Fatalf("node%d: the certificate is %v after a rejected suspension (%v)", i, r.Status, err)
		}
	}
	if v, _ := inject(proof); v.Code != certchain.Accepted {
		t.Fatalf("the intact transaction: %s %s", v.Code, v.Reason)
	}
}

// TestTamperedMemberSignatureInjectedIntoRaft: a member's signed
// transaction whose content was altered after it was signed, proposed
// straight into Raft, is rejected ("signature") by every node alike; the
// transaction as signed is accepted.
func TestTamperedMemberSignatureInjectedIntoRaft(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.waitLeader()
	d := c.net.device(t)
	c.mustSubmit(leader, publishTx(d))
	id := certchain.Sum(d.DER)
	rec, err := c.node(leader).State().Record(id)
	if err != nil {
		t.Fatal(err)
	}
	tx := certchain.Tx{Type: certchain.TxRevoke, Submitter: validatortest.Vendor, Target: id, Reason: certchain.ReasonSuperseded, Seen: rec.StatusHeight}
	if err := validator.SignTx(&tx, c.net.Genesis.NetworkID, c.net.MemberKeys[validatortest.Vendor]); err != nil {
		t.Fatal(err)
	}
	altered := tx
	altered.Reason = certchain.ReasonKeyCompromise // changed after signing

	inject := func(tx certchain.Tx) (certchain.Verdict, uint64) {
		t.Helper()
		tx.Time = time.Now().UnixNano()
		p := certchain.Proposal{Time: time.Now().UnixNano(), Proposer: "hostile", Txs: []certchain.Tx{tx}}
		f := c.node(c.waitLeader()).raft.Apply(encodeProposal(&p), 10*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		a := f.Response().(*Applied)
		return a.Verdicts[0], a.Header.Height
	}
	v, h := inject(altered)
	if v.Code != certchain.Rejected || !strings.HasPrefix(v.Reason, validator.RuleSignature+":") {
		t.Fatalf("altered transaction: %s %s", v.Code, v.Reason)
	}
	c.waitSameHead()
	for i := range 3 {
		blk, err := c.node(i).State().Block(h)
		if err != nil || blk.Verdicts[0] != v {
			t.Fatalf("node%d decided block %d differently: %v", i, h, err)
		}
		if r, _ := c.node(i).State().Record(id); r.Status != certchain.StatusGood {
			t.Fatalf("node%d: the certificate is %v after a rejected revocation", i, r.Status)
		}
	}
	if v, _ := inject(tx); v.Code != certchain.Accepted {
		t.Fatalf("the transaction as signed: %s %s", v.Code, v.Reason)
	}
}
