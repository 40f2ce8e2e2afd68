package acme

import (
	"net/netip"
	"strconv"
	"strings"
)

// Identifier is an ACME identifier (RFC 8555 §9.7.7): type "dns" or "ip".
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Identifier types: domain names (RFC 8555) and IP addresses (RFC 8738).
const (
	IdentifierDNS = "dns"
	IdentifierIP  = "ip"
)

// String returns "type:value".
func (id Identifier) String() string { return id.Type + ":" + id.Value }

// target is what a validation connects to for ident.
type target struct {
	// host is the DNS name as the client spelled it (validations send it
	// as the HTTP Host and the TLS server name, as the client expects) or
	// the canonical text of the address.
	host string
	ip   netip.Addr // set for ip identifiers
}

// key is ident's canonical "type:value", where t is checkIdentifier's
// answer for it: a DNS name in lower case (a wildcard's "*." kept), an
// address in its RFC 5952 or dotted-decimal text. Two spellings of one
// identifier share their key; identifiers are compared by it, while
// orders and authorizations keep the spelling the client sent.
func (t target) key(ident Identifier) string {
	if ident.Type == IdentifierIP {
		return ident.Type + ":" + t.host
	}
	name := t.name()
	if strings.HasPrefix(ident.Value, "*.") {
		name = "*." + name
	}
	return ident.Type + ":" + name
}

// name is the DNS name in lower case, to compare (RFC 4343).
func (t target) name() string { return strings.ToLower(t.host) }

// identifierKey is ident's canonical key (target.key), or the problem
// with ident.
func identifierKey(ident Identifier) (string, error) {
	t, err := checkIdentifier(ident, true)
	if err != nil {
		return "", err
	}
	return t.key(ident), nil
}

// checkIdentifier checks ident is a well-formed dns or ip identifier that
// is safe to put into a URL and a TLS server name. wildcard allows a
// leading "*." on a dns identifier (dns-01 only).
func checkIdentifier(ident Identifier, wildcard bool) (target, error) {
	switch ident.Type {
	case IdentifierIP:
		ip, err := netip.ParseAddr(ident.Value)
		if err != nil || ip.Zone() != "" {
			return target{}, ErrMalformed.Errorf("invalid ip identifier %q", ident.Value)
		}
		ip = ip.Unmap()
		return target{host: ip.String(), ip: ip}, nil
	case IdentifierDNS:
		name := ident.Value
		if wildcard {
			name = strings.TrimPrefix(name, "*.")
		}
		if !isDNSName(name) {
			return target{}, ErrMalformed.Errorf("invalid dns identifier %q", ident.Value)
		}
		return target{host: name}, nil
	}
	return target{}, ErrUnsupportedIdentifier.Errorf("unsupported identifier type %q", ident.Type)
}

// isDNSName reports whether s is a hostname of LDH labels, without a
// trailing dot, that is not an IP address.
func isDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// reverseName returns the in-addr.arpa or ip6.arpa name of ip, the TLS
// server name for an ip identifier (RFC 8738 §6).
func reverseName(ip netip.Addr) string {
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])) + ".")
		}
		return b.String() + "in-addr.arpa"
	}
	const hex = "0123456789abcdef"
	a := ip.As16()
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	return b.String() + "ip6.arpa"
}
