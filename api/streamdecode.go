package api

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/certchain/certchain/validator"
)

// StreamItem is one line of an NDJSON publish stream
// (application/x-ndjson): a certificate and the intermediates that chain
// it, each one PEM certificate.
type StreamItem struct {
	Certificate string   `json:"certificate"`
	Chain       []string `json:"chain,omitempty"`
	// Signature is the submitter member's signature of the publish
	// transaction (certchain.Tx.SigningInput), base64; required on
	// networks whose policy requires signatures.
	Signature string `json:"signature,omitempty"`
}

// maxStreamLine bounds one NDJSON line or one PEM block of a stream: a
// certificate with the longest chain validator.MaxChain allows fits.
const maxStreamLine = 128 << 10

// streamItem is a decoded entry of a publish body or stream: one
// certificate of the input. err, when set, is why the entry cannot be
// published (it is answered as rejected; the rest goes on); asChain marks
// a CA certificate that chains others of the input (answered "chain",
// never published).
type streamItem struct {
	der     []byte
	chain   [][]byte
	sig     []byte
	err     error
	asChain bool
	cert    *x509.Certificate // of a PEM entry, parsed once for the chain decision
}

// size is the DER bytes the entry holds (its chain is shared in a PEM
// stream, counted anyway).
func (it *streamItem) size() int {
	n := len(it.der) + len(it.sig)
	for _, c := range it.chain {
		n += len(c)
	}
	return n
}

// itemReader reads the entries of a publish stream one at a time, in
// bounded memory. next returns io.EOF at the end, and another error when
// the stream itself is broken (it cannot be resynchronised).
type itemReader interface {
	next() (streamItem, error)
}

// newItemReader returns the reader for a stream of media type mt.
func newItemReader(mt string, r io.Reader) (itemReader, error) {
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/json-seq":
		return &ndjsonReader{r: bufio.NewReaderSize(r, maxStreamLine)}, nil
	case "", "application/x-pem-file", "application/pem-certificate-chain", "text/plain":
		return &pemStreamReader{blocks: newPEMBlocks(r)}, nil
	}
	return nil, &reasonError{kind: errMediaType, reason: "a publish stream is application/x-ndjson or application/x-pem-file, not " + mt}
}

