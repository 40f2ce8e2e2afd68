package acme

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// maxCSRSize bounds the DER of a CSR.
const maxCSRSize = 16 << 10

// finalize serves RFC 8555 §7.4: the CSR is checked against the order and
// the key policy, the order moves to processing (so two finalize calls
// cannot both issue), the certificate is signed, published to the ledger,
// and only then is the order valid and the certificate downloadable.
func (s *Server) finalize(w http.ResponseWriter, q *request) error {
	ctx := q.r.Context()
	var o order
	ver, err := s.owned(ctx, q, orderKey(chiParam(q.r, "id")), &o)
	if err != nil {
		return err
	}
	var req struct {
		CSR string `json:"csr"`
	}
	if err := q.decode(&req); err != nil {
		return err
	}
	st, err := s.orderStatus(ctx, &o)
	if err != nil {
		return err
	}
	if st != statusReady {
		return ErrOrderNotReady.Errorf("order is %s, not ready", st)
	}
	csr, err := s.checkCSR(req.CSR, o.Identifiers)
	if err != nil {
		return err
	}
	start := time.Now()
	o.Status, o.Updated = statusProcessing, s.now().UTC()
	if err := s.cfg.Store.Put(ctx, []Write{put(orderKey(o.ID), &o, ver)}); err != nil {
		return storeErr(err, "order")
	}
	if err := s.issue(ctx, &o, csr); err != nil {
		s.log.Warn("acme: issuance failed", "order", o.ID, "err", err)
		o.Status, o.Error = statusInvalid, ProblemOf(err)
		o.Error.Status = 0
		s.metrics.orders.WithLabelValues(statusInvalid).Inc()
		// The order's version is now the one the processing write made,
		// which only this request knows of; any version will do.
		if perr := s.cfg.Store.Put(context.WithoutCancel(ctx), []Write{put(orderKey(o.ID), &o, anyVersion)}); perr != nil {
			return errors.Join(err, perr)
		}
		return err
	}
	s.metrics.orders.WithLabelValues(statusValid).Inc()
	s.metrics.issuance.Observe(time.Since(start).Seconds())
	return s.writeOrder(w, ctx, &o, http.StatusOK)
}

// issue signs, publishes and records the certificate of o.
func (s *Server) issue(ctx context.Context, o *order, csr *x509.CertificateRequest) error {
	der, err := s.cfg.Issuer.Issue(csr, o.Identifiers, o.Profile, s.now())
	if err != nil {
		return ErrServerInternal.Errorf("signing failed: %w", err)
	}
	// Publishing is what makes the certificate usable: once it is on the
	// ledger every node answers its OCSP status.
	chain := s.cfg.Issuer.Chain()
	if err := s.cfg.Ledger.Publish(context.WithoutCancel(ctx), der, intermediates(chain)); err != nil {
		return ErrServerInternal.Errorf("publishing the certificate to the ledger failed: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return ErrServerInternal.Errorf("issued certificate: %w", err)
	}
	id := certID(der)
	o.Status, o.Cert, o.Error, o.Updated = statusValid, id, nil, s.now().UTC()
	c := &issued{ID: id, Account: o.Account, Order: o.ID, DER: der, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}
	return s.cfg.Store.Put(context.WithoutCancel(ctx), []Write{
		put(certKey(id), c, 0),
		put(serialKey(serialHex(cert)), accountRef{Account: o.Account, Cert: id}, 0),
		put(orderKey(o.ID), o, anyVersion),
	})
}

// intermediates returns what the ledger needs with a leaf: the chain
// without the issuer's root anchor. The issuer itself is first; if it is
// a trust anchor of the ledger the ledger ignores it, and if it is an
// intermediate the ledger needs it.
func intermediates(chain [][]byte) [][]byte {
	out := make([][]byte, 0, len(chain))
	for _, c := range chain {
		cert, err := x509.ParseCertificate(c)
		if err == nil && cert.CheckSignatureFrom(cert) == nil {
			break // a self-signed root: the ledger has it as an anchor
		}
		out = append(out, c)
	}
	return out
}

// certID is the ledger's ID of a certificate: SHA-256 of its DER, hex.
func certID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// checkCSR parses the finalize CSR (base64url DER) and checks its
// signature, its key against the key policy, and that it asks for exactly
// the order's identifiers (RFC 8555 §7.4), in the subject CN or SANs.
func (s *Server) checkCSR(b64 string, idents []Identifier) (*x509.CertificateRequest, error) {
	der, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil || len(der) == 0 {
		return nil, ErrMalformed.Errorf("csr is not base64url DER")
	}
	if len(der) > maxCSRSize {
		return nil, ErrBadCSR.Errorf("CSR of %d bytes (at most %d)", len(der), maxCSRSize)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, ErrBadCSR.Errorf("CSR does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, ErrBadCSR.Errorf("CSR signature does not verify: %v", err)
	}
	if err := s.cfg.KeyPolicy(csr.PublicKey); err != nil {
		return nil, ErrBadCSR.Errorf("CSR key refused: %v", err)
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, ErrBadCSR.Errorf("CSR asks for e-mail or URI names; only the order's DNS names and IP addresses are issued")
	}
	asked := map[string]bool{}
	for _, n := range csr.DNSNames {
		asked[IdentifierDNS+":"+strings.ToLower(n)] = true
	}
	for _, ip := range csr.IPAddresses {
		a, _ := netip.AddrFromSlice(ip)
		asked[IdentifierIP+":"+a.Unmap().String()] = true
	}
	if cn := csr.Subject.CommonName; cn != "" {
		if a, err := netip.ParseAddr(cn); err == nil {
			asked[IdentifierIP+":"+a.Unmap().String()] = true
		} else {
			asked[IdentifierDNS+":"+strings.ToLower(cn)] = true
		}
	}
	want := make([]string, len(idents))
	for i, id := range idents {
		k, err := identifierKey(id)
		if err != nil {
			return nil, err
		}
		want[i] = k
	}
	got := make([]string, 0, len(asked))
	for k := range asked {
		got = append(got, k)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return nil, ErrBadCSR.Errorf("CSR names %s do not match the order's identifiers %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return csr, nil
}

// certificate serves the issued certificate with its chain (RFC 8555
// §7.4.2) to the account that ordered it.
func (s *Server) certificate(w http.ResponseWriter, q *request) error {
	var c issued
	if _, err := s.owned(q.r.Context(), q, certKey(chiParam(q.r, "id")), &c); err != nil {
		return err
	}
	var b strings.Builder
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
	for _, der := range s.cfg.Issuer.Chain() {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
	return nil
}
