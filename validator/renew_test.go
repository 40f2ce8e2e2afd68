package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestDecideRenew(t *testing.T) {
	n, opts := newNet(t)
	old := n.SelfSigned(t, vt.WithCN("dev-1")).DER
	next := n.SelfSigned(t, vt.WithCN("dev-1")).DER
	other := n.SelfSigned(t, vt.WithCN("dev-2")).DER
	oldLeaf := n.Leaf(t, n.CA, vt.WithCN("host-1")).DER
	nextLeaf := n.Leaf(t, n.CA, vt.WithCN("host-1b")).DER
	leafOfCA2 := n.Leaf(t, n.CA2, vt.WithCN("host-1")).DER
	noNetID := n.SelfSigned(t, vt.WithCN("dev-1"), vt.WithoutNetworkID()).DER
	oldID := certchain.Sum(old)
	for _, tc := range []struct {
		name  string
		setup func(l *ledger) // old is published by vendor before it
		tx    *certchain.Tx
		rule  string // "" = accepted
	}{
		{name: "ok/submitter", tx: renewTx(vt.Vendor, oldID, next)},
		{name: "ok/admin", tx: renewTx(vt.Admin, oldID, next)},
		{name: "fail/suspended", tx: renewTx(vt.Vendor, oldID, next), rule: validator.RuleState,
			setup: func(l *ledger) { l.must(statusTx(certchain.TxSuspend, vt.Vendor, oldID, 0)) }},
		{name: "ok/ca-signed-same-ca-any-identity", tx: renewTx(vt.CA, certchain.Sum(oldLeaf), nextLeaf),
			setup: func(l *ledger) { l.publish(vt.CA, oldLeaf) }},
		{name: "fail/not-member", tx: renewTx("mallory", oldID, next), rule: validator.RuleNotMember},
		{name: "fail/not-found", tx: renewTx(vt.Vendor, certchain.Sum(other), next), rule: validator.RuleNotFound},
		{name: "fail/other-vendor", tx: renewTx(vt.Vendor2, oldID, next), rule: validator.RuleUnauthorized},
		{name: "fail/operator", tx: renewTx(vt.Operator, oldID, next), rule: validator.RuleUnauthorized},
		{name: "fail/same-cert", tx: renewTx(vt.Vendor, oldID, old), rule: validator.RuleAlreadyPublished},
		{name: "fail/new-already-on-ledger", tx: renewTx(vt.Vendor, oldID, other), rule: validator.RuleAlreadyPublished,
			setup: func(l *ledger) { l.publish(vt.Vendor, other) }},
		{name: "fail/identity-mismatch", tx: renewTx(vt.Vendor, oldID, other), rule: validator.RuleIdentityMismatch},
		{name: "fail/self-signed-to-ca-signed", tx: renewTx(vt.Admin, oldID, oldLeaf), rule: validator.RuleCAMismatch},
		{name: "fail/ca-signed-to-other-ca", tx: renewTx(vt.CA, certchain.Sum(oldLeaf), leafOfCA2), rule: validator.RuleCAMismatch,
			setup: func(l *ledger) { l.publish(vt.CA, oldLeaf) }},
		{name: "fail/new-cert-invalid", tx: renewTx(vt.Vendor, oldID, noNetID), rule: validator.RuleNetworkID},
		{name: "fail/revoked", tx: renewTx(vt.Vendor, oldID, next), rule: validator.RuleState,
			setup: func(l *ledger) { l.must(statusTx(certchain.TxRevoke, vt.Vendor, oldID, certchain.ReasonKeyCompromise)) }},
		{name: "fail/superseded", tx: renewTx(vt.Vendor, oldID, other), rule: validator.RuleState,
			setup: func(l *ledger) { l.must(renewTx(vt.Vendor, oldID, next)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			l.publish(vt.Vendor, old)
			if tc.setup != nil {
				tc.setup(l)
			}
			before := l.view.snapshot(t)
			eff, v := l.decide(tc.tx)
			if tc.rule != "" {
				wantVerdict(t, v, certchain.Rejected, tc.rule)
				checkEffect(t, l, tc.tx, eff, v, before)
				return
			}
			wantVerdict(t, v, certchain.Accepted, "")
			checkRenewal(t, l, tc.tx, eff)
		})
	}
}

// checkRenewal checks the effect of an accepted renewal: the new record
// replaces the old, the old is superseded by the new.
func checkRenewal(t *testing.T, l *ledger, tx *certchain.Tx, eff validator.Effect) {
	t.Helper()
	if len(eff.Records) != 2 {
		t.Fatalf("%d records, want 2", len(eff.Records))
	}
	nw, old := eff.Records[0], eff.Records[1]
	if nw.ID != certchain.Sum(tx.Cert) || nw.Replaces != tx.Target || nw.Status != certchain.StatusGood {
		t.Fatalf("new record: %+v", nw)
	}
	if old.ID != tx.Target || old.Status != certchain.StatusSuperseded || old.Reason != certchain.ReasonSuperseded ||
		old.SupersededBy != nw.ID || old.StatusHeight != l.height || !old.StatusTime.Equal(l.opts.Now) {
		t.Fatalf("old record: %+v", old)
	}
}

func TestRenewedIdentityMovesToNewCert(t *testing.T) {
	n, opts := newNet(t)
	l := newLedger(t, n, opts)
	old := l.publish(vt.Vendor, n.SelfSigned(t, vt.WithCN("dev-1")).DER)
	next := n.SelfSigned(t, vt.WithCN("dev-1")).DER
	l.must(renewTx(vt.Vendor, old, next))
	if id, ok, _ := l.view.CurrentByIdentity("CN=dev-1"); !ok || id != certchain.Sum(next) {
		t.Fatal("the identity is not held by the new certificate")
	}
	_, v := l.decide(publishTx(vt.Vendor, n.SelfSigned(t, vt.WithCN("dev-1")).DER))
	wantVerdict(t, v, certchain.Rejected, validator.RuleDuplicateIdentity)
	l.must(statusTx(certchain.TxRevoke, vt.Vendor, old, certchain.ReasonKeyCompromise)) // superseded -> revoked
}
