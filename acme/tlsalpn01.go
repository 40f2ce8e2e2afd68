package acme

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ALPNProto is the ALPN protocol of tls-alpn-01 (RFC 8737 §6.2).
const ALPNProto = "acme-tls/1"

// Object identifiers a tls-alpn-01 certificate is checked for.
var (
	// OIDACMEIdentifier is id-pe-acmeIdentifier (RFC 8737 §6.1).
	OIDACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// ValidateTLSALPN01 connects to ident on TLSPort offering only the
// acme-tls/1 protocol, with the identifier (the reverse-DNS name for an ip
// identifier, RFC 8738 §6) as server name, and checks the certificate
// presented: self-signed, its only subjectAltName the identifier, and a
// critical acmeIdentifier extension holding SHA-256(keyAuth) (RFC 8737 §3).
func (v *Validator) ValidateTLSALPN01(ctx context.Context, ident Identifier, keyAuth string) error {
	t, err := checkIdentifier(ident, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	where := hostPort(t.host, v.cfg.TLSPort, 0)
	conn, err := v.dial(ctx, t.host, v.cfg.TLSPort)
	if err != nil {
		return v.netProblem(err, where)
	}
	defer conn.Close()
	serverName := t.host
	if t.ip.IsValid() {
		serverName = reverseName(t.ip)
	}
	tconn := tls.Client(conn, &tls.Config{
		ServerName:         serverName,
		NextProtos:         []string{ALPNProto},
		InsecureSkipVerify: true, // the certificate is checked below, not against roots
		MinVersion:         tls.VersionTLS12,
	})
	if err := tconn.HandshakeContext(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return v.netProblem(err, where)
		}
		return ErrTLS.Errorf("TLS handshake with %s failed: %w", where, err)
	}
	state := tconn.ConnectionState()
	if state.NegotiatedProtocol != ALPNProto {
		return ErrIncorrectResponse.Errorf("%s did not negotiate the %s protocol", where, ALPNProto)
	}
	if len(state.PeerCertificates) == 0 {
		return ErrIncorrectResponse.Errorf("%s presented no certificate", where)
	}
	return checkALPNCert(state.PeerCertificates[0], t, keyAuth, where)
}

// checkALPNCert checks a tls-alpn-01 challenge certificate.
func checkALPNCert(cert *x509.Certificate, t target, keyAuth, where string) error {
	if err := checkOnlySAN(cert, t); err != nil {
		return ErrIncorrectResponse.Errorf("certificate from %s: %w", where, err)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return ErrIncorrectResponse.Errorf("certificate from %s is not self-signed: %w", where, err)
	}
	var ext *pkix.Extension
	for i := range cert.Extensions {
		if cert.Extensions[i].Id.Equal(OIDACMEIdentifier) {
			ext = &cert.Extensions[i]
		}
	}
	if ext == nil {
		return ErrIncorrectResponse.Errorf("certificate from %s has no acmeIdentifier extension", where)
	}
	if !ext.Critical {
		return ErrIncorrectResponse.Errorf("certificate from %s: the acmeIdentifier extension must be critical", where)
	}
	var digest []byte
	if rest, err := asn1.Unmarshal(ext.Value, &digest); err != nil || len(rest) != 0 || len(digest) != sha256.Size {
		return ErrIncorrectResponse.Errorf("certificate from %s: the acmeIdentifier extension is not a DER OCTET STRING of %d bytes", where, sha256.Size)
	}
	if want := sha256.Sum256([]byte(keyAuth)); !bytes.Equal(digest, want[:]) {
		return ErrUnauthorized.Errorf("certificate from %s: the acmeIdentifier extension does not match the key authorization", where)
	}
	return nil
}

// checkOnlySAN checks that the subjectAltName extension of cert has
// exactly one entry, the identifier t. It counts the raw GeneralNames, so
// kinds crypto/x509 does not expose (otherName, …) count too.
func checkOnlySAN(cert *x509.Certificate, t target) error {
	var names []asn1.RawValue
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			if rest, err := asn1.Unmarshal(e.Value, &names); err != nil || len(rest) != 0 {
				return errors.New("malformed subjectAltName extension")
			}
		}
	}
	var match bool
	switch {
	case len(names) != 1:
	case t.ip.IsValid():
		ip, ok := netip.AddrFromSlice(firstOr(cert.IPAddresses, nil))
		match = ok && ip.Unmap() == t.ip
	default:
		match = strings.EqualFold(firstOr(cert.DNSNames, ""), t.host)
	}
	if match {
		return nil
	}
	var have []string
	have = append(have, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	for _, u := range cert.URIs {
		have = append(have, u.String())
	}
	have = append(have, cert.EmailAddresses...)
	return fmt.Errorf("its only subjectAltName must be %s; it has %d (%s)", t.host, len(names), strings.Join(have, ", "))
}

// firstOr returns s[0], or def for an empty s.
func firstOr[T any](s []T, def T) T {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
