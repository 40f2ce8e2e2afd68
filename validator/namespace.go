package validator

import (
	"crypto/x509"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// checkNamespace is rule "namespace": a vendor or CA member publishes, and
// an operator suspends and resumes, only certificates inside its
// namespace (certchain.Namespace: subject organizations, SAN URI
// prefixes, SAN DNS suffixes). A member without a namespace is not
// restricted by this rule.
func checkNamespace(m *certchain.Member, c *x509.Certificate) error {
	if m.Namespace.Empty() {
		return nil
	}
	uris := make([]string, len(c.URIs))
	for i, u := range c.URIs {
		uris[i] = u.String()
	}
	ok, outside := m.Namespace.Contains(c.Subject.Organization, uris, c.DNSNames)
	switch {
	case ok:
		return nil
	case outside != "":
		return ruleErr(RuleNamespace, fmt.Sprintf("%s is outside the namespace of member %q", quoteShort(outside), m.Name))
	}
	return ruleErr(RuleNamespace, fmt.Sprintf("the certificate names no organization, URI or DNS name in the namespace of member %q", m.Name))
}

// recordInNamespace applies checkNamespace to a certificate on the ledger.
func recordInNamespace(m *certchain.Member, r *certchain.Record) error {
	c, err := ParseDER(r.DER)
	if err != nil { // it was checked when published; a record that no longer parses is not m's
		return ruleErr(RuleNamespace, fmt.Sprintf("certificate %s cannot be matched against a namespace", r.ID))
	}
	return checkNamespace(m, c)
}
