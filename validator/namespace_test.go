package validator_test

import (
	"crypto/x509/pkix"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

// namespacedNet is the test network with namespaces: vendor owns
// organization "Vendor A" and URIs under urn:vendor-a:, vendor2 "Vendor B",
// ca the DNS names under op-a.example, and the operator runs the network of
// Vendor A's devices.
func namespacedNet(t *testing.T) (*vt.Network, *validator.Options) {
	n := vt.NewNetwork(t)
	g := *n.Genesis
	g.Members = append([]certchain.Member(nil), g.Members...)
	spaces := map[string]*certchain.Namespace{
		vt.Vendor:   {Organizations: []string{"Vendor A"}, URIPrefixes: []string{"urn:vendor-a:"}},
		vt.Vendor2:  {Organizations: []string{"Vendor B"}},
		vt.CA:       {DNSSuffixes: []string{"op-a.example"}},
		vt.Operator: {Organizations: []string{"Vendor A"}},
	}
	for i := range g.Members {
		g.Members[i].Namespace = spaces[g.Members[i].Name]
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	n.Genesis = &g
	opts, err := validator.NewOptions(n.Genesis, n.Now)
	if err != nil {
		t.Fatal(err)
	}
	return n, opts
}

func org(o string) vt.Option {
	return vt.WithSubject(pkix.Name{Organization: []string{o}, CommonName: "dev-" + o})
}

func TestNamespacePublish(t *testing.T) {
	n, opts := namespacedNet(t)
	for _, tc := range []struct {
		name      string
		submitter string
		der       []byte
		rule      string
	}{
		{"ok/vendor-organization", vt.Vendor, n.SelfSigned(t, org("Vendor A")).DER, ""},
		{"ok/vendor-organization-and-uri", vt.Vendor, n.SelfSigned(t, org("Vendor A"), vt.WithURI("urn:vendor-a:sc:1")).DER, ""},
		{"ok/vendor-uri-only", vt.Vendor, n.SelfSigned(t, vt.WithURI("urn:vendor-a:sc:2")).DER, ""},
		{"ok/ca-dns", vt.CA, n.Leaf(t, n.CA, vt.WithDNS("gw.op-a.example")).DER, ""},
		{"ok/admin-anything", vt.Admin, n.SelfSigned(t, org("Vendor B")).DER, ""},
		{"fail/vendor-into-other-vendor", vt.Vendor, n.SelfSigned(t, org("Vendor B")).DER, validator.RuleNamespace},
		{"fail/other-vendor-into-vendor", vt.Vendor2, n.SelfSigned(t, org("Vendor A")).DER, validator.RuleNamespace},
		{"fail/uri-outside", vt.Vendor, n.SelfSigned(t, org("Vendor A"), vt.WithURI("urn:vendor-b:sc:1")).DER, validator.RuleNamespace},
		{"fail/no-name-in-namespace", vt.Vendor, n.SelfSigned(t, vt.WithCN("bare")).DER, validator.RuleNamespace},
		{"fail/ca-dns-outside", vt.CA, n.Leaf(t, n.CA, vt.WithDNS("gw.op-b.example")).DER, validator.RuleNamespace},
		{"fail/ca-dns-suffix-is-not-a-label", vt.CA, n.Leaf(t, n.CA, vt.WithDNS("evilop-a.example")).DER, validator.RuleNamespace},
		{"fail/operator-publishes", vt.Operator, n.SelfSigned(t, org("Vendor A")).DER, validator.RuleRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n, opts)
			_, v := l.decide(publishTx(tc.submitter, tc.der))
			code := certchain.Accepted
			if tc.rule != "" {
				code = certchain.Rejected
			}
			wantVerdict(t, v, code, tc.rule)
		})
	}
}

func TestNamespaceRenewAndOperatorScope(t *testing.T) {
	n, opts := namespacedNet(t)
	l := newLedger(t, n, opts)
	a := l.publish(vt.Vendor, n.SelfSigned(t, org("Vendor A"), vt.WithURI("urn:vendor-a:sc:1")).DER)
	b := l.publish(vt.Vendor2, n.SelfSigned(t, org("Vendor B")).DER)

	// A vendor cannot renew its device into another vendor's namespace.
	_, v := l.decide(renewTx(vt.Vendor, a, n.SelfSigned(t, org("Vendor B"), vt.WithURI("urn:vendor-a:sc:1")).DER))
	wantVerdict(t, v, certchain.Rejected, validator.RuleNamespace)

	// The operator suspends and resumes devices of its network, not others,
	// and revokes nothing.
	for _, s := range []struct {
		typ    certchain.TxType
		target certchain.Hash
		code   certchain.VerdictCode
		rule   string
	}{
		{certchain.TxSuspend, a, certchain.Accepted, ""},
		{certchain.TxResume, a, certchain.Accepted, ""},
		{certchain.TxRevoke, a, certchain.Rejected, validator.RuleUnauthorized},
		{certchain.TxSuspend, b, certchain.Rejected, validator.RuleNamespace},
	} {
		_, v := l.decide(statusTx(s.typ, vt.Operator, s.target, certchain.ReasonKeyCompromise))
		wantVerdict(t, v, s.code, s.rule)
	}
	// Vendor A may not touch vendor B's device.
	_, v = l.decide(statusTx(certchain.TxRevoke, vt.Vendor, b, certchain.ReasonKeyCompromise))
	wantVerdict(t, v, certchain.Rejected, validator.RuleUnauthorized)
}

func TestNamespaceContains(t *testing.T) {
	ns := &certchain.Namespace{Organizations: []string{"A"}, DNSSuffixes: []string{"a.example"}}
	for _, tc := range []struct {
		orgs, uris, dns []string
		ok              bool
	}{
		{[]string{"A"}, nil, nil, true},
		{nil, nil, []string{"GW.A.Example"}, true},
		{[]string{"A"}, []string{"urn:x:1"}, nil, true}, // URIs are not constrained here
		{[]string{"A", "B"}, nil, nil, false},
		{[]string{"A"}, nil, []string{"b.example"}, false},
		{nil, []string{"urn:x:1"}, nil, false},
		{nil, nil, nil, false},
	} {
		if ok, _ := ns.Contains(tc.orgs, tc.uris, tc.dns); ok != tc.ok {
			t.Errorf("Contains(%v, %v, %v) = %v, want %v", tc.orgs, tc.uris, tc.dns, ok, tc.ok)
		}
	}
}
