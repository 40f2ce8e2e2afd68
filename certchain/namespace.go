package certchain

import (
	"fmt"
	"strings"
)

// Namespace is what a member may act on: the device and service
// identities it publishes (vendor, ca) or whose certificates it may
// suspend and resume in its network (operator). Each list constrains one
// kind of name a certificate carries:
//
//   - Organizations: the subject's O attributes (device certificates of a
//     vendor usually name it there);
//   - URIPrefixes: subject alternative name URIs, by prefix (e.g.
//     "urn:acme-femto:sc:");
//   - DNSSuffixes: subject alternative name DNS names, the name itself or
//     any name under it ("op-a.example" covers "gw.op-a.example").
//
// A certificate is inside the namespace when at least one of its names
// falls under a list and every name of a kind the namespace constrains
// does (a device certificate with the vendor's O and a URI outside the
// vendor's prefixes is outside). Kinds the namespace does not list are
// not looked at.
type Namespace struct {
	Organizations []string `json:"organizations,omitempty"`
	URIPrefixes   []string `json:"uri_prefixes,omitempty"`
	DNSSuffixes   []string `json:"dns_suffixes,omitempty"`
}

// Empty reports whether n constrains nothing.
func (n *Namespace) Empty() bool {
	return n == nil || len(n.Organizations)+len(n.URIPrefixes)+len(n.DNSSuffixes) == 0
}

// Contains reports whether a certificate with these names is inside n (see
// Namespace), and if not, the first name that is outside, or "" when the
// certificate carries no name n constrains.
func (n *Namespace) Contains(orgs, uris, dnsNames []string) (ok bool, outside string) {
	matched := false
	for _, kind := range []struct {
		names, allowed []string
		match          func(name, allowed string) bool
	}{
		{orgs, n.Organizations, func(a, b string) bool { return a == b }},
		{uris, n.URIPrefixes, strings.HasPrefix},
		{dnsNames, n.DNSSuffixes, dnsUnder},
	} {
		if len(kind.allowed) == 0 {
			continue
		}
		for _, name := range kind.names {
			if !anyMatch(name, kind.allowed, kind.match) {
				return false, name
			}
			matched = true
		}
	}
	return matched, ""
}

func anyMatch(name string, allowed []string, match func(string, string) bool) bool {
	for _, a := range allowed {
		if match(name, a) {
			return true
		}
	}
	return false
}

// dnsUnder reports whether DNS name is suffix or a name under it,
// ignoring case.
func dnsUnder(name, suffix string) bool {
	name, suffix = strings.ToLower(name), strings.ToLower(suffix)
	return name == suffix || strings.HasSuffix(name, "."+suffix)
}

// validate checks that every entry is usable.
func (n *Namespace) validate() error {
	for _, lists := range [][]string{n.Organizations, n.URIPrefixes, n.DNSSuffixes} {
		for _, s := range lists {
			if strings.TrimSpace(s) != s || s == "" {
				return fmt.Errorf("namespace entry %q is empty or has surrounding spaces", s)
			}
		}
	}
	for _, p := range n.URIPrefixes {
		if !strings.Contains(p, ":") {
			return fmt.Errorf("namespace URI prefix %q has no scheme", p)
		}
	}
	for _, d := range n.DNSSuffixes {
		if strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "*") {
			return fmt.Errorf("namespace DNS suffix %q: write it without leading or trailing dots or wildcards", d)
		}
	}
	return nil
}
