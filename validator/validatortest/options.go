package validatortest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

// Option changes the certificate a helper makes.
type Option func(*spec)

type spec struct {
	key       KeyType
	pub       crypto.PublicKey // overrides the generated key's public half
	signer    crypto.Signer    // self-signed only: signs instead of the subject key
	cn        string
	subject   *pkix.Name
	uris      []string
	dns       []string
	notBefore time.Time
	notAfter  time.Time
	netID     *netID
	exts      []pkix.Extension
	isCA      bool
	keyUsage  x509.KeyUsage
	extUsage  []x509.ExtKeyUsage
	sigAlg    x509.SignatureAlgorithm
}

type netID struct {
	oid      asn1.ObjectIdentifier
	value    []byte // extension value (DER)
	critical bool
}

// WithKey sets the subject key type (default P-256).
func WithKey(k KeyType) Option { return func(s *spec) { s.key = k } }

// WithPublicKey puts pub in the certificate instead of the generated key
// (which still signs a self-signed certificate, so it will not verify).
func WithPublicKey(pub crypto.PublicKey) Option { return func(s *spec) { s.pub = pub } }

// WithSigner signs a self-signed certificate with key instead of the
// subject's own key: issuer and subject are equal but the signature does
// not verify with the certificate's key.
func WithSigner(key crypto.Signer) Option { return func(s *spec) { s.signer = key } }

// WithCN sets the subject to just this common name (default: random).
func WithCN(cn string) Option { return func(s *spec) { s.cn, s.subject = cn, nil } }

// WithSubject sets the whole subject name (may be empty).
func WithSubject(n pkix.Name) Option { return func(s *spec) { s.subject = &n } }

// WithURI adds a URI subject alternative name.
func WithURI(uri string) Option { return func(s *spec) { s.uris = append(s.uris, uri) } }

// WithDNS adds a SAN DNS name.
func WithDNS(name string) Option { return func(s *spec) { s.dns = append(s.dns, name) } }

// WithValidity sets NotBefore and NotAfter.
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(s *spec) { s.notBefore, s.notAfter = notBefore, notAfter }
}

// WithNetworkID sets the network-ID extension to a UTF8String of id.
func WithNetworkID(id string) Option { return WithNetworkIDExt(UTF8(id), false) }

// WithNetworkIDExt sets the network-ID extension's raw value and criticality.
func WithNetworkIDExt(value []byte, critical bool) Option {
	return func(s *spec) { s.netID = &netID{value: value, critical: critical} }
}

// WithNetworkIDOID puts the network-ID extension under another OID.
func WithNetworkIDOID(oid asn1.ObjectIdentifier) Option {
	return func(s *spec) {
		if s.netID != nil {
			s.netID.oid = oid
		}
	}
}

// WithoutNetworkID leaves the network-ID extension out.
func WithoutNetworkID() Option { return func(s *spec) { s.netID = nil } }

// WithExtension adds an extension (e.g. an unknown critical one).
func WithExtension(e pkix.Extension) Option { return func(s *spec) { s.exts = append(s.exts, e) } }

// WithCA makes a CA certificate (basic constraints CA=true, keyCertSign).
func WithCA() Option { return func(s *spec) { s.isCA = true } }

// WithKeyUsage sets the key usage bits.
func WithKeyUsage(ku x509.KeyUsage) Option { return func(s *spec) { s.keyUsage = ku } }

// WithExtKeyUsage sets the extended key usages.
func WithExtKeyUsage(u ...x509.ExtKeyUsage) Option { return func(s *spec) { s.extUsage = u } }

// WithSignatureAlgorithm sets the signature algorithm.
func WithSignatureAlgorithm(a x509.SignatureAlgorithm) Option {
	return func(s *spec) { s.sigAlg = a }
}

// UTF8 returns the DER encoding of s as an ASN.1 UTF8String.
func UTF8(s string) []byte {
	b, err := asn1.MarshalWithParams(s, "utf8")
	if err != nil {
		panic(err)
	}
	return b
}

func (s *spec) template() *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(), Subject: Name(s.cn),
		NotBefore: s.notBefore, NotAfter: s.notAfter,
		BasicConstraintsValid: true, IsCA: s.isCA, KeyUsage: s.keyUsage,
		SignatureAlgorithm: s.sigAlg, ExtraExtensions: s.exts, ExtKeyUsage: s.extUsage,
	}
	if s.subject != nil {
		tmpl.Subject = *s.subject
	}
	if s.isCA && s.keyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	for _, u := range s.uris {
		tmpl.URIs = append(tmpl.URIs, mustURL(u))
	}
	tmpl.DNSNames = s.dns
	if s.netID != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, s.netID.extension())
	}
	return tmpl
}

func (id *netID) extension() pkix.Extension {
	oid := id.oid
	if oid == nil {
		oid, _ = certchain.ParseOID(certchain.DefaultNetworkIDOID)
	}
	return pkix.Extension{Id: oid, Critical: id.critical, Value: id.value}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// make creates the certificate, signed by parent/parentKey or (both nil)
// self-signed.
func (s *spec) make(t testing.TB, parent *x509.Certificate, parentKey crypto.Signer) *Device {
	t.Helper()
	key := NewKey(t, s.key)
	tmpl := s.template()
	pub := s.pub
	if pub == nil {
		pub = key.Public()
	}
	if parent == nil {
		parent, parentKey = tmpl, key
		if s.signer != nil {
			parentKey = s.signer
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("validatortest: create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("validatortest: parse certificate: %v", err)
	}
	return &Device{DER: der, Cert: c, Key: key}
}

// Corrupt returns a copy of der with the last byte (inside the signature)
// flipped: the certificate still parses but its signature does not verify.
func Corrupt(der []byte) []byte {
	out := bytes.Clone(der)
	out[len(out)-1] ^= 0x01
	return out
}

// ReplaceOID returns a copy of der with every encoding of from replaced by
// to; both must encode to the same length. It makes certificates that
// x509.CreateCertificate refuses to sign (e.g. MD5WithRSA); their
// signatures do not verify.
func ReplaceOID(t testing.TB, der []byte, from, to asn1.ObjectIdentifier) []byte {
	t.Helper()
	f, err1 := asn1.Marshal(from)
	r, err2 := asn1.Marshal(to)
	if err1 != nil || err2 != nil || len(f) != len(r) || !bytes.Contains(der, f) {
		t.Fatalf("validatortest: cannot replace OID %v with %v", from, to)
	}
	return bytes.ReplaceAll(der, f, r)
}
