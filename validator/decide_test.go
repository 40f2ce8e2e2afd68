package validator_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func TestDecideUnknownType(t *testing.T) {
	n, opts := newNet(t)
	l := newLedger(t, n, opts)
	_, v := l.decide(&certchain.Tx{Type: 99, Submitter: vt.Admin})
	wantVerdict(t, v, certchain.Rejected, validator.RuleTxType)
}

func TestDecidePre(t *testing.T) {
	n, opts := newNet(t)
	der := n.SelfSigned(t, vt.WithCN("dev")).DER
	other := n.SelfSigned(t, vt.WithCN("other")).DER
	pre, err := validator.Check(der, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	marked := *pre
	marked.Identity = "marked" // shows whether Decide used it
	for _, tc := range []struct {
		name     string
		der      []byte
		at       time.Time
		rule     string
		identity string
	}{
		{"ok/pre-used", der, vt.Now, "", "marked"},
		{"ok/pre-for-other-cert-ignored", other, vt.Now, "", "CN=other"},
		{"ok/pre-in-same-window-used", der, vt.Now.Add(time.Hour), "", "marked"},
		{"ok/pre-across-notbefore-ignored", der, vt.Now.Add(-2 * time.Hour), "", "CN=dev"},
		{"fail/pre-at-other-time-rechecked", der, vt.Now.AddDate(6, 0, 0), validator.RuleExpired, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := publishTx(vt.Vendor, tc.der)
			eff, v := validator.Decide(tx, tx.ID(), &marked, opts.At(tc.at), n.Genesis, newFakeView(), 2)
			if tc.rule != "" {
				wantVerdict(t, v, certchain.Rejected, tc.rule)
				return
			}
			wantVerdict(t, v, certchain.Accepted, "")
			if got := eff.Records[0].Identity; got != tc.identity {
				t.Fatalf("identity %q, want %q", got, tc.identity)
			}
		})
	}
}

func TestDecideViewError(t *testing.T) {
	n, opts := newNet(t)
	disk := errors.New("disk on fire")
	view := newFakeView()
	view.err = disk
	tx := publishTx(vt.Vendor, n.SelfSigned(t).DER)
	_, _, err := validator.DecideErr(tx, tx.ID(), nil, opts, n.Genesis, view, 2)
	if !errors.Is(err, disk) {
		t.Fatalf("DecideErr error = %v, want the view's error", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Decide did not panic on a view error")
		}
	}()
	validator.Decide(tx, tx.ID(), nil, opts, n.Genesis, view, 2)
}

func TestDecideInvalidOptions(t *testing.T) {
	n, opts := newNet(t)
	tx := publishTx(vt.Vendor, n.SelfSigned(t).DER)
	if _, _, err := validator.DecideErr(tx, tx.ID(), nil, opts.At(time.Time{}), n.Genesis, newFakeView(), 2); err == nil {
		t.Fatal("DecideErr accepted options without a time")
	}
}

func TestDecideDoesNotModifyViewRecords(t *testing.T) {
	n, opts := newNet(t)
	l := newLedger(t, n, opts)
	id := l.publish(vt.Vendor, n.SelfSigned(t, vt.WithCN("dev")).DER)
	next := n.SelfSigned(t, vt.WithCN("dev")).DER
	for _, tx := range []*certchain.Tx{
		statusTx(certchain.TxSuspend, vt.Vendor, id, 0),
		statusTx(certchain.TxRevoke, vt.Vendor, id, certchain.ReasonKeyCompromise),
		renewTx(vt.Vendor, id, next),
	} {
		before := l.view.snapshot(t)
		eff, v, err := validator.DecideErr(tx, tx.ID(), nil, opts, n.Genesis, l.view, 9)
		if err != nil || v.Code != certchain.Accepted {
			t.Fatalf("%s: %v %v", tx.Type, v, err)
		}
		if string(l.view.snapshot(t)) != string(before) {
			t.Fatalf("%s modified a record of the view in place", tx.Type)
		}
		for _, r := range eff.Records {
			if r == l.view.records[r.ID] {
				t.Fatalf("%s returned the view's own record", tx.Type)
			}
		}
	}
}

func TestDecideDeterministic(t *testing.T) {
	n, opts := newNet(t)
	a, b := n.SelfSigned(t, vt.WithCN("a")).DER, n.SelfSigned(t, vt.WithCN("a")).DER
	leafDER := n.Leaf(t, n.CA).DER
	txs := []*certchain.Tx{
		publishTx(vt.Vendor, a), publishTx(vt.Vendor, a), publishTx(vt.Vendor2, b),
		publishTx(vt.CA, leafDER), renewTx(vt.Vendor, certchain.Sum(a), b),
		statusTx(certchain.TxRevoke, vt.CA, certchain.Sum(leafDER), certchain.ReasonCessationOfOperation),
		statusTx(certchain.TxResume, vt.Vendor, certchain.Sum(b), 0),
	}
	run := func() ([]certchain.Verdict, []byte) {
		l := newLedger(t, n, opts)
		var vs []certchain.Verdict
		for _, tx := range txs {
			_, v := l.decide(tx)
			vs = append(vs, v)
		}
		return vs, l.view.snapshot(t)
	}
	v1, s1 := run()
	v2, s2 := run()
	if !reflect.DeepEqual(v1, v2) || string(s1) != string(s2) {
		t.Fatalf("two runs differ:\n%v\n%v", v1, v2)
	}
	want := []certchain.VerdictCode{certchain.Accepted, certchain.Unchanged, certchain.Rejected,
		certchain.Accepted, certchain.Accepted, certchain.Accepted, certchain.Rejected}
	for i, v := range v1 {
		if v.Code != want[i] {
			t.Fatalf("tx %d (%s): %s %q, want %s", i, txs[i].Type, v.Code, v.Reason, want[i])
		}
	}
}
