package raftstore

import (
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/certchain/certchain/validator/validatortest"
)

// inject proposes tx straight into Raft on the leader, as a faulty or
// hostile leader could (no edge check on the way), and returns its verdict
// and block height. Like submit, it proposes again after a leadership
// change, and a copy already on the ledger is read from there.
func (c *cluster) inject(t *testing.T, tx certchain.Tx) (certchain.Verdict, uint64) {
	t.Helper()
	tx.Time = time.Now().UnixNano()
	id := tx.ID()
	deadline := time.Now().Add(submitPatience)
	for {
		p := certchain.Proposal{Time: time.Now().UnixNano(), Proposer: "hostile", Txs: []certchain.Tx{tx}}
		f := c.node(c.waitLeader()).raft.Apply(encodeProposal(&p), 10*time.Second)
		err := f.Error()
		if err == nil {
			a := f.Response().(*Applied)
			if a.Verdicts[0] == duplicateTx {
				r := c.fromLedger(id)
				return r.Verdict, r.Height
			}
			return a.Verdicts[0], a.Header.Height
		}
		if time.Now().After(deadline) {
			t.Fatalf("inject: %v", err)
		}
		t.Logf("inject: %v; proposing again", err)
	}
}

// rejectedEverywhere checks that every node recorded verdict v (a
// rejection by rule) in block h and that certificate id is still good.
func (c *cluster) rejectedEverywhere(t *testing.T, v certchain.Verdict, rule string, h uint64, id certchain.Hash) {
	t.Helper()
	if v.Code != certchain.Rejected || !strings.HasPrefix(v.Reason, rule+":") {
		t.Fatalf("altered transaction: %s %s, want rejected by %s", v.Code, v.Reason, rule)
	}
	c.waitSameHead()
	for i := range 3 {
		blk, err := c.node(i).State().Block(h)
		if err != nil || blk.Verdicts[0] != v {
			t.Fatalf("node%d decided block %d differently: %v", i, h, err)
		}
		if r, err := c.node(i).State().Record(id); err != nil || r.Status != certchain.StatusGood {
			t.Fatalf("node%d: the certificate is %v after a rejected change (%v)", i, r.Status, err)
		}
	}
}

// publishedDevice publishes a device on the cluster and returns it, its
// ID and its status height.
func (c *cluster) publishedDevice(t *testing.T) (*validatortest.Device, certchain.Hash, uint64) {
	t.Helper()
	d := c.net.device(t)
	l := c.waitLeader()
	c.mustSubmit(l, publishTx(d))
	id := certchain.Sum(d.DER)
	rec, err := c.node(l).State().Record(id)
	if err != nil {
		t.Fatal(err)
	}
	return d, id, rec.StatusHeight
}

// TestTamperedTransactionInjectedIntoRaft: an owner-signed transaction
// whose signature was altered after it was made, proposed straight into
// Raft, is rejected when applied, by every node alike, and changes
// nothing. The same transaction with its signature intact, injected the
// same way, is accepted: the ledger's own rules decide, not the edge.
func TestTamperedTransactionInjectedIntoRaft(t *testing.T) {
	c := newCluster(t, 3, nil)
	d, id, height := c.publishedDevice(t)
	proof := validatortest.OwnerProof(t, d.Key, validator.OwnerRequest{Network: c.net.Genesis.NetworkID,
		Action: "suspend", Certificate: id.String(), StatusHeight: height})
	tampered := append([]byte(nil), proof...)
	k := len(tampered) - 5 // a character of the signature
	tampered[k] = map[bool]byte{true: 'B', false: 'A'}[tampered[k] == 'A']
	tx := certchain.Tx{Type: certchain.TxSuspend, Submitter: certchain.OwnerSubmitter, Target: id, Proof: tampered}

	v, h := c.inject(t, tx)
	c.rejectedEverywhere(t, v, validator.RuleOwnerProof, h, id)
	tx.Proof = proof
	if v, _ := c.inject(t, tx); v.Code != certchain.Accepted {
		t.Fatalf("the intact transaction: %s %s", v.Code, v.Reason)
	}
}

// TestTamperedMemberSignatureInjectedIntoRaft: a member's signed
// transaction whose content was altered after it was signed, proposed
// straight into Raft, is rejected ("signature") by every node alike; the
// transaction as signed is accepted.
func TestTamperedMemberSignatureInjectedIntoRaft(t *testing.T) {
	c := newCluster(t, 3, nil)
	_, id, height := c.publishedDevice(t)
	tx := certchain.Tx{Type: certchain.TxRevoke, Submitter: validatortest.Vendor, Target: id, Reason: certchain.ReasonSuperseded, Seen: height}
	if err := validator.SignTx(&tx, c.net.Genesis.NetworkID, c.net.MemberKeys[validatortest.Vendor]); err != nil {
		t.Fatal(err)
	}
	altered := tx
	altered.Reason = certchain.ReasonKeyCompromise // changed after signing

	v, h := c.inject(t, altered)
	c.rejectedEverywhere(t, v, validator.RuleSignature, h, id)
	if v, _ := c.inject(t, tx); v.Code != certchain.Accepted {
		t.Fatalf("the transaction as signed: %s %s", v.Code, v.Reason)
	}
}
