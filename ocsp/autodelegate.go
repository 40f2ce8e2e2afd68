package ocsp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// delegateBackdate is how far before its issuance a delegate's notBefore
// lies, so relying parties whose clocks lag accept it at once.
const delegateBackdate = time.Hour

// Bits of signer.warned: the expiry warnings already logged.
const (
	warnedSoon   = 1 << iota // a quarter of its lifetime left
	warnedLapsed             // too little left to sign: no longer used
)

// autoDelegate is the delegate the responder keeps for a CA whose key it
// holds, renewed at half its life.
type autoDelegate struct {
	ca      CA
	cur     *signer // nil until the first issuance succeeds
	renewAt time.Time
}

func newAutoDelegates(cas []CA) ([]*autoDelegate, error) {
	out := make([]*autoDelegate, 0, len(cas))
	for _, ca := range cas {
		switch {
		case ca.Cert == nil || ca.Key == nil:
			return nil, fmt.Errorf("%w: ocsp: issuing CA needs a certificate and a key", certchain.ErrInvalid)
		case !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0:
			return nil, fmt.Errorf("%w: ocsp: %q is not a CA certificate with keyCertSign", certchain.ErrInvalid, ca.Cert.Subject)
		}
		if pub, ok := ca.Key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.Cert.PublicKey) {
			return nil, fmt.Errorf("%w: ocsp: the key of issuing CA %q does not match its certificate", certchain.ErrInvalid, ca.Cert.Subject)
		}
		out = append(out, &autoDelegate{ca: ca})
	}
	return out, nil
}

// maintain renews the delegates of held CAs that reached half their life
// and warns about delegates from elsewhere (ledger, configuration) that
// near their end (those that can no longer sign are skipped by selection
// and dropped by the next addDelegate). Run calls it on every tick; New
// once.
func (r *Responder) maintain(now time.Time) error {
	r.autoMu.Lock()
	defer r.autoMu.Unlock()
	var errs []error
	for _, a := range r.auto {
		if a.cur != nil && now.Before(a.renewAt) {
			continue
		}
		s, err := r.issueAuto(a.ca, now)
		if err != nil {
			r.cfg.Logger.Error("ocsp: renewing a delegated signer failed; the current one stays while it lasts",
				"issuer", a.ca.Cert.Subject.String(), "err", err)
			errs = append(errs, err)
			continue
		}
		r.addDelegate(s, a.cur)
		a.cur, a.renewAt = s, now.Add(s.cert.NotAfter.Sub(now)/2)
	}
	r.warnExpiry(now)
	return errors.Join(errs...)
}

// issueAuto makes a fresh key (it never leaves this process) and has ca
// issue a delegate for it, valid for DelegateValidity.
func (r *Responder) issueAuto(ca CA, now time.Time) (*signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := IssueDelegate(ca, key.Public(), DelegateSubject(r.cfg.NodeID), now.Add(-delegateBackdate), now.Add(r.cfg.DelegateValidity))
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if cert.NotAfter.Sub(now) < r.cfg.Validity {
		return nil, fmt.Errorf("%w: ocsp: CA %q expires at %s, too soon for a delegate", certchain.ErrInvalid, ca.Cert.Subject, ca.Cert.NotAfter)
	}
	return newDelegate(Delegate{Cert: cert, Key: key, Issuer: ca.Cert, Source: SourceAuto})
}

// warnExpiry logs, once each, that a delegate the responder cannot renew
// itself has a quarter of its lifetime left, and that it lapsed (answers
// about its issuer's certificates fall back to the ledger responder).
func (r *Responder) warnExpiry(now time.Time) {
	for _, s := range r.delegates.all() {
		if s.source == SourceAuto {
			continue
		}
		life, left := s.cert.NotAfter.Sub(s.cert.NotBefore), s.cert.NotAfter.Sub(now)
		switch {
		case !s.usable(now) && s.warned.Load()&warnedLapsed == 0:
			s.warned.Or(warnedLapsed | warnedSoon)
			r.cfg.Logger.Warn("ocsp: delegated signer lapsed; the ledger responder signs for its issuer until the CA member registers a new one (certchain ocsp delegate)",
				"issuer", s.issuer, "source", s.source, "not_after", s.cert.NotAfter)
		case left < life/4 && s.warned.Load()&warnedSoon == 0:
			s.warned.Or(warnedSoon)
			r.cfg.Logger.Warn("ocsp: delegated signer expires soon; the CA member should run certchain ocsp delegate again",
				"issuer", s.issuer, "source", s.source, "not_after", s.cert.NotAfter, "left", left.Round(time.Second))
		}
	}
}
