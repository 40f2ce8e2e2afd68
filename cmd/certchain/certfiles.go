package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// Rules of the entries the CLI refuses itself, besides validator's "der"
// (malformed PEM or DER): they are never sent.
const (
	ruleUnreadable = "unreadable"      // the file cannot be read
	ruleNotCert    = "not-certificate" // a PEM block that is no certificate (a key, a CSR)
	ruleNoAnswer   = "no-answer"       // sent, and the node never answered
)

// item is one entry of the certificates handed to a command: a
// certificate (der, parsed as cert, with the CA certificates of its file
// that chain it) or something in a certificate file that is not a usable
// certificate (err, a *validator.RuleError naming the rule). Every entry
// is accounted for: published, already on the ledger or rejected.
type item struct {
	path  string
	id    string // a certificate named by its ID (status): no der
	der   []byte
	cert  *x509.Certificate
	chain [][]byte
	err   error
}

// certID is the ID of the entry's certificate.
func (it item) certID() string {
	if it.der != nil {
		return certchain.Sum(it.der).String()
	}
	return it.id
}

func badItem(path, rule, detail string) item {
	return item{path: path, err: &validator.RuleError{Rule: rule, Detail: detail}}
}

// isCertFile says which files of a directory are read as certificates.
// A file named on the command line is read whatever its name.
func isCertFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pem", ".crt", ".cer", ".der":
		return true
	}
	return false
}

// walkCerts sends the entries of the files under paths to out, file by
// file (constant memory for a directory of any size), and closes out.
// perFile, if set, learns how many entries each file held.
func walkCerts(ctx context.Context, paths []string, out chan<- item, perFile func(n int)) {
	defer close(out)
	for _, root := range paths {
		if walkRoot(ctx, root, out, perFile) != nil {
			return
		}
	}
}

// walkRoot sends the entries of the files under root to out.
func walkRoot(ctx context.Context, root string, out chan<- item, perFile func(n int)) error {
	return walkFiles(root, func(path string, err error) error {
		var items []item
		if err != nil {
			items = []item{badItem(path, ruleUnreadable, err.Error())}
		} else {
			items = readCertFile(path)
		}
		if perFile != nil {
			perFile(len(items))
		}
		for _, it := range items {
			select {
			case out <- it:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
}

// walkFiles calls fn for root, when it is not a directory, or for each
// certificate file under it, with the error met reaching it.
func walkFiles(root string, fn func(path string, err error) error) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return errors.Join(fn(path, err), skipDir(d))
		case d.IsDir():
			return nil
		case path != root && !isCertFile(path):
			return nil
		}
		return fn(path, nil)
	})
}

// skipDir goes on past an unreadable directory (its error is reported).
func skipDir(d fs.DirEntry) error {
	if d != nil && d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

// countCertFiles counts the certificate files under paths (the progress
// bar's first total; files holding several certificates make it grow).
func countCertFiles(paths []string) int {
	n := 0
	for _, root := range paths {
		_ = walkFiles(root, func(string, error) error { n++; return nil })
	}
	return n
}

// readCertFile returns the entries of one file, in order: PEM (any text
// around the blocks is skipped) or, without a PEM block, one DER
// certificate. A CA certificate that issued another certificate of the
// file is its chain, not an entry of its own; any other block or
// certificate is one entry.
func readCertFile(path string) []item {
	b, err := os.ReadFile(path)
	if err != nil {
		return []item{badItem(path, ruleUnreadable, err.Error())}
	}
	return certEntries(path, b)
}

// certEntries are the entries of file path, which holds b.
func certEntries(path string, b []byte) []item {
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return []item{badItem(path, validator.RuleDER, "empty file")}
	case !bytes.Contains(b, pemBegin) && strings.EqualFold(filepath.Ext(path), ".pem"):
		return []item{badItem(path, validator.RuleDER, "no PEM block")}
	case !bytes.Contains(b, pemBegin):
		return []item{certItem(path, b, "DER")}
	}
	return splitChain(pemItems(path, b))
}

var pemBegin = []byte("-----BEGIN ")

// pemItems decodes every PEM block of b, and reports a block it cannot
// decode rather than skip it.
func pemItems(path string, b []byte) []item {
	var out []item
	for n := 1; ; n++ {
		i := bytes.Index(b, pemBegin)
		if i < 0 {
			return out
		}
		b = b[i:]
		block, rest := pem.Decode(b)
		// pem.Decode skips what it cannot decode up to the next BEGIN line,
		// so a BEGIN in what it consumed after the first is a broken block.
		if block == nil || bytes.Count(b[:len(b)-len(rest)], pemBegin) > 1 {
			out = append(out, badItem(path, validator.RuleDER, fmt.Sprintf("PEM block %d: malformed PEM", n)))
			b = b[len(pemBegin):] // resynchronise at the next BEGIN line
			continue
		}
		out, b = append(out, blockItem(path, block, n)), rest
	}
}

func blockItem(path string, block *pem.Block, n int) item {
	if block.Type != "CERTIFICATE" {
		what := fmt.Sprintf("PEM block %d is a %s, not a CERTIFICATE", n, block.Type)
		if strings.Contains(block.Type, "PRIVATE KEY") {
			what += " (never sent)"
		}
		return badItem(path, ruleNotCert, what)
	}
	return certItem(path, block.Bytes, fmt.Sprintf("PEM block %d", n))
}

// certItem parses der as the validator does, so that what fails here is
// reported in the node's words.
func certItem(path string, der []byte, where string) item {
	c, err := validator.ParseDER(der)
	var re *validator.RuleError
	if errors.As(err, &re) {
		return badItem(path, re.Rule, where+": "+re.Detail)
	}
	if err != nil {
		return badItem(path, validator.RuleDER, where+": "+err.Error())
	}
	return item{path: path, der: der, cert: c}
}

// splitChain takes out of items the CA certificates that issued another
// certificate of the file (validator.ChainOf, the rule the node applies to
// a bundle): they chain the others. Each certificate gets the path up to
// its root among them. A CA certificate that issued none stays an entry
// (the node rejects it: rule ca-cert).
func splitChain(items []item) []item {
	certs := make([]*x509.Certificate, len(items))
	for i, it := range items {
		certs[i] = it.cert
	}
	var cas, out []item
	for i, isChain := range validator.ChainOf(certs) {
		if isChain {
			cas = append(cas, items[i])
		} else {
			out = append(out, items[i])
		}
	}
	for i := range out {
		if out[i].cert != nil {
			out[i].chain = chainOf(out[i].cert, cas)
		}
	}
	return out
}

// chainOf is c's issuer among cas, its issuer's issuer, and so on.
func chainOf(c *x509.Certificate, cas []item) [][]byte {
	var chain [][]byte
	for len(chain) < validator.MaxChain {
		next := slices.IndexFunc(cas, func(ca item) bool { return ca.cert != c && validator.Issued(ca.cert, c) })
		if next < 0 || slices.ContainsFunc(chain, func(d []byte) bool { return bytes.Equal(d, cas[next].der) }) {
			break
		}
		chain = append(chain, cas[next].der)
		c = cas[next].cert
	}
	return chain
}
