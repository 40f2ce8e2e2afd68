package ocsp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Signature algorithm identifiers (RFC 5758 §3.2, RFC 4055 §5, RFC 8410 §3).
var (
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidRSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidEd25519     = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// signer is a Signer prepared for signing responses: everything that does
// not change between responses is encoded once.
type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
	hash crypto.Hash // digest signed; 0 for Ed25519 (signs the message)
	// algID is the DER of the signatureAlgorithm AlgorithmIdentifier.
	algID []byte
	// keyHash is the SHA-1 of the certificate's subjectPublicKey: the
	// responderID byKey (RFC 6960 §4.2.1).
	keyHash []byte
	// certs is the DER of the certs field, [0] EXPLICIT SEQUENCE OF
	// Certificate holding cert; it ends every response, so responses share it.
	certs []byte

	// Of a delegate only: issuerKeys are the cache index prefixes
	// (certKey with no serial) of its issuer's key, SHA-1 then SHA-256;
	// issuer is the issuer's subject and source where the delegate came
	// from (Source*); warned records the expiry warnings logged.
	issuerKeys [2]string
	issuer     string
	source     string
	warned     atomic.Uint32
}

// newSigner checks s and prepares it. A delegated signer must carry
// id-kp-OCSPSigning (RFC 6960 §4.2.2.2); the ledger responder is trusted
// directly by relying parties and need not.
func newSigner(s Signer, delegated bool) (*signer, error) {
	if s.Cert == nil || s.Key == nil {
		return nil, fmt.Errorf("%w: signer needs a certificate and a key", certchain.ErrInvalid)
	}
	if pub, ok := s.Key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(s.Cert.PublicKey) {
		return nil, fmt.Errorf("%w: key does not match certificate %q", certchain.ErrInvalid, s.Cert.Subject)
	}
	if delegated && !slices.Contains(s.Cert.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return nil, fmt.Errorf("%w: delegated signer %q lacks id-kp-OCSPSigning", certchain.ErrInvalid, s.Cert.Subject)
	}
	hash, oid, err := signatureAlgorithm(s.Cert.PublicKey)
	if err != nil {
		return nil, err
	}
	bits, err := subjectKeyBits(s.Cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	kh := sha1.Sum(bits)
	return &signer{cert: s.Cert, key: s.Key, hash: hash, algID: algorithmID(oid, oid.Equal(oidRSASHA256)),
		keyHash: kh[:], certs: certsField(s.Cert.Raw)}, nil
}

// signatureAlgorithm picks the digest and algorithm for a key: SHA-256
// unless an ECDSA curve calls for a longer digest.
func signatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, asn1.ObjectIdentifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, oidECDSASHA256, nil
		case elliptic.P384():
			return crypto.SHA384, oidECDSASHA384, nil
		case elliptic.P521():
			return crypto.SHA512, oidECDSASHA512, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, oidRSASHA256, nil
	case ed25519.PublicKey:
		return 0, oidEd25519, nil
	}
	return 0, nil, fmt.Errorf("%w: unsupported responder key %T", certchain.ErrInvalid, pub)
}

// algorithmID encodes an AlgorithmIdentifier; RSA carries NULL parameters
// (RFC 4055 §5), ECDSA and Ed25519 none.
func algorithmID(oid asn1.ObjectIdentifier, nullParams bool) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
	return b.BytesOrPanic()
}

func certsField(certDER []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(certDER) })
	})
	return b.BytesOrPanic()
}

// subjectKeyBits returns the subjectPublicKey BIT STRING bytes of a DER
// SubjectPublicKeyInfo (what OCSP key hashes are computed over).
func subjectKeyBits(spki []byte) ([]byte, error) {
	s := cryptobyte.String(spki)
	var body cryptobyte.String
	var bits asn1.BitString
	if !s.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadASN1BitString(&bits) {
		return nil, fmt.Errorf("%w: bad SubjectPublicKeyInfo", certchain.ErrInvalid)
	}
	return bits.Bytes, nil
}

// sign signs tbs (the DER of ResponseData).
func (s *signer) sign(tbs []byte) ([]byte, error) {
	if s.hash == 0 {
		return s.key.Sign(rand.Reader, tbs, crypto.Hash(0))
	}
	h := s.hash.New()
	h.Write(tbs)
	return s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
}