// entryErr is why an entry of the input cannot be published, worded as
// the ledger words a rejection ("rule: detail").
func entryErr(rule, format string, args ...any) error {
	return &validator.RuleError{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// errLineTooLong: a line longer than maxStreamLine (readLine skipped the
// rest of it).
var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its end, or io.EOF. The rest of a
// line longer than maxStreamLine is read and dropped (bounded memory),
// and errLineTooLong returned for it.
func readLine(r *bufio.Reader, line *int) ([]byte, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		*line++
		return nil, errLineTooLong
	case errors.Is(err, io.EOF) && len(b) > 0:
		err = nil
	case err != nil:
		return nil, err
	}
	*line++
	return bytes.TrimRight(b, "\r\n"), nil
}

// ndjsonReader reads StreamItem lines; blank lines are skipped.
type ndjsonReader struct {
	r    *bufio.Reader
	line int
}

func (n *ndjsonReader) next() (streamItem, error) {
	for {
		b, err := readLine(n.r, &n.line)
		if errors.Is(err, errLineTooLong) {
			return streamItem{err: entryErr(validator.RuleDER, "line %d is longer than %d bytes", n.line, maxStreamLine)}, nil
		}
		if err != nil {
			return streamItem{}, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var it StreamItem
		if !decodeItemFast(b, &it) {
			it = StreamItem{}
			if err := decodeJSON(b, &it); err != nil {
				return streamItem{err: entryErr(validator.RuleDER, "line %d: %v", n.line, err)}, nil
			}
		}
		return decodeStreamItem(&it, n.line), nil
	}
}

// decodeStreamItem decodes the PEM of an item; the certificates are parsed
// once, by the precheck, which rejects bad DER as rule "der".
func decodeStreamItem(it *StreamItem, line int) streamItem {
	one := func(p string) ([]byte, error) { return validator.DecodePEM([]byte(p)) }
	var out streamItem
	if out.der, out.err = one(it.Certificate); out.err != nil {
		out.err = entryErr(validator.RuleDER, "line %d: certificate: %s", line, reasonOf(out.err))
		return out
	}
	if len(it.Chain) > validator.MaxChain {
		out.err = entryErr(validator.RuleChain, "line %d: %d intermediates, at most %d", line, len(it.Chain), validator.MaxChain)
		return out
	}
	for i, p := range it.Chain {
		der, err := one(p)
		if err != nil {
			out.err = entryErr(validator.RuleDER, "line %d: chain entry %d: %s", line, i, reasonOf(err))
			return out
		}
		out.chain = append(out.chain, der)
	}
	if it.Signature != "" {
		if out.sig, out.err = base64.StdEncoding.DecodeString(it.Signature); out.err != nil {
			out.err = entryErr(validator.RuleSignature, "line %d: signature is not base64", line)
		}
	}
	return out
}

// reasonOf is the detail of a validator rule error (its reason without
// the rule), or err's text.
func reasonOf(err error) string {
	if re, ok := errors.AsType[*validator.RuleError](err); ok {
		return re.Detail
	}
	return err.Error()
}

// pemStreamReader reads the entries of a PEM stream. Every block is an
// entry. A CA certificate immediately followed by a certificate it issued
// (validator.Issued) is chain: it and the chain certificates right before
// it chain the certificates after them, up to the next chain. Any other CA
// certificate is a certificate handed in (rule "ca-cert" rejects it).
// Deciding needs one block of look-ahead, never the whole stream.
type pemStreamReader struct {
	blocks  *pemBlocks
	chain   [][]byte // what the certificates after the last chain get
	inChain bool     // the last entry was chain
	ahead   *aheadItem
}

type aheadItem struct {
	it  streamItem
	err error
}

func (p *pemStreamReader) next() (it streamItem, err error) {
	it, err = p.take()
	defer func() { it.cert = nil }() // decided: let it go with the entry
	if err != nil || it.err != nil || !it.cert.IsCA {
		p.inChain = false
		it.chain = chainFor(it.cert, p.chain)
		return it, err
	}
	p.ahead = &aheadItem{}
	p.ahead.it, p.ahead.err = p.blocks.entry()
	if next := p.ahead.it.cert; p.ahead.err == nil && next != nil && validator.Issued(it.cert, next) {
		if !p.inChain {
			p.chain, p.inChain = nil, true
		}
		if len(p.chain) < validator.MaxChain {
			p.chain = append(p.chain, it.der)
			it.asChain = true
			return it, nil
		}
		it.err = entryErr(validator.RuleChain, "more than %d chain certificates in a row", validator.MaxChain)
		return it, nil
	}
	p.inChain = false
	it.chain = chainFor(it.cert, p.chain)
	return it, nil
}

// take returns the entry read ahead, else the next one.
func (p *pemStreamReader) take() (streamItem, error) {
	if a := p.ahead; a != nil {
		p.ahead = nil
		return a.it, a.err
	}
	return p.blocks.entry()
}

// pemBlocks reads PEM blocks one at a time in bounded memory, each from
// its BEGIN line to its END line. Every BEGIN line starts an entry, so
// nothing handed in vanishes: a block that does not decode to one
// parsable certificate, is not ended before the next BEGIN line or the
// end of the input, or is longer than maxStreamLine is an entry rejected
// with rule "der". Only whitespace may lie between blocks; other text
// breaks the input (its entries cannot be told apart).
type pemBlocks struct {
	r       *bufio.Reader
	line    int
	pending []byte // a BEGIN line that ended the block before
	block   bytes.Buffer
}

func newPEMBlocks(r io.Reader) *pemBlocks {
	return &pemBlocks{r: bufio.NewReaderSize(r, maxStreamLine)}
}

var (
	pemBeginLine = []byte("-----BEGIN ")
	pemEndLine   = []byte("-----END ")
)

// entry returns the next block as an entry: its certificate, parsed, or
// why it is none.
func (p *pemBlocks) entry() (streamItem, error) {
	text, bad, err := p.nextBlock()
	if err != nil {
		return streamItem{}, err
	}
	end := p.line
	if bad != "" {
		return streamItem{err: entryErr(validator.RuleDER, "PEM block ending on line %d: %s", end, bad)}, nil
	}
	der, err := validator.DecodePEM(text)
	if err != nil {
		return streamItem{err: entryErr(validator.RuleDER, "PEM block ending on line %d: %s", end, strings.TrimPrefix(reasonOf(err), "PEM block 1: "))}, nil
	}
	c, err := validator.ParseDER(der)
	if err != nil {
		return streamItem{der: der, err: entryErr(validator.RuleDER, "PEM block ending on line %d: %s", end, reasonOf(err))}, nil
	}
	return streamItem{der: der, cert: c}, nil
}

// nextBlock returns the text of the next block, BEGIN to END lines, or
// why the block is malformed (bad); err breaks the input.
func (p *pemBlocks) nextBlock() (text []byte, bad string, err error) {
	p.block.Reset()
	first, err := p.firstLine()
	if err != nil {
		return nil, "", err
	}
	p.block.Write(first)
	p.block.WriteByte('\n')
	for {
		b, err := readLine(p.r, &p.line)
		switch {
		case errors.Is(err, io.EOF):
			return nil, "not ended before the end of the input", nil
		case errors.Is(err, errLineTooLong):
			return p.skip(fmt.Sprintf("line %d is longer than %d bytes", p.line, maxStreamLine))
		case err != nil:
			return nil, "", err
		case bytes.HasPrefix(bytes.TrimSpace(b), pemBeginLine):
			p.pending = b
			p.line--
			return nil, "not ended before the next BEGIN line", nil
		case p.block.Len()+len(b) >= maxStreamLine:
			return p.skip(fmt.Sprintf("longer than %d bytes", maxStreamLine))
		}
		p.block.Write(b)
		p.block.WriteByte('\n')
		if bytes.HasPrefix(bytes.TrimSpace(b), pemEndLine) {
			return p.block.Bytes(), "", nil
		}
	}
}

// firstLine returns the BEGIN line of the next block, skipping blank
// lines; io.EOF at the end of the input.
func (p *pemBlocks) firstLine() ([]byte, error) {
	if b := p.pending; b != nil {
		p.pending = nil
		p.line++
		return b, nil
	}
	for {
		b, err := readLine(p.r, &p.line)
		if errors.Is(err, errLineTooLong) {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes and not part of a PEM block", errTooLarge, p.line, maxStreamLine)
		}
		if err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if !bytes.HasPrefix(t, pemBeginLine) {
				return nil, entryErr(validator.RuleDER, "line %d is text that is not a PEM block", p.line)
			}
			return b, nil
		}
	}
}

// skip drops the rest of an oversized block, up to its END line (or the
// next BEGIN line, or the end), and returns why it is rejected.
func (p *pemBlocks) skip(why string) (text []byte, bad string, err error) {
	for {
		b, err := readLine(p.r, &p.line)
		switch {
		case errors.Is(err, io.EOF):
			return nil, why, nil
		case errors.Is(err, errLineTooLong):
			continue
		case err != nil:
			return nil, "", err
		case bytes.HasPrefix(bytes.TrimSpace(b), pemBeginLine):
			p.pending = b
			p.line--
			return nil, why, nil
		case bytes.HasPrefix(bytes.TrimSpace(b), pemEndLine):
			return nil, why, nil
		}
	}
}

// decodeItemFast decodes the usual shape of a stream line without
// reflection: one object whose members are "certificate" and optionally
// "signature", each once, as strings of the form scanFlat takes (what JSON
// encoders write for PEM and base64). It reports false for anything else,
// and the caller decodes the line with encoding/json, which decides; where
// it reports true, the item is what encoding/json would decode
// (FuzzDecodeItemFast checks that). At tens of thousands of lines a
// second, this halves the stream's decoding cost.
func decodeItemFast(b []byte, it *StreamItem) bool {
	var seenCert, seenSig bool
	return scanFlat(b, func(key string, v flatValue) bool {
		switch {
		case v.kind != 's':
			return false
		case key == "certificate" && !seenCert:
			it.Certificate, seenCert = v.str, true
		case key == "signature" && !seenSig:
			it.Signature, seenSig = v.str, true
		default:
			return false
		}
		return true
	}) && seenCert
}

// DecodeStreamLine decodes one line of a publish stream's answer. Result
// lines, tens of thousands a second, are read without reflection where
// they have the form the node writes (decodeResultFast); anything else
// goes to encoding/json, to the same value (FuzzDecodeStreamLine checks
// that).
func DecodeStreamLine(b []byte, line *StreamLine) error {
	var r StreamResult
	if decodeResultFast(b, &r) {
		*line = StreamLine{StreamResult: r}
		return nil
	}
	*line = StreamLine{}
	return json.Unmarshal(b, line)
}

// decodeResultFast decodes a result line whose members are resultKeys,
// each at most once, with values of the form scanFlat takes.
func decodeResultFast(b []byte, r *StreamResult) bool {
	var seen uint16
	return scanFlat(b, func(key string, v flatValue) bool {
		k := slices.Index(resultKeys[:], key)
		if k < 0 || seen&(1<<k) != 0 {
			return false // unknown, or repeated (encoding/json keeps the last)
		}
		seen |= 1 << k
		switch {
		case key == "index" && v.kind == 'n':
			r.Index = int(v.num)
		case key == "height" && v.kind == 'n':
			r.Height = uint64(v.num)
		case key == "already_published" && (v.kind == 't' || v.kind == 'f'):
			r.AlreadyPublished = v.kind == 't'
		case v.kind != 's' || key == "index" || key == "height" || key == "already_published":
			return false
		case key == "id":
			r.ID = v.str
		case key == "serial":
			r.Serial = v.str
		case key == "state":
			r.State = v.str
		case key == "reason":
			r.Reason = v.str
		case key == "tx":
			r.Tx = v.str
		}
		return true
	})
}

// resultKeys are the members of a result line.
var resultKeys = [...]string{"index", "height", "already_published", "id", "serial", "state", "reason", "tx"}

// flatValue is a member value scanFlat admits: a string ('s'), an integer
// ('n') or a boolean ('t', 'f').
type flatValue struct {
	kind byte
	str  string
	num  int64
}

// scanFlat calls member for each member of the JSON object b, in order,
// for the plainest form only: no nesting or null, integers of up to 18
// digits, and strings of printable ASCII whose only escapes are
// \n \r \t \/ \" \\. It returns false where b is anything else or member
// returns false; the caller then decodes b with encoding/json.
func scanFlat(b []byte, member func(key string, v flatValue) bool) bool {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	for i = skipSpace(b, i+1); ; {
		key, next, ok := fastString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i == len(b) || b[i] != ':' {
			return false
		}
		v, next, ok := flatMember(b, skipSpace(b, i+1))
		if !ok || !member(key, v) {
			return false
		}
		i = skipSpace(b, next)
		if i == len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case '}':
			return skipSpace(b, i+1) == len(b)
		}
		return false
	}
}

