package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/certchain/certchain/certchain"
)

// bodyHold is what a request holds of Limits.BodyMemory: the bytes its
// body may take in memory. instrument puts one into every request's
// context and gives its bytes back when the request ends.
type bodyHold struct{ n int64 }

type bodyHoldKey struct{}

// release gives back what h holds.
func (s *Server) release(h *bodyHold) {
	s.bodyBytes.Add(-h.n)
	h.n = 0
}

// reserve takes n bytes of Limits.BodyMemory for r's body, or answers that
// the node holds too many bodies already (429): memory for request bodies
// stays bounded however many clients send at once.
func (s *Server) reserve(r *http.Request, n int64) error {
	h, ok := r.Context().Value(bodyHoldKey{}).(*bodyHold)
	if !ok {
		return nil // outside the router (no budget to take from)
	}
	if s.bodyBytes.Add(n) > s.Limits.BodyMemory {
		s.bodyBytes.Add(-n)
		return &reasonError{kind: errTooMany, reason: fmt.Sprintf("request bodies in progress on this node fill its %d MiB budget; retry later", s.Limits.BodyMemory>>20)}
	}
	h.n += n
	return nil
}

// shrink gives back what r reserved beyond the n bytes its body took.
func (s *Server) shrink(r *http.Request, reserved, n int64) {
	if h, ok := r.Context().Value(bodyHoldKey{}).(*bodyHold); ok && reserved > n {
		s.bodyBytes.Add(n - reserved)
		h.n -= reserved - n
	}
}

func withBodyHold(ctx context.Context, h *bodyHold) context.Context {
	return context.WithValue(ctx, bodyHoldKey{}, h)
}

// readBody reads the request body, at most limit bytes, into one buffer.
// A Content-Length over limit is answered 413 before a byte is read (so a
// client that sent "Expect: 100-continue" gets the 413 instead of "100
// Continue" and never sends the body). Otherwise the body's bytes are
// first reserved from Limits.BodyMemory (its Content-Length, or limit for
// a chunked body), then read into a buffer of that size (never the
// doubling copies of io.ReadAll); a chunked body that passes limit is
// answered 413 after limit bytes, and net/http closes the connection
// cleanly (http.MaxBytesReader). A body that takes longer than
// Limits.BodyTime is answered 408: a stalled client holds its reservation
// that long at most.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	size := r.ContentLength
	if size < 0 {
		size = limit
	}
	if err := s.reserve(r, size); err != nil {
		return nil, err
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.Limits.BodyTime))
	defer rc.SetReadDeadline(time.Time{})
	b, err := readAtMost(http.MaxBytesReader(w, r.Body, limit), size, r.ContentLength >= 0)
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		return nil, tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &reasonError{kind: errBodyTimeout, reason: fmt.Sprintf("the request body did not arrive within %s", s.Limits.BodyTime)}
	case err != nil:
		return nil, fmt.Errorf("%w: reading body: %v", certchain.ErrInvalid, err)
	}
	s.shrink(r, size, int64(cap(b)))
	return b, nil
}

func tooLarge(limit int64) error {
	return &reasonError{kind: errTooLarge, reason: fmt.Sprintf("request body exceeds %d bytes", limit)}
}

// readAtMost reads r to its end: exactly size bytes when exact (a
// Content-Length), else at most size, in a buffer that doubles as it
// fills, never past size, and only when more is coming.
func readAtMost(r io.Reader, size int64, exact bool) ([]byte, error) {
	if exact {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b := make([]byte, 0, min(size, 64<<10))
	one := make([]byte, 1)
	for {
		if len(b) == cap(b) { // the end, or more to come?
			n, err := r.Read(one)
			switch {
			case n == 0 && errors.Is(err, io.EOF):
				return b, nil
			case n == 0 && err != nil:
				return nil, err
			case n == 0:
				continue
			case int64(len(b)) == size:
				return nil, errors.New("body longer than its limit")
			}
			nb := make([]byte, len(b), min(2*int64(cap(b)), size))
			b = append(nb[:copy(nb, b)], one[0])
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
