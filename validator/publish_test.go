package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestDecidePublish(t *testing.T) {
	n, opts := newNet(t)
	dev := n.SelfSigned(t, vt.WithCN("dev-1")).DER
	twin := n.SelfSigned(t, vt.WithCN("dev-1")).DER // same identity, other key
	caLeaf := n.Leaf(t, n.CA, vt.WithCN("host-1")).DER
	caLeaf2 := n.Leaf(t, n.CA, vt.WithCN("host-1")).DER
	expired := n.SelfSigned(t, vt.WithValidity(vt.Now.AddDate(-2, 0, 0), vt.Now.AddDate(-1, 0, 0))).DER
	for _, tc := range []struct {
		name  string
		setup func(l *ledger)
		tx    *certchain.Tx
		code  certchain.VerdictCode
		rule  string
	}{
		{name: "ok/vendor-self-signed", tx: publishTx(vt.Vendor, dev), code: certchain.Accepted},
		{name: "ok/admin-self-signed", tx: publishTx(vt.Admin, dev), code: certchain.Accepted},
		{name: "ok/ca-own-leaf", tx: publishTx(vt.CA, caLeaf), code: certchain.Accepted},
		{name: "ok/ca-signed-identity-not-unique", tx: publishTx(vt.CA, caLeaf2), code: certchain.Accepted,
			setup: func(l *ledger) { l.publish(vt.CA, caLeaf) }},
		{name: "ok/identity-free-after-revoke", tx: publishTx(vt.Vendor, twin), code: certchain.Accepted,
			setup: func(l *ledger) {
				l.must(statusTx(certchain.TxRevoke, vt.Vendor, l.publish(vt.Vendor, dev), certchain.ReasonKeyCompromise))
			}},
		{name: "fail/not-member", tx: publishTx("mallory", dev), code: certchain.Rejected, rule: validator.RuleNotMember},
		{name: "fail/operator", tx: publishTx(vt.Operator, dev), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/validator", tx: publishTx(vt.Validator, dev), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/ca-self-signed", tx: publishTx(vt.CA, dev), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/vendor-ca-signed", tx: publishTx(vt.Vendor, caLeaf), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/admin-ca-signed", tx: publishTx(vt.Admin, caLeaf), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/other-ca-leaf", tx: publishTx(vt.CA2, caLeaf), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/invalid-cert", tx: publishTx(vt.Vendor, expired), code: certchain.Rejected, rule: validator.RuleExpired},
		{name: "fail/no-cert", tx: publishTx(vt.Vendor, nil), code: certchain.Rejected, rule: validator.RuleDER},
		{name: "fail/duplicate-identity", tx: publishTx(vt.Vendor2, twin), code: certchain.Rejected, rule: validator.RuleDuplicateIdentity,
			setup: func(l *ledger) { l.publish(vt.Vendor, dev) }},
		{name: "fail/duplicate-identity-suspended", tx: publishTx(vt.Vendor, twin), code: certchain.Rejected, rule: validator.RuleDuplicateIdentity,
			setup: func(l *ledger) { l.must(statusTx(certchain.TxSuspend, vt.Vendor, l.publish(vt.Vendor, dev), 0)) }},
		{name: "unchanged/same-cert-again", tx: publishTx(vt.Vendor, dev), code: certchain.Unchanged, rule: validator.RuleAlreadyPublished,
			setup: func(l *ledger) { l.publish(vt.Vendor, dev) }},
		{name: "unchanged/same-cert-revoked", tx: publishTx(vt.Vendor, dev), code: certchain.Unchanged, rule: validator.RuleAlreadyPublished,
			setup: func(l *ledger) {
				l.must(statusTx(certchain.TxRevoke, vt.Vendor, l.publish(vt.Vendor, dev), certchain.ReasonUnspecified))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			if tc.setup != nil {
				tc.setup(l)
			}
			before := l.view.snapshot(t)
			eff, v := l.decide(tc.tx)
			wantVerdict(t, v, tc.code, tc.rule)
			checkEffect(t, l, tc.tx, eff, v, before)
		})
	}
}

// checkEffect checks that a rejected or unchanged transaction changed
// nothing, and that an accepted publish stored one good record.
func checkEffect(t *testing.T, l *ledger, tx *certchain.Tx, eff validator.Effect, v certchain.Verdict, before []byte) {
	t.Helper()
	if v.Code != certchain.Accepted {
		if len(eff.Records) != 0 || string(l.view.snapshot(t)) != string(before) {
			t.Fatal("a transaction that was not accepted changed the state")
		}
		return
	}
	r := eff.Records[0]
	if r.ID != certchain.Sum(tx.Cert) || r.Status != certchain.StatusGood || r.Submitter != tx.Submitter || r.Height != l.height {
		t.Fatalf("new record: %+v", r)
	}
}