// flatMember reads the value at b[i] for scanFlat.
func flatMember(b []byte, i int) (flatValue, int, bool) {
	switch {
	case i >= len(b):
		return flatValue{}, 0, false
	case b[i] == '"':
		s, next, ok := fastString(b, i)
		return flatValue{kind: 's', str: s}, next, ok
	case bytes.HasPrefix(b[i:], []byte("true")):
		return flatValue{kind: 't'}, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return flatValue{kind: 'f'}, i + 5, true
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i || j-i > 18 || (b[i] == '0' && j-i > 1) {
		return flatValue{}, 0, false
	}
	n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	return flatValue{kind: 'n', num: n}, j, err == nil
}

// skipSpace returns the index of the first non-whitespace byte of b at or
// after i (JSON whitespace).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// fastString decodes the JSON string starting at b[i] for decodeItemFast,
// returning its value and the index after its closing quote; ok is false
// where it is not a string of that restricted form.
func fastString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	i++
	start, escaped := i, false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			if !escaped {
				return string(b[start:i]), i + 1, true
			}
			return unescapeFast(b[start:i]), i + 1, true
		case c == '\\':
			if i+1 == len(b) || !strings.ContainsRune(`nrt/"\`, rune(b[i+1])) {
				return "", 0, false
			}
			escaped = true
			i++
		case c < 0x20 || c > 0x7e:
			return "", 0, false
		}
	}
	return "", 0, false
}

// unescapeFast resolves the escapes fastString admits.
func unescapeFast(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' {
			i++
			switch c = b[i]; c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
		}
		out = append(out, c)
	}
	return string(out)
}
