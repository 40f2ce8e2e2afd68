package validator_test

import (
	"encoding/json"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func memberTx(typ certchain.TxType, submitter string, m certchain.Member) *certchain.Tx {
	b, _ := json.Marshal(m)
	return &certchain.Tx{Type: typ, Submitter: submitter, Member: b}
}

func TestMemberChanges(t *testing.T) {
	n, opts := newNet(t)
	newVendor := certchain.Member{Name: "vendor3", Role: certchain.RoleVendor, Cert: string(n.SelfSigned(t).PEM()),
		Namespace: &certchain.Namespace{Organizations: []string{"Vendor C"}}}
	vendorsCert := newVendor
	vendorsCert.Name, vendorsCert.Cert = "copycat", n.Genesis.Members[1].Cert
	adminSelf, _ := n.Genesis.Member(vt.Admin)
	demoted := *adminSelf
	demoted.Role = certchain.RoleVendor
	for _, tc := range []struct {
		name      string
		tx        *certchain.Tx
		rule      string
		wantAdded bool
	}{
		{"ok/admin-adds-vendor", memberTx(certchain.TxMemberSet, vt.Admin, newVendor), "", true},
		{"ok/admin-removes-vendor", memberTx(certchain.TxMemberRemove, vt.Admin, certchain.Member{Name: vt.Vendor2}), "", false},
		{"fail/vendor-adds-member", memberTx(certchain.TxMemberSet, vt.Vendor, newVendor), validator.RuleRole, false},
		{"fail/operator-removes-member", memberTx(certchain.TxMemberRemove, vt.Operator, certchain.Member{Name: vt.Vendor}), validator.RuleRole, false},
		{"fail/identity-of-another-member", memberTx(certchain.TxMemberSet, vt.Admin, vendorsCert), validator.RuleMember, false},
		{"fail/admin-demotes-itself", memberTx(certchain.TxMemberSet, vt.Admin, demoted), validator.RuleMember, false},
		{"fail/admin-removes-itself", memberTx(certchain.TxMemberRemove, vt.Admin, certchain.Member{Name: vt.Admin}), validator.RuleMember, false},
		{"fail/remove-unknown", memberTx(certchain.TxMemberRemove, vt.Admin, certchain.Member{Name: "nobody"}), validator.RuleNotFound, false},
		{"fail/bad-role", memberTx(certchain.TxMemberSet, vt.Admin, certchain.Member{Name: "x", Role: "king", Cert: newVendor.Cert}), validator.RuleMember, false},
		{"fail/not-json", &certchain.Tx{Type: certchain.TxMemberSet, Submitter: vt.Admin, Member: []byte("{")}, validator.RuleMember, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			eff, v := l.decide(tc.tx)
			if tc.rule != "" {
				wantVerdict(t, v, certchain.Rejected, tc.rule)
				if len(eff.Members) != 0 {
					t.Fatal("a refused member change has an effect")
				}
				return
			}
			wantVerdict(t, v, certchain.Accepted, "")
			if len(eff.Members) != 1 || eff.Members[0].By != vt.Admin {
				t.Fatalf("effect: %+v", eff.Members)
			}
			// The next block's checks use the changed member set.
			g := n.Genesis.WithMembers(eff.Members)
			_, ok := g.Member(newVendor.Name)
			if ok != tc.wantAdded {
				t.Fatalf("vendor3 a member after the change: %v", ok)
			}
			if tc.wantAdded {
				der := n.SelfSigned(t, org("Vendor C")).DER
				_, v, err := validator.DecideErr(publishTx("vendor3", der), certchain.Sum(der), nil, opts, g, l.view, l.height+1)
				if err != nil {
					t.Fatal(err)
				}
				wantVerdict(t, v, certchain.Accepted, "")
				der = n.SelfSigned(t, org("Vendor A")).DER
				_, v, _ = validator.DecideErr(publishTx("vendor3", der), certchain.Sum(der), nil, opts, g, l.view, l.height+1)
				wantVerdict(t, v, certchain.Rejected, validator.RuleNamespace)
			} else {
				_, v, _ := validator.DecideErr(publishTx(vt.Vendor2, n.SelfSigned(t).DER), certchain.Hash{}, nil, opts, g, l.view, l.height+1)
				wantVerdict(t, v, certchain.Rejected, validator.RuleNotMember)
			}
		})
	}
}
