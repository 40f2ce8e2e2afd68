package validator

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"unicode/utf8"
)

// checkNetworkID is rule "network-id", certchain's own private extension
// (RFC 5280 §4.2: "Private communities may define other extensions"):
// OID Options.NetworkIDOID, non-critical, value a DER UTF8String
// (X.690 §8.23, RFC 5280 §4.1.2.4 for its use in certificates) equal to
// Options.NetworkID. It binds a self-signed certificate to one consortium,
// so a certificate made for another network cannot be replayed here.
//
// A self-signed certificate must carry it. A CA-signed one need not (its CA
// vouches for it), but if it does the value must be right: a certificate
// that names another network is refused wherever it comes from.
func checkNetworkID(in *input) error {
	oid := in.opts.networkIDOID()
	ext, ok := findExtension(in.cert, oid)
	switch {
	case !ok && in.selfIssued:
		return ruleErr(RuleNetworkID, fmt.Sprintf("missing: a self-signed certificate must carry extension %s with value %q", oid, in.opts.NetworkID))
	case !ok:
		return nil
	case ext.Critical:
		return ruleErr(RuleNetworkID, fmt.Sprintf("extension %s is marked critical; it must be non-critical", oid))
	}
	v, err := utf8String(ext.Value)
	if err != nil {
		return &RuleError{Rule: RuleNetworkID, Detail: fmt.Sprintf("extension %s value is not a DER UTF8String", oid), Cause: err}
	}
	if v != in.opts.NetworkID {
		return ruleErr(RuleNetworkID, fmt.Sprintf("wrong value %s: this network is %q", quoteShort(v), in.opts.NetworkID))
	}
	return nil
}

func findExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

// utf8String decodes exactly one DER UTF8String.
func utf8String(der []byte) (string, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	switch {
	case err != nil:
		return "", err
	case len(rest) != 0:
		return "", fmt.Errorf("%d bytes after the string", len(rest))
	case v.Class != asn1.ClassUniversal || v.Tag != asn1.TagUTF8String || v.IsCompound:
		return "", fmt.Errorf("ASN.1 class %d tag %d, want UTF8String", v.Class, v.Tag)
	case !utf8.Valid(v.Bytes):
		return "", fmt.Errorf("invalid UTF-8")
	}
	return string(v.Bytes), nil
}

// quoteShort quotes s, cut to 64 bytes: verdict reasons stay short.
func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
