package validator

import (
	"bytes"
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

// SplitChain separates CA certificates (the intermediates that chain the
// others) from the end-entity certificates, keeping order. What does not
// parse counts as an end entity, to be rejected with its reason when
// published.
func SplitChain(ders [][]byte) (leaves, chain [][]byte) {
	for _, d := range ders {
		if c, err := ParseDER(d); err == nil && c.IsCA {
			chain = append(chain, d)
		} else {
			leaves = append(leaves, d)
		}
	}
	return leaves, chain
}
