package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

type step struct {
	typ    certchain.TxType
	reason certchain.Reason
	rule   string           // "" = accepted
	status certchain.Status // status after the step
}

func TestStatusTransitions(t *testing.T) {
	const (
		good, susp, rev, sup = certchain.StatusGood, certchain.StatusSuspended, certchain.StatusRevoked, certchain.StatusSuperseded
		revoke, suspend      = certchain.TxRevoke, certchain.TxSuspend
		resume, renew        = certchain.TxResume, certchain.TxRenew
		state, reason        = validator.RuleState, validator.RuleReason
		kc                   = certchain.ReasonKeyCompromise
	)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"ok/good-suspended-good", []step{{suspend, 0, "", susp}, {resume, 0, "", good}, {suspend, 0, "", susp}}},
		{"ok/good-revoked", []step{{revoke, kc, "", rev}}},
		{"ok/suspended-revoked", []step{{suspend, 0, "", susp}, {revoke, certchain.ReasonCessationOfOperation, "", rev}}},
		{"ok/superseded-revoked", []step{{renew, 0, "", sup}, {revoke, kc, "", rev}}},
		{"ok/unspecified-reason", []step{{revoke, certchain.ReasonUnspecified, "", rev}}},
		{"fail/revoked-is-terminal", []step{{revoke, kc, "", rev}, {revoke, kc, state, rev}, {suspend, 0, state, rev}, {resume, 0, state, rev}}},
		{"fail/suspend-suspended", []step{{suspend, 0, "", susp}, {suspend, 0, state, susp}}},
		{"fail/resume-good", []step{{resume, 0, state, good}}},
		{"fail/suspend-superseded", []step{{renew, 0, "", sup}, {suspend, 0, state, sup}, {resume, 0, state, sup}}},
		{"fail/reason-certificate-hold", []step{{revoke, certchain.ReasonCertificateHold, reason, good}}},
		{"fail/reason-remove-from-crl", []step{{revoke, certchain.ReasonRemoveFromCRL, reason, good}}},
		{"fail/reason-unknown", []step{{revoke, 7, reason, good}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, opts := newNet(t)
			l := newLedger(t, n, opts)
			id := l.publish(vt.Vendor, n.SelfSigned(t, vt.WithCN("dev")).DER)
			for i, s := range tc.steps {
				tx := statusTx(s.typ, vt.Vendor, id, s.reason)
				if s.typ == certchain.TxRenew {
					tx = renewTx(vt.Vendor, id, n.SelfSigned(t, vt.WithCN("dev")).DER)
				}
				runStep(t, l, i, tx, s, id)
			}
		})
	}
}

func runStep(t *testing.T, l *ledger, i int, tx *certchain.Tx, s step, id certchain.Hash) {
	t.Helper()
	_, v := l.decide(tx)
	code := certchain.Accepted
	if s.rule != "" {
		code = certchain.Rejected
	}
	wantVerdict(t, v, code, s.rule)
	r := l.record(id)
	if r.Status != s.status {
		t.Fatalf("step %d (%s): status %s, want %s", i, tx.Type, r.Status, s.status)
	}
	if s.rule == "" && (r.StatusHeight != l.height || !r.StatusTime.Equal(l.opts.Now)) {
		t.Fatalf("step %d: status height/time not set: %+v", i, r)
	}
	if s.rule == "" && s.typ == certchain.TxRevoke && r.Reason != s.reason {
		t.Fatalf("step %d: reason %s, want %s", i, r.Reason, s.reason)
	}
}

func TestStatusAuthorization(t *testing.T) {
	n, opts := newNet(t)
	vendorCert := n.SelfSigned(t).DER
	caLeaf := n.Leaf(t, n.CA).DER
	adminRenewed := n.Leaf(t, n.CA).DER // renewed by admin: submitter admin, CA ca
	for _, tc := range []struct {
		name      string
		submitter string
		target    func(l *ledger) certchain.Hash
		rule      string
	}{
		{"ok/submitter", vt.Vendor, pub(vt.Vendor, vendorCert), ""},
		{"ok/admin", vt.Admin, pub(vt.Vendor, vendorCert), ""},
		{"ok/ca-submitter", vt.CA, pub(vt.CA, caLeaf), ""},
		{"ok/ca-of-record-not-submitter", vt.CA, renewedByAdmin(caLeaf, adminRenewed), ""},
		{"ok/admin-submitter", vt.Admin, renewedByAdmin(caLeaf, adminRenewed), ""},
		{"fail/other-vendor", vt.Vendor2, pub(vt.Vendor, vendorCert), validator.RuleUnauthorized},
		{"fail/operator", vt.Operator, pub(vt.Vendor, vendorCert), validator.RuleUnauthorized},
		{"fail/validator", vt.Validator, pub(vt.Vendor, vendorCert), validator.RuleUnauthorized},
		{"fail/other-ca", vt.CA2, pub(vt.CA, caLeaf), validator.RuleUnauthorized},
		{"fail/ca-on-self-signed", vt.CA, pub(vt.Vendor, vendorCert), validator.RuleUnauthorized},
		{"fail/not-member", "mallory", pub(vt.Vendor, vendorCert), validator.RuleNotMember},
		{"fail/not-found", vt.Admin, func(*ledger) certchain.Hash { return certchain.Sum([]byte("nothing")) }, validator.RuleNotFound},
	} {
		for _, typ := range []certchain.TxType{certchain.TxRevoke, certchain.TxSuspend} {
			t.Run(tc.name+"/"+typ.String(), func(t *testing.T) {
				l := newLedger(t, n, opts)
				_, v := l.decide(statusTx(typ, tc.submitter, tc.target(l), certchain.ReasonKeyCompromise))
				code := certchain.Accepted
				if tc.rule != "" {
					code = certchain.Rejected
				}
				wantVerdict(t, v, code, tc.rule)
			})
		}
	}
}

func pub(submitter string, der []byte) func(l *ledger) certchain.Hash {
	return func(l *ledger) certchain.Hash { return l.publish(submitter, der) }
}

// renewedByAdmin publishes old as ca, then has an admin renew it with next:
// the new record's submitter is the admin and its CA is ca.
func renewedByAdmin(old, next []byte) func(l *ledger) certchain.Hash {
	return func(l *ledger) certchain.Hash {
		l.must(renewTx(vt.Admin, l.publish(vt.CA, old), next))
		return certchain.Sum(next)
	}
}
