package validator

import (
	"crypto/x509"
	"time"
)

// window is the span of verification times [from, until) over which Check
// gives the same result for a certificate: no validity boundary of the
// certificate, of its intermediates or of any anchor lies inside it. The
// edge checks a certificate at the request time and the block applies it
// at the block time, a few milliseconds later; inside the window the
// block can reuse the edge's result instead of verifying the signatures
// again, and every node still reaches the same verdict and record as a
// node that checks from scratch.
type window struct{ from, until time.Time }

// stableWindow computes the window around in.opts.Now. Check depends on
// the time only through validity comparisons: the leaf's own (rule
// validity, with the clock skew; Verify's, for a CA-signed leaf) and those
// Verify makes of every candidate in the chain and the anchors. Each
// boundary is where one comparison flips: NotBefore (valid from it on),
// NotAfter + 1ns (valid up to it inclusive) and NotBefore - ClockSkew.
func stableWindow(in *input, chain []*x509.Certificate) window {
	now := in.opts.Now
	w := window{from: time.Unix(0, 0), until: time.Unix(1<<62, 0)}
	add := func(b time.Time) {
		if !b.After(now) {
			if b.After(w.from) {
				w.from = b
			}
		} else if b.Before(w.until) {
			w.until = b
		}
	}
	bounds := func(c *x509.Certificate) {
		add(c.NotBefore)
		add(c.NotAfter.Add(time.Nanosecond))
	}
	bounds(in.cert)
	add(in.cert.NotBefore.Add(-in.policy.ClockSkew.D()))
	if !in.selfIssued {
		for _, c := range chain {
			bounds(c)
		}
		for _, a := range in.opts.Anchors {
			bounds(a.Cert)
		}
	}
	return w
}

// contains reports whether t lies in the window.
func (w window) contains(t time.Time) bool { return !t.Before(w.from) && t.Before(w.until) }

// ValidAt reports whether c, made by Check with Options that differ from
// opts only in Now, is exactly what Check would return at opts.Now: the
// two times lie in the same window (see window). Decide uses a pre-checked
// certificate only then.
func (c *Cert) ValidAt(opts *Options) bool { return c.stable.contains(opts.Now) }
