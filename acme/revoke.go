package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// Revocation reasons a client may ask for (RFC 5280 §5.3.1, RFC 8555
// §7.6): unspecified, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation. caCompromise is the CA's to declare,
// certificateHold is a suspension (the REST API's), removeFromCRL,
// privilegeWithdrawn and aACompromise are not a subscriber's call.
var clientReasons = map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true}

// revokeCert serves RFC 8555 §7.6. The request is signed either by the
// account that ordered the certificate ("kid") or by the certificate's own
// key ("jwk"); the certificate must be one this CA issued. The revocation
// is a ledger transaction, so every node's OCSP answers revoked.
func (s *Server) revokeCert(w http.ResponseWriter, q *request) error {
	var req struct {
		Certificate string `json:"certificate"`
		Reason      *int   `json:"reason"`
	}
	if err := q.decode(&req); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.Strict().DecodeString(req.Certificate)
	if err != nil || len(der) == 0 {
		return ErrMalformed.Errorf("certificate is not base64url DER")
	}
	reason := 0
	if req.Reason != nil {
		reason = *req.Reason
	}
	if !clientReasons[reason] {
		return ErrBadRevocationReason.Errorf("reason %d is not accepted (use 0, 1, 3, 4 or 5)", reason)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return ErrMalformed.Errorf("certificate does not parse: %v", err)
	}
	if err := cert.CheckSignatureFrom(s.cfg.Issuer.Certificate()); err != nil {
		return notFound("the certificate was not issued by this CA")
	}
	ctx := q.r.Context()
	switch {
	case q.jws.JWK != nil:
		if !sameKey(q.jws.JWK.Key, cert.PublicKey) {
			return ErrUnauthorized.Errorf("the request is signed neither by an account nor by the certificate's key")
		}
	default:
		var c issued
		_, err := s.load(ctx, certKey(certID(der)), &c)
		if err != nil && !errors.Is(err, ErrNoObject) {
			return err
		}
		if err != nil || c.Account != q.account.ID {
			return ErrUnauthorized.Errorf("the certificate was not issued to this account")
		}
	}
	if err := s.cfg.Ledger.Revoke(ctx, der, reason); err != nil {
		return err
	}
	s.metrics.revocations.Inc()
	w.WriteHeader(http.StatusOK)
	return nil
}

// ariRetryAfter is how long clients should wait before asking for renewal
// information again (RFC 9773 §4.2).
const ariRetryAfter = 6 * time.Hour

// renewalInfo serves RFC 9773 §4.2: the suggested renewal window of a
// certificate this CA issued, named by its CertID (base64url of the
// authority key identifier, ".", base64url of the serial's DER bytes). The
// window is the last third of the validity's middle: from two thirds of
// the lifetime to five sixths; a revoked certificate gets a window that
// has already begun, so clients renew at once.
func (s *Server) renewalInfo(w http.ResponseWriter, r *http.Request) {
	s.addNonce(w)
	c, _, err := s.issuedByCertID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		WriteProblem(w, err)
		return
	}
	life := c.NotAfter.Sub(c.NotBefore)
	start, end := c.NotBefore.Add(life*2/3), c.NotBefore.Add(life*5/6)
	revoked, err := s.cfg.Ledger.Revoked(r.Context(), c.DER)
	if err != nil {
		WriteProblem(w, err)
		return
	}
	if revoked {
		now := s.now()
		start, end = now.Add(-time.Hour), now.Add(-time.Minute)
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(ariRetryAfter.Seconds())))
	writeJSON(w, http.StatusOK, map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}})
}

// issuedByCertID finds an issued certificate by its ARI CertID.
func (s *Server) issuedByCertID(ctx context.Context, id string) (*issued, uint64, error) {
	aki, serial, err := parseCertID(id)
	if err != nil {
		return nil, 0, err
	}
	if ski := s.cfg.Issuer.Certificate().SubjectKeyId; len(ski) > 0 && !bytes.Equal(aki, ski) {
		return nil, 0, notFound("CertID names another issuer")
	}
	var ref accountRef
	if _, err := s.load(ctx, serialKey(hex.EncodeToString(serial)), &ref); err != nil {
		if errors.Is(err, ErrNoObject) {
			return nil, 0, notFound("no certificate with CertID %s was issued here", quoteShort(id))
		}
		return nil, 0, err
	}
	var c issued
	ver, err := s.load(ctx, certKey(ref.Cert), &c)
	return &c, ver, err
}

// parseCertID splits an RFC 9773 CertID into the authority key identifier
// and the serial's magnitude (big-endian, no leading zeros).
func parseCertID(id string) (aki, serial []byte, err error) {
	a, sn, ok := strings.Cut(id, ".")
	aki, err1 := base64.RawURLEncoding.Strict().DecodeString(a)
	serialDER, err2 := base64.RawURLEncoding.Strict().DecodeString(sn)
	if !ok || err1 != nil || err2 != nil || len(aki) == 0 || len(serialDER) == 0 || len(serialDER) > 21 {
		return nil, nil, ErrMalformed.Errorf("renewal CertID %q is not base64url(AKI) \".\" base64url(serial)", quoteShort(id))
	}
	if serialDER[0]&0x80 != 0 {
		return nil, nil, ErrMalformed.Errorf("CertID serial is negative")
	}
	return aki, new(big.Int).SetBytes(serialDER).Bytes(), nil
}
