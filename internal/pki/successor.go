package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// SuccessorOptions adjust a successor certificate. The zero value of each
// field keeps what the old certificate has.
type SuccessorOptions struct {
	// KeyType is the new key's type (KeyP256, ...); empty: the old key's
	// type (an RSA key of the old key's size).
	KeyType string
	// Validity is NotAfter - NotBefore; zero: the old certificate's.
	Validity time.Duration
	// OCSPURLs go into the AIA; nil: the old certificate's.
	OCSPURLs []string
	// NotBefore starts the validity; zero: now, truncated to the second.
	NotBefore time.Time
}

// Successor makes a new key and a self-signed certificate for the same
// device as old, the renewal a device or its factory line makes: the same
// subject (byte for byte) and subject alternative names, so the ledger
// sees the same device identity; the same key usages; the network-ID
// extension and any other extension Go does not generate from the
// template, copied; a fresh serial. old must be a self-signed end-entity
// certificate: a CA-signed one is renewed by its CA.
func Successor(old *x509.Certificate, o SuccessorOptions) (certDER []byte, key crypto.Signer, err error) {
	if old.IsCA || !selfSigned(old) {
		return nil, nil, fmt.Errorf("%w: %s is not a self-signed device certificate (a CA-signed one is renewed by its CA)", certchain.ErrInvalid, old.Subject)
	}
	if key, err = successorKey(old.PublicKey, o.KeyType); err != nil {
		return nil, nil, err
	}
	tmpl, err := successorTemplate(old, o, key.Public())
	if err != nil {
		return nil, nil, err
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("successor of %s: sign: %w", old.Subject, err)
	}
	return certDER, key, nil
}

// selfSigned reports whether c names itself as issuer and its signature
// verifies with its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// successorKey generates a key of keyType, or of old's type when empty.
func successorKey(old crypto.PublicKey, keyType string) (crypto.Signer, error) {
	if keyType != "" {
		return GenerateKey(keyType)
	}
	switch k := old.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return GenerateKey(KeyP384)
		}
		if k.Curve == elliptic.P256() {
			return GenerateKey(KeyP256)
		}
	case ed25519.PublicKey:
		return GenerateKey(KeyEd25519)
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, k.N.BitLen())
	}
	return nil, fmt.Errorf("%w: successor: unsupported key %T (pass a key type)", certchain.ErrInvalid, old)
}

func successorTemplate(old *x509.Certificate, o SuccessorOptions, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := RandomSerial()
	if err != nil {
		return nil, err
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().UTC().Truncate(time.Second)
	}
	if o.Validity == 0 {
		o.Validity = old.NotAfter.Sub(old.NotBefore)
	}
	if o.OCSPURLs == nil {
		o.OCSPURLs = old.OCSPServer
	}
	usage := old.KeyUsage
	if _, rsaKey := pub.(*rsa.PublicKey); !rsaKey {
		usage &^= x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	}
	return &x509.Certificate{
		SerialNumber: serial, RawSubject: old.RawSubject,
		NotBefore: o.NotBefore, NotAfter: o.NotBefore.Add(o.Validity),
		KeyUsage: usage, ExtKeyUsage: old.ExtKeyUsage, UnknownExtKeyUsage: old.UnknownExtKeyUsage,
		BasicConstraintsValid: old.BasicConstraintsValid,
		DNSNames:              old.DNSNames, EmailAddresses: old.EmailAddresses, IPAddresses: old.IPAddresses, URIs: old.URIs,
		OCSPServer:      o.OCSPURLs,
		Policies:        old.Policies,
		ExtraExtensions: copiedExtensions(old.Extensions),
	}, nil
}

// generated are the extensions x509.CreateCertificate makes from the
// template's fields (RFC 5280 §4.2): the others are copied as they are.
var generated = []asn1.ObjectIdentifier{
	{2, 5, 29, 14}, {2, 5, 29, 35}, {2, 5, 29, 15}, {2, 5, 29, 37}, {2, 5, 29, 19}, {2, 5, 29, 17},
	{2, 5, 29, 32}, {2, 5, 29, 30}, {2, 5, 29, 31}, {1, 3, 6, 1, 5, 5, 7, 1, 1},
}

func copiedExtensions(exts []pkix.Extension) []pkix.Extension {
	var out []pkix.Extension
	for _, e := range exts {
		keep := true
		for _, g := range generated {
			keep = keep && !e.Id.Equal(g)
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}
