package api

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/certchain/certchain/certchain"
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

// streamItem is a decoded stream entry. err, when set, is why the entry
// cannot be published (it is answered as rejected; the stream goes on).
type streamItem struct {
	der   []byte
	chain [][]byte
	sig   []byte
	err   error
}

// itemReader reads the entries of a publish stream one at a time, in
// bounded memory. next returns io.EOF at the end, and another error when
// the stream itself is broken (it cannot be resynchronised).
type itemReader interface {
	next() (streamItem, error)
}

// newItemReader returns the reader for a stream of media type mt.
func newItemReader(mt string, r io.Reader) (itemReader, error) {
	br := bufio.NewReaderSize(r, maxStreamLine)
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/json-seq":
		return &ndjsonReader{r: br}, nil
	case "", "application/x-pem-file", "application/pem-certificate-chain", "text/plain":
		return &pemStreamReader{r: br}, nil
	}
	return nil, &reasonError{kind: errMediaType, reason: "a publish stream is application/x-ndjson or application/x-pem-file, not " + mt}
}

// readLine returns the next line without its end, or io.EOF. A line
// longer than maxStreamLine breaks the stream.
func readLine(r *bufio.Reader, line *int) ([]byte, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: line %d is longer than %d bytes", certchain.ErrInvalid, *line+1, maxStreamLine)
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
				return streamItem{err: fmt.Errorf("line %d: %w", n.line, err)}, nil
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
		out.err = fmt.Errorf("line %d: certificate: %w", line, out.err)
		return out
	}
	if len(it.Chain) > validator.MaxChain {
		out.err = fmt.Errorf("%w: line %d: %d intermediates, at most %d", certchain.ErrInvalid, line, len(it.Chain), validator.MaxChain)
		return out
	}
	for i, p := range it.Chain {
		der, err := one(p)
		if err != nil {
			out.err = fmt.Errorf("line %d: chain entry %d: %w", line, i, err)
			return out
		}
		out.chain = append(out.chain, der)
	}
	if it.Signature != "" {
		if out.sig, out.err = base64.StdEncoding.DecodeString(it.Signature); out.err != nil {
			out.err = fmt.Errorf("%w: line %d: signature is not base64", certchain.ErrInvalid, line)
		}
	}
	return out
}

// pemStreamReader reads PEM CERTIFICATE blocks. As in a PEM publish body,
// CA certificates are intermediates: they chain the end-entity
// certificates that follow them and get no result of their own. Only
// whitespace may lie between blocks.
type pemStreamReader struct {
	r     *bufio.Reader
	line  int
	chain [][]byte
	block bytes.Buffer
}

var (
	pemBeginLine = []byte("-----BEGIN ")
	pemEndLine   = []byte("-----END ")
)

func (p *pemStreamReader) next() (streamItem, error) {
	for {
		der, err := p.nextBlock()
		if err != nil {
			return streamItem{}, err
		}
		ders, err := validator.ParsePEM(der, 1)
		if err != nil {
			return streamItem{err: fmt.Errorf("block ending on line %d: %w", p.line, err)}, nil
		}
		if c, err := validator.ParseDER(ders[0]); err == nil && c.IsCA {
			if len(p.chain) == validator.MaxChain {
				return streamItem{}, fmt.Errorf("%w: more than %d CA certificates in the stream", certchain.ErrInvalid, validator.MaxChain)
			}
			p.chain = append(p.chain, ders[0])
			continue
		}
		return streamItem{der: ders[0], chain: p.chain}, nil
	}
}

// nextBlock returns the text of the next PEM block, BEGIN to END lines.
func (p *pemStreamReader) nextBlock() ([]byte, error) {
	p.block.Reset()
	for {
		b, err := readLine(p.r, &p.line)
		if errors.Is(err, io.EOF) && p.block.Len() > 0 {
			return nil, fmt.Errorf("%w: PEM block not ended at line %d", certchain.ErrInvalid, p.line)
		}
		if err != nil {
			return nil, err
		}
		if p.block.Len() == 0 {
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			if !bytes.HasPrefix(bytes.TrimSpace(b), pemBeginLine) {
				return nil, fmt.Errorf("%w: line %d is text that is not a PEM block", certchain.ErrInvalid, p.line)
			}
		}
		if p.block.Len()+len(b) > maxStreamLine {
			return nil, fmt.Errorf("%w: PEM block ending after line %d is longer than %d bytes", certchain.ErrInvalid, p.line, maxStreamLine)
		}
		p.block.Write(b)
		p.block.WriteByte('\n')
		if bytes.HasPrefix(bytes.TrimSpace(b), pemEndLine) {
			return p.block.Bytes(), nil
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
