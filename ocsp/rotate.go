package ocsp

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// SetResponder replaces the ledger responder (certificate and key, and so
// the responderID) with s, as one value: a response is signed by the old
// responder or by the new one, never by one key naming the other. The
// cached responses the old responder signed, and any signing under way,
// are dropped and re-signed, so no request arriving after SetResponder
// returns gets an answer from the old responder. s must hold the key of
// its certificate, carry id-kp-OCSPSigning and come from the issuer of
// the current responder (see doc.go, "Responder rotation"); otherwise
// nothing changes and the error wraps certchain.ErrInvalid. Setting the
// certificate in use again changes nothing.
func (r *Responder) SetResponder(s Signer) error {
	next, err := newSigner(s, true)
	if err != nil {
		return fmt.Errorf("ocsp: responder: %w", err)
	}
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	old := r.ledger.Load()
	if old.cert.Equal(next.cert) {
		return nil
	}
	if err := sameIssuer(old.cert, next.cert); err != nil {
		return fmt.Errorf("ocsp: responder: %w", err)
	}
	r.useResponder(next)
	r.cfg.Logger.Info("ocsp: responder certificate replaced", "subject", next.cert.Subject.String(),
		"serial", next.cert.SerialNumber.Text(16), "not_after", next.cert.NotAfter, "previous_serial", old.cert.SerialNumber.Text(16))
	r.requeue(r.cache.invalidateSigner(old))
	return nil
}

// useResponder makes s the ledger responder and its certificate the one
// ResponderPEM serves.
func (r *Responder) useResponder(s *signer) {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})
	r.ledger.Store(s)
	r.pem.Store(&p)
}

// sameIssuer checks that next was issued by the CA that issued cur: same
// issuer name and, when either names it, same authority key identifier.
// Relying parties that trust the responder through its CA (x/crypto's
// ParseResponseForCert with the CA as issuer, OpenSSL with the CA
// -addtrust OCSPSigning) then accept the new one without a change.
func sameIssuer(cur, next *x509.Certificate) error {
	if !bytes.Equal(cur.RawIssuer, next.RawIssuer) || !bytes.Equal(cur.AuthorityKeyId, next.AuthorityKeyId) {
		return fmt.Errorf("%w: new responder %q is issued by %q, not by %q, the issuer of the current one",
			certchain.ErrInvalid, next.Subject, next.Issuer, cur.Issuer)
	}
	return nil
}
