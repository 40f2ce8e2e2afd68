package ocsp

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
)

// maxRepairLine bounds a request or header line the repairing connection
// holds back; a longer one is passed on untouched, and so is the rest of
// the connection. It is above what GET paths carry (MaxRequest in base64,
// escaped: 3 * 4/3 * 8 KiB).
const maxRepairLine = 64 << 10

// RepairListener wraps a plain-HTTP listener so that OCSP GET requests
// whose path net/http refuses to parse still reach the Responder, which
// answers malformedRequest as an OCSP response: net/http answers a
// request line whose target holds a bad percent-escape ("/ocsp/%%") or a
// control character, and an HTTP/1.1 request without Host, with a
// plain-text 400 before any handler runs. For request lines whose path
// starts with /ocsp, each connection escapes such bytes as %25 or %XX (the
// base64 then fails to decode, as it must) and adds an empty Host header
// where an HTTP/1.1 request has none. Nothing else changes: the
// connection follows HTTP/1.x framing (request line, headers, a
// Content-Length body) and, at anything it does not follow exactly
// (chunked bodies, CONNECT, obs-fold, a line over 64 KiB, a malformed
// request line), passes the rest of the connection through untouched.
//
// It works on plaintext only: on a TLS listener the bytes it would
// repair are encrypted, and wrapping the *tls.Conn would hide the client
// certificate from net/http.
func RepairListener(ln net.Listener) net.Listener { return repairListener{ln} }

type repairListener struct{ net.Listener }

func (l repairListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &repairConn{Conn: c}, nil
}

// repairState is where a repairConn is in the HTTP/1.x byte stream.
type repairState uint8

const (
	atRequestLine repairState = iota
	inHeaders
	inBody
	passing // everything from here on is passed through untouched
)

// repairConn is a connection whose reads are request-line-repaired (see
// RepairListener). Only the reading goroutine of net/http touches it.
type repairConn struct {
	net.Conn
	r       repairer
	buf     []byte
	readErr error
}

// Read returns repaired bytes: held-back lines come out once complete;
// bodies and passed-through bytes are read straight into p.
func (c *repairConn) Read(p []byte) (int, error) {
	for len(c.r.out) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		if c.r.direct() {
			n, err := c.Conn.Read(p)
			c.r.consumed(n)
			return n, err
		}
		if c.buf == nil {
			c.buf = make([]byte, 4096)
		}
		n, err := c.Conn.Read(c.buf)
		c.r.feed(c.buf[:n])
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) && len(c.r.out) == 0:
			// A deadline is not the end: net/http aborts its background
			// read of an idle keep-alive connection with one, then reads
			// the next request from the same connection.
			return 0, err
		case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
			c.readErr = err
			c.r.flush()
		}
	}
	n := copy(p, c.r.out)
	c.r.out = c.r.out[n:]
	if len(c.r.out) == 0 {
		c.r.out = c.r.out[:0:0]
	}
	return n, nil
}

// repairer is the byte-stream state machine of a repairConn, apart from
// the connection so that it can be fuzzed.
type repairer struct {
	state   repairState
	line    []byte // the request or header line being held back
	out     []byte // repaired bytes ready to be read
	left    int64  // body bytes left (inBody)
	ocsp11  bool   // the request is an HTTP/1.1 request for /ocsp
	host    bool   // it has a Host header
	length  int64  // its Content-Length, -1 if none
	chunked bool   // it has a Transfer-Encoding
}

// direct reports whether the next bytes pass through as they are read.
func (r *repairer) direct() bool { return r.state == passing || r.state == inBody }

// consumed accounts for n bytes read directly.
func (r *repairer) consumed(n int) {
	if r.state != inBody {
		return
	}
	if r.left -= int64(n); r.left <= 0 {
		r.state = atRequestLine
	}
}

// feed takes bytes from the connection.
func (r *repairer) feed(b []byte) {
	for len(b) > 0 {
		if r.direct() {
			n := len(b)
			if r.state == inBody {
				n = int(min(int64(n), r.left))
			}
			r.out = append(r.out, b[:n]...)
			r.consumed(n)
			b = b[n:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			r.line = append(r.line, b...)
			if len(r.line) > maxRepairLine {
				r.pass()
			}
			return
		}
		r.line = append(r.line, b[:i+1]...)
		b = b[i+1:]
		line := r.line
		r.line = r.line[:0]
		if r.state == atRequestLine {
			r.requestLine(line)
		} else {
			r.header(line)
		}
	}
}

// flush passes on a line held back when the connection ends.
func (r *repairer) flush() { r.pass() }

// pass gives up following the stream: what is held back and everything
// after it passes through untouched.
func (r *repairer) pass() {
	r.out = append(r.out, r.line...)
	r.line = nil
	r.state = passing
}

// requestLine repairs and passes on a request line (with its line end).
func (r *repairer) requestLine(line []byte) {
	text := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	parts := bytes.Split(text, []byte(" "))
	if len(parts) != 3 || string(parts[0]) == "CONNECT" || len(parts[1]) == 0 ||
		(string(parts[2]) != "HTTP/1.1" && string(parts[2]) != "HTTP/1.0") {
		r.out = append(r.out, line...)
		r.state = passing
		return
	}
	target := parts[1]
	isOCSP := bytes.Equal(target, []byte("/ocsp")) || bytes.HasPrefix(target, []byte("/ocsp/")) || bytes.HasPrefix(target, []byte("/ocsp?"))
	if isOCSP {
		target = repairTarget(target)
	}
	r.out = append(append(append(append(append(r.out, parts[0]...), ' '), target...), ' '), parts[2]...)
	r.out = append(r.out, line[len(text):]...)
	r.state, r.length, r.chunked, r.host = inHeaders, -1, false, false
	r.ocsp11 = isOCSP && string(parts[2]) == "HTTP/1.1"
}

// repairTarget escapes what url.ParseRequestURI refuses in a path: a "%"
// not followed by two hex digits, and control characters.
func repairTarget(t []byte) []byte {
	var out []byte
	for i, c := range t {
		bad := c < 0x20 || c == 0x7f || (c == '%' && (i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2])))
		if bad && out == nil {
			out = append(make([]byte, 0, len(t)+8), t[:i]...)
		}
		switch {
		case bad:
			out = append(out, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		case out != nil:
			out = append(out, c)
		}
	}
	if out == nil {
		return t
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// header passes on a header line, noting the framing headers; the empty
// line ends the headers.
func (r *repairer) header(line []byte) {
	text := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(text) == 0 {
		r.endHeaders(line)
		return
	}
	name, value, ok := bytes.Cut(text, []byte(":"))
	switch {
	case !ok || text[0] == ' ' || text[0] == '\t': // obs-fold or garbage: net/http's business
		r.pass()
		r.out = append(r.out, line...)
		return
	case bytes.EqualFold(name, []byte("Host")):
		r.host = true
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		r.chunked = true
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseInt(string(bytes.Trim(value, " \t")), 10, 63)
		if err != nil || (r.length >= 0 && n != r.length) {
			r.pass()
			r.out = append(r.out, line...)
			return
		}
		r.length = n
	}
	r.out = append(r.out, line...)
}

// endHeaders passes on the empty line (after an empty Host header for an
// HTTP/1.1 OCSP request without one) and sets up the body.
func (r *repairer) endHeaders(line []byte) {
	if r.ocsp11 && !r.host {
		r.out = append(r.out, "Host: \r\n"...)
	}
	r.out = append(r.out, line...)
	switch {
	case r.chunked:
		r.state = passing
	case r.length > 0:
		r.state, r.left = inBody, r.length
	default:
		r.state = atRequestLine
	}
}
