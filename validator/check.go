package validator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"github.com/certchain/certchain/certchain"
)

// Cert is a certificate that passed every stateless rule.
type Cert struct {
	X509       *x509.Certificate
	ID         certchain.Hash // SHA-256 of the DER
	SelfSigned bool
	Identity   string         // see Identity
	KeyHash    certchain.Hash // SHA-256 of RawSubjectPublicKeyInfo
	CA         string         // CA-signed: member owning the anchor it chains to
	// Issuer is the certificate that signed it: itself when self-signed,
	// else the next certificate of the verified chain. OCSP names a
	// certificate by its issuer's name and key hashes (RFC 6960 §4.1.1).
	Issuer *x509.Certificate

	// stable is the span of verification times over which Check gives
	// this same result (see ValidAt).
	stable window
	// Made once by Check for Record, which a node may call twice per
	// certificate (precheck and apply).
	subject, issuer string
	issuerKey       []byte
}

// input is what the certificate rules look at.
type input struct {
	cert       *x509.Certificate
	opts       *Options
	policy     certchain.Policy
	selfIssued bool   // issuer name == subject name, byte for byte
	identity   string // Identity(cert)
}

// certRules run in order, cheapest first; the signature or chain check
// (the only costly one) runs last, in checkIssuer.
var certRules = []func(*input) error{
	checkKeyAlgorithm,
	checkSignatureAlgorithm,
	checkValidity,
	checkCriticalExtensions,
	checkCACert,
	checkNetworkID,
	checkIdentity,
}

// Check runs every stateless rule on the certificate der, with chain (DER
// intermediates, issuer first) for a CA-signed one. It returns a
// *RuleError for a certificate a rule refuses, and another error only for
// invalid opts. It is pure and safe for concurrent use: a self-signed
// certificate costs one parse and one signature verification.
func Check(der []byte, chain [][]byte, opts *Options) (*Cert, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c, err := ParseDER(der)
	if err != nil {
		return nil, err
	}
	in := &input{
		cert: c, opts: opts, policy: opts.policy(),
		selfIssued: bytes.Equal(c.RawIssuer, c.RawSubject), identity: Identity(c),
	}
	for _, rule := range certRules {
		if err := rule(in); err != nil {
			return nil, err
		}
	}
	ca, issuer, inter, err := checkIssuer(in, chain)
	if err != nil {
		return nil, err
	}
	return newCert(in, ca, issuer, inter), nil
}

func newCert(in *input, ca string, issuer *x509.Certificate, inter []*x509.Certificate) *Cert {
	c := in.cert
	subject := in.identity
	if len(c.URIs) > 0 {
		subject = c.Subject.String()
	}
	issuerName := subject
	if !in.selfIssued {
		issuerName = c.Issuer.String()
	}
	return &Cert{
		X509: c, ID: certchain.Sum(c.Raw), SelfSigned: in.selfIssued, Identity: in.identity,
		KeyHash: certchain.Sum(c.RawSubjectPublicKeyInfo), CA: ca, Issuer: issuer,
		stable: stableWindow(in, inter), subject: subject, issuer: issuerName, issuerKey: IssuerKeyBits(issuer),
	}
}

// checkIssuer verifies the signature: with the certificate's own key if it
// is self-issued, else through a chain to an anchor. It returns the
// anchor's member for a CA-signed certificate, the issuing certificate and
// the parsed intermediates of the transaction.
func checkIssuer(in *input, chain [][]byte) (string, *x509.Certificate, []*x509.Certificate, error) {
	if !in.selfIssued {
		return checkChain(in, chain)
	}
	if len(chain) != 0 {
		return "", nil, nil, ruleErr(RuleChain, "a self-signed certificate takes no chain")
	}
	return "", in.cert, nil, checkSelfSignature(in)
}

// Identity names the device or service c is for: its first URI subject
// alternative name if it has one, else its subject DN (pkix.Name.String).
func Identity(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	return c.Subject.String()
}

// Record returns the new, good ledger record of c published by tx (a
// renewal records the certificate it replaces). Its DER aliases c.X509.Raw.
func (c *Cert) Record(tx *certchain.Tx, txID certchain.Hash, height uint64, at time.Time) *certchain.Record {
	x := c.X509
	r := &certchain.Record{
		ID: c.ID, DER: x.Raw, Serial: x.SerialNumber.Text(16),
		Subject: c.subject, Issuer: c.issuer,
		NotBefore: x.NotBefore.UTC(), NotAfter: x.NotAfter.UTC(),
		SelfSigned: c.SelfSigned, Identity: c.Identity, KeyHash: c.KeyHash, CA: c.CA,
		IssuerKey: c.issuerKey,
		Submitter: tx.Submitter, Height: height, TxID: txID,
		Status: certchain.StatusGood, StatusTime: at, StatusHeight: height,
	}
	if tx.Type == certchain.TxRenew {
		r.Replaces = tx.Target
	}
	return r
}

// IssuerKeyBits returns the subjectPublicKey BIT STRING of c: what an OCSP
// CertID's issuerKeyHash is a hash of (RFC 6960 §4.1.1).
func IssuerKeyBits(c *x509.Certificate) []byte {
	// An EC key's is its uncompressed point, the only form x509 parses:
	// no reflection for the usual case (once per certificate).
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
		if b, err := k.Bytes(); err == nil {
			return b
		}
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil // cannot happen: x509.ParseCertificate parsed it
	}
	return spki.PublicKey.Bytes
}
