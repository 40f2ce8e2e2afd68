package validator_test

import (
	"crypto/x509"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func revokeKeyTx(submitter string, key certchain.Hash, reason certchain.Reason) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxRevokeKey, Submitter: submitter, Target: key, Reason: reason}
}

func TestRevokeKey(t *testing.T) {
	n, opts := newNet(t)
	k := vt.NewKey(t, vt.KeyP256)
	withK := func(cn string) []byte {
		return n.SelfSigned(t, vt.WithCN(cn), vt.WithPublicKey(k.Public()), vt.WithSigner(k)).DER
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	key := certchain.Sum(spki)
	caLeaf := n.Leaf(t, n.CA, vt.WithPublicKey(k.Public())).DER
	kc := certchain.ReasonKeyCompromise
	for _, tc := range []struct {
		name      string
		setup     func(l *ledger)
		submitter string
		reason    certchain.Reason
		rule      string
		revoked   int
	}{
		{"ok/owner-vendor", func(l *ledger) { l.publish(vt.Vendor, withK("a")); l.publish(vt.Vendor, withK("b")) }, vt.Vendor, kc, "", 2},
		{"ok/admin-mixed-owners", func(l *ledger) { l.publish(vt.Vendor, withK("a")); l.publish(vt.CA, caLeaf) }, vt.Admin, kc, "", 2},
		{"ok/ca-owner", func(l *ledger) { l.publish(vt.CA, caLeaf) }, vt.CA, certchain.ReasonCessationOfOperation, "", 1},
		{"ok/admin-unused-key", func(*ledger) {}, vt.Admin, kc, "", 0},
		{"ok/skips-revoked", func(l *ledger) {
			id := l.publish(vt.Vendor, withK("a"))
			l.must(statusTx(certchain.TxRevoke, vt.Vendor, id, certchain.ReasonSuperseded))
			l.publish(vt.Vendor, withK("b"))
		}, vt.Vendor, kc, "", 1},
		{"fail/other-vendor", func(l *ledger) { l.publish(vt.Vendor, withK("a")) }, vt.Vendor2, kc, validator.RuleUnauthorized, 0},
		{"fail/owner-of-some", func(l *ledger) { l.publish(vt.Vendor, withK("a")); l.publish(vt.CA, caLeaf) }, vt.Vendor, kc, validator.RuleUnauthorized, 0},
		{"fail/operator", func(l *ledger) { l.publish(vt.Vendor, withK("a")) }, vt.Operator, kc, validator.RuleUnauthorized, 0},
		{"fail/unused-key-not-admin", func(*ledger) {}, vt.Vendor, kc, validator.RuleUnauthorized, 0},
		{"fail/not-member", func(l *ledger) { l.publish(vt.Vendor, withK("a")) }, "mallory", kc, validator.RuleNotMember, 0},
		{"fail/hold-is-no-reason", func(l *ledger) { l.publish(vt.Vendor, withK("a")) }, vt.Vendor, certchain.ReasonCertificateHold, validator.RuleReason, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			tc.setup(l)
			before := l.view.snapshot(t)
			eff, v := l.decide(revokeKeyTx(tc.submitter, key, tc.reason))
			if tc.rule != "" {
				wantVerdict(t, v, certchain.Rejected, tc.rule)
				if string(l.view.snapshot(t)) != string(before) || len(l.view.keys) != 0 {
					t.Fatal("a refused revoke-key changed the state")
				}
				return
			}
			wantVerdict(t, v, certchain.Accepted, "")
			if len(eff.Records) != tc.revoked || len(eff.Keys) != 1 || eff.Keys[0].Revoked != uint64(tc.revoked) || eff.Keys[0].By != tc.submitter {
				t.Fatalf("effect: %d records, keys %+v; want %d revoked", len(eff.Records), eff.Keys, tc.revoked)
			}
			for _, r := range l.view.records {
				if r.KeyHash == key && r.Status != certchain.StatusRevoked {
					t.Fatalf("certificate %s with the key is %s", r.ID, r.Status)
				}
			}
			for _, r := range eff.Records {
				if r.Reason != tc.reason {
					t.Fatalf("revoked with %s, want %s", r.Reason, tc.reason)
				}
			}
			// Blocked from now on: a second revoke-key changes nothing, and
			// no publish or renewal may bring the key back.
			_, v = l.decide(revokeKeyTx(vt.Admin, key, kc))
			wantVerdict(t, v, certchain.Unchanged, validator.RuleKeyBlocked)
			_, v = l.decide(publishTx(vt.Vendor, withK("new")))
			wantVerdict(t, v, certchain.Rejected, validator.RuleKeyBlocked)
			old := l.publish(vt.Vendor, n.SelfSigned(t, vt.WithCN("other")).DER)
			_, v = l.decide(renewTx(vt.Vendor, old, withK("other")))
			wantVerdict(t, v, certchain.Rejected, validator.RuleKeyBlocked)
		})
	}
}
