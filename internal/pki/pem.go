package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/certchain/certchain/certchain"
	"github.com/cloudflare/cfssl/helpers"
)

// EncodeCertPEM returns der as a PEM "CERTIFICATE" block.
func EncodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// EncodeKeyPEM returns key as a PKCS#8 PEM "PRIVATE KEY" block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadKeyPair reads a PEM certificate and its PEM private key (PKCS#8,
// PKCS#1 or SEC 1, as cfssl's helpers read them) and checks that the key
// belongs to the certificate.
func LoadKeyPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", certchain.ErrInvalid, certFile, err)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", certchain.ErrInvalid, keyFile, err)
	}
	if !KeyMatches(cert, key) {
		return nil, nil, fmt.Errorf("%w: %s does not hold the key of %s", certchain.ErrInvalid, keyFile, certFile)
	}
	return cert, key, nil
}

// KeyMatches reports whether key is the private key of cert.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
