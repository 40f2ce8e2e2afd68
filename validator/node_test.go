package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func nodeAdd(by, id string) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxNodeAdd, Submitter: by, Node: id, Address: "127.0.0.1:8301", API: "https://127.0.0.1:8444"}
}

func nodeRemove(by, id string) *certchain.Tx {
	return &certchain.Tx{Type: certchain.TxNodeRemove, Submitter: by, Node: id}
}

func TestDecideNodes(t *testing.T) {
	n, opts := newNet(t)
	with := func(f func(*certchain.Tx)) *certchain.Tx { tx := nodeAdd(vt.Admin, "node2"); f(tx); return tx }
	cases := []struct {
		name  string
		setup []*certchain.Tx
		tx    *certchain.Tx
		code  certchain.VerdictCode
		rule  string
	}{
		{name: "ok/add", tx: nodeAdd(vt.Admin, "node2"), code: certchain.Accepted},
		{name: "ok/add-again-unchanged", setup: []*certchain.Tx{nodeAdd(vt.Admin, "node2")}, tx: nodeAdd(vt.Admin, "node2"), code: certchain.Unchanged, rule: validator.RuleNode},
		{name: "ok/move", setup: []*certchain.Tx{nodeAdd(vt.Admin, "node2")}, tx: with(func(tx *certchain.Tx) { tx.Address = "127.0.0.1:9999" }), code: certchain.Accepted},
		{name: "ok/remove-unrecorded-founder", tx: nodeRemove(vt.Admin, "node1"), code: certchain.Accepted},
		{name: "ok/remove-twice-unchanged", setup: []*certchain.Tx{nodeRemove(vt.Admin, "node1")}, tx: nodeRemove(vt.Admin, "node1"), code: certchain.Unchanged, rule: validator.RuleNode},
		{name: "ok/re-add-removed", setup: []*certchain.Tx{nodeAdd(vt.Admin, "node2"), nodeRemove(vt.Admin, "node2")}, tx: nodeAdd(vt.Admin, "node2"), code: certchain.Accepted},
		{name: "fail/vendor-adds", tx: nodeAdd(vt.Vendor, "node2"), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/validator-member-removes", tx: nodeRemove(vt.Validator, "node1"), code: certchain.Rejected, rule: validator.RuleRole},
		{name: "fail/non-member", tx: nodeAdd("mallory", "node2"), code: certchain.Rejected, rule: validator.RuleNotMember},
		{name: "fail/bad-id", tx: with(func(tx *certchain.Tx) { tx.Node = "../etc" }), code: certchain.Rejected, rule: validator.RuleNode},
		{name: "fail/bad-address", tx: with(func(tx *certchain.Tx) { tx.Address = "nowhere" }), code: certchain.Rejected, rule: validator.RuleNode},
		{name: "fail/plain-http-api", tx: with(func(tx *certchain.Tx) { tx.API = "http://127.0.0.1:8080" }), code: certchain.Rejected, rule: validator.RuleNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			for _, s := range tc.setup {
				l.must(s)
			}
			eff, v := l.decide(tc.tx)
			if v.Code != tc.code || (tc.rule != "" && !hasRule(v.Reason, tc.rule)) {
				t.Fatalf("verdict %s %q, want %s %s", v.Code, v.Reason, tc.code, tc.rule)
			}
			if (v.Code == certchain.Accepted) != (len(eff.Nodes) == 1) {
				t.Fatalf("effect %+v for verdict %s", eff, v.Code)
			}
		})
	}
}

func hasRule(reason, rule string) bool {
	return len(reason) > len(rule) && reason[:len(rule)+1] == rule+":"
}
