package validator

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/certchain/certchain/certchain"
)

// MaxOCSPDelegateValidity bounds NotAfter - NotBefore of a registered
// delegated OCSP signer. Relying parties never check a delegate's own
// revocation (it carries id-pkix-ocsp-nocheck), so its lifetime is how
// long a leaked delegate key could sign false answers: RFC 6960
// §4.2.2.2.1 advises "a very short lifetime" and renewal.
const MaxOCSPDelegateValidity = 90 * 24 * time.Hour

// OIDOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
var OIDOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// ocspDelegate decides an ocsp-delegate transaction (RFC 6960 §4.2.2.2):
// a member with role ca ("role") registers Cert, a delegated OCSP signer
// certificate ("ocsp-delegate" unless all hold):
//
//   - it parses ("der"), is an end entity with id-kp-OCSPSigning in its
//     extended key usage, the id-pkix-ocsp-nocheck extension and, if it
//     has a key usage, digitalSignature; its key is allowed by the policy
//     ("key-algorithm");
//   - it was signed directly by one of the submitter's CA certificates
//     (not through an intermediate: RFC 6960 wants the delegate "issued
//     directly by the CA that is identified in the request"), which is
//     itself valid at block time;
//   - it is valid at block time ("expired", "not-yet-valid" within the
//     policy's clock skew) for at most MaxOCSPDelegateValidity
//     ("validity-too-long").
//
// A registration whose NotAfter is not later than the one registered for
// the same key and CA is Unchanged: re-running the command is harmless,
// and a replayed old registration cannot shorten a newer one.
func (d *decision) ocspDelegate() ([]*certchain.Record, error) {
	m, err := d.member()
	if err != nil {
		return nil, err
	}
	if m.Role != certchain.RoleCA {
		return nil, ruleErr(RuleRole, fmt.Sprintf("member %q has role %s: only a ca member delegates OCSP signing", m.Name, m.Role))
	}
	c, err := ParseDER(d.tx.Cert)
	if err == nil {
		err = d.delegateShape(c)
	}
	if err != nil {
		return nil, err
	}
	issuer, err := d.delegateIssuer(m.Name, c)
	if err != nil {
		return nil, err
	}
	rec := &certchain.OCSPDelegate{Member: m.Name, Cert: c.Raw, Issuer: issuer.Raw,
		KeyHash: sha256.Sum256(c.RawSubjectPublicKeyInfo), IssuerHash: sha256.Sum256(issuer.RawSubjectPublicKeyInfo),
		NotAfter: c.NotAfter.UTC(), Height: d.height}
	if err := d.delegateNewer(rec); err != nil {
		return nil, err
	}
	d.delegates = []*certchain.OCSPDelegate{rec}
	return nil, nil
}

// delegateShape checks what a delegated OCSP signer certificate carries
// and its validity at block time.
func (d *decision) delegateShape(c *x509.Certificate) error {
	bad := func(what string) error { return ruleErr(RuleOCSPDelegate, what) }
	nb, na, now := c.NotBefore, c.NotAfter, d.at
	switch {
	case len(d.tx.Chain) > 0:
		return bad("a delegate is issued directly by one of the member's CA certificates; send no chain")
	case c.BasicConstraintsValid && c.IsCA || c.KeyUsage&x509.KeyUsageCertSign != 0:
		return bad("a delegated OCSP signer is not a CA certificate")
	case !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning):
		return bad("the certificate lacks id-kp-OCSPSigning in its extended key usage (RFC 6960 §4.2.2.2)")
	case !hasExtension(c, OIDOCSPNoCheck):
		return bad("the certificate lacks the id-pkix-ocsp-nocheck extension (RFC 6960 §4.2.2.2.1)")
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return bad("the certificate's key usage lacks digitalSignature")
	case nb.After(na):
		return ruleErr(RuleValidity, fmt.Sprintf("notBefore %s is after notAfter %s", stamp(nb), stamp(na)))
	case !na.After(now):
		return ruleErr(RuleExpired, fmt.Sprintf("notAfter %s is not after %s", stamp(na), stamp(now)))
	case nb.After(now.Add(d.opts.policy().ClockSkew.D())):
		return ruleErr(RuleNotYetValid, fmt.Sprintf("notBefore %s is more than %s after %s", stamp(nb), d.opts.policy().ClockSkew.D(), stamp(now)))
	case na.Sub(nb) > MaxOCSPDelegateValidity:
		return ruleErr(RuleValidityTooLong, fmt.Sprintf("a delegated OCSP signer is valid for at most %s, not %s", MaxOCSPDelegateValidity, na.Sub(nb)))
	}
	return CheckPublicKey(c.PublicKey, d.opts.policy())
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	return slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oid) })
}

// delegateIssuer returns the CA certificate of member that signed c,
// valid at block time.
func (d *decision) delegateIssuer(member string, c *x509.Certificate) (*x509.Certificate, error) {
	for _, a := range d.opts.Anchors {
		if a.Member != member || !bytes.Equal(a.Cert.RawSubject, c.RawIssuer) {
			continue
		}
		if c.CheckSignatureFrom(a.Cert) == nil && !d.at.After(a.Cert.NotAfter) && !d.at.Before(a.Cert.NotBefore) {
			return a.Cert, nil
		}
	}
	return nil, ruleErr(RuleOCSPDelegate, fmt.Sprintf("the certificate was not issued by a CA certificate of member %q valid now", member))
}

// delegateNewer refuses (Unchanged) a registration that would not extend
// the one on record for the same key and CA.
func (d *decision) delegateNewer(rec *certchain.OCSPDelegate) error {
	cur, err := d.view.OCSPDelegate(rec.KeyHash, rec.IssuerHash)
	switch {
	case errors.Is(err, certchain.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("validator: view: OCSP delegate: %w", err)
	case !rec.NotAfter.After(cur.NotAfter):
		return &unchangedError{ruleErr(RuleOCSPDelegate, fmt.Sprintf("a delegate of this CA for this key valid until %s is registered (block %d)", stamp(cur.NotAfter), cur.Height))}
	}
	return nil
}
