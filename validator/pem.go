package validator

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// MaxChain bounds the intermediates a transaction may carry: real chains
// have one or two.
const MaxChain = 8

var (
	pemBegin   = []byte("-----BEGIN ")
	whitespace = " \t\r\n"
)

// ParsePEM decodes a bundle of PEM CERTIFICATE blocks (RFC 7468 §5) into
// DER certificates, each valid for ParseDER. Only whitespace may surround
// the blocks: any other text, any other block type, PEM headers, no block
// at all, or more than maxCerts blocks is an error (rule "der"). maxCerts <= 0 means
// 1+MaxChain (a leaf and its longest chain).
func ParsePEM(data []byte, maxCerts int) ([][]byte, error) {
	if maxCerts <= 0 {
		maxCerts = 1 + MaxChain
	}
	var out [][]byte
	for rest := bytes.TrimLeft(data, whitespace); len(rest) > 0; rest = bytes.TrimLeft(rest, whitespace) {
		if len(out) == maxCerts {
			return nil, ruleErr(RuleDER, fmt.Sprintf("more than %d certificates", maxCerts))
		}
		der, next, err := nextPEM(rest, len(out))
		if err != nil {
			return nil, err
		}
		out, rest = append(out, der), next
	}
	if len(out) == 0 {
		return nil, ruleErr(RuleDER, "no PEM CERTIFICATE block")
	}
	return out, nil
}

// DecodePEM decodes exactly one PEM CERTIFICATE block, with the rules of
// ParsePEM, but leaves the DER unparsed: for a caller that checks the
// certificate next anyway (Check words a DER problem as rule "der" too).
func DecodePEM(data []byte) ([]byte, error) {
	der, rest, err := nextBlock(bytes.TrimLeft(data, whitespace), 0)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimLeft(rest, whitespace)) != 0 {
		return nil, ruleErr(RuleDER, "more than one PEM block, or text after it")
	}
	return der, nil
}

// nextPEM decodes and parses the block that data starts with.
func nextPEM(data []byte, i int) (der, rest []byte, err error) {
	der, rest, err = nextBlock(data, i)
	if err != nil {
		return nil, nil, err
	}
	if _, err := ParseDER(der); err != nil {
		re := err.(*RuleError) // ParseDER returns a fresh *RuleError
		re.Detail = fmt.Sprintf("PEM block %d: %s", i+1, re.Detail)
		return nil, nil, re
	}
	return der, rest, nil
}

// nextBlock decodes the block that data starts with.
func nextBlock(data []byte, i int) (der, rest []byte, err error) {
	bad := func(what string) error { return ruleErr(RuleDER, fmt.Sprintf("PEM block %d: %s", i+1, what)) }
	if !bytes.HasPrefix(data, pemBegin) {
		return nil, nil, bad("text that is not a PEM block")
	}
	block, rest := pem.Decode(data)
	// pem.Decode skips text it cannot decode up to the next BEGIN line; a
	// second BEGIN in what it consumed means it skipped a broken block.
	if block == nil || bytes.Count(data[:len(data)-len(rest)], pemBegin) != 1 {
		return nil, nil, bad("malformed PEM")
	}
	if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
		return nil, nil, bad(fmt.Sprintf("a %q block with %d headers, want a CERTIFICATE block without headers", block.Type, len(block.Headers)))
	}
	return block.Bytes, rest, nil
}

// SplitChain separates the chain of a bundle (ChainOf) from the
// certificates handed in, keeping order. What does not parse is a
// certificate handed in, to be rejected with its reason when published.
func SplitChain(ders [][]byte) (leaves, chain [][]byte) {
	certs := make([]*x509.Certificate, len(ders))
	for i, d := range ders {
		certs[i], _ = ParseDER(d)
	}
	for i, isChain := range ChainOf(certs) {
		if isChain {
			chain = append(chain, ders[i])
		} else {
			leaves = append(leaves, ders[i])
		}
	}
	return leaves, chain
}

// ChainOf reports, for each certificate of a bundle (nil: one that does
// not parse), whether it is chain: a CA certificate that issued another
// certificate of the bundle (Issued). Any other CA certificate is a
// certificate handed in, which rule "ca-cert" rejects: a CA certificate is
// never silently taken as chain when it chains nothing (`openssl req
// -x509` makes self-signed certificates with CA:TRUE).
func ChainOf(certs []*x509.Certificate) []bool {
	byIssuer := make(map[string][]*x509.Certificate)
	for _, c := range certs {
		if c != nil && !bytes.Equal(c.RawIssuer, c.RawSubject) {
			byIssuer[string(c.RawIssuer)] = append(byIssuer[string(c.RawIssuer)], c)
		}
	}
	out := make([]bool, len(certs))
	for i, ca := range certs {
		if ca == nil || !ca.IsCA {
			continue
		}
		for _, c := range byIssuer[string(ca.RawSubject)] {
			if c != ca && Issued(ca, c) {
				out[i] = true
				break
			}
		}
	}
	return out
}

// Issued reports whether c names ca as its issuer: c is not self-issued,
// its issuer is ca's subject, and where both carry key identifiers, c's
// authority key ID is ca's subject key ID (RFC 5280 §4.2.1.1). Signatures
// are not checked here: rule "chain" verifies them for what is published.
func Issued(ca, c *x509.Certificate) bool {
	if bytes.Equal(c.RawIssuer, c.RawSubject) || !bytes.Equal(c.RawIssuer, ca.RawSubject) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || len(ca.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId)
}
