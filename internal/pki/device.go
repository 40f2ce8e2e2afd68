package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/cloudflare/cfssl/csr"
)

// DefaultDeviceValidity is the validity of a device certificate when
// DeviceOptions.Validity is zero: ten years, within the default policy's
// twenty-year MaxValidity.
const DefaultDeviceValidity = 10 * 365 * 24 * time.Hour

// Key types accepted by DeviceOptions.KeyType and GenerateKey.
const (
	KeyP256    = "p256"
	KeyP384    = "p384"
	KeyEd25519 = "ed25519"
	KeyRSA2048 = "rsa2048"
)

// keyRequests maps our key-type names to cfssl key requests.
var keyRequests = map[string]csr.KeyRequest{
	KeyP256:    {A: "ecdsa", S: 256},
	KeyP384:    {A: "ecdsa", S: 384},
	KeyEd25519: {A: "ed25519"},
	KeyRSA2048: {A: "rsa", S: 2048},
}

// DeviceOptions describe a device certificate. The zero value of each
// optional field is documented on it.
type DeviceOptions struct {
	// NetworkID is the ledger network the certificate is made for
	// (required). It goes into the network-ID extension.
	NetworkID string
	// OID of the network-ID extension; nil means certchain.DefaultNetworkIDOID.
	OID asn1.ObjectIdentifier
	// Organization is the subject O; empty means none.
	Organization string
	// CommonName is the subject CN, the device serial (required). For
	// MakeDevices it is the prefix of every device's CN.
	CommonName string
	// URI is an optional SAN URI, e.g. urn:certchain:<network>:<vendor>:<serial>.
	// For MakeDevices it is the prefix of every device's URI.
	URI string
	// OCSPURLs go into the Authority Information Access extension.
	OCSPURLs []string
	// NotBefore starts the validity; zero means now, truncated to the second
	// (MakeDevices reads the clock once for the whole batch).
	NotBefore time.Time
	// Validity is NotAfter - NotBefore; zero means DefaultDeviceValidity.
	Validity time.Duration
	// KeyType is one of KeyP256 (the default when empty), KeyP384,
	// KeyEd25519, KeyRSA2048.
	KeyType string
}

// withDefaults fills zero fields and checks the rest.
func (o DeviceOptions) withDefaults() (DeviceOptions, error) {
	if o.OID == nil {
		o.OID = DefaultNetworkIDOID()
	}
	if o.KeyType == "" {
		o.KeyType = KeyP256
	}
	if o.Validity == 0 {
		o.Validity = DefaultDeviceValidity
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().UTC().Truncate(time.Second)
	}
	if _, ok := keyRequests[o.KeyType]; !ok {
		return o, fmt.Errorf("%w: device: unknown key type %q", certchain.ErrInvalid, o.KeyType)
	}
	if o.Validity < 0 {
		return o, fmt.Errorf("%w: device: negative validity", certchain.ErrInvalid)
	}
	return o, nil
}

// GenerateKey generates a private key of keyType ("" means KeyP256) with
// cfssl's key generator.
func GenerateKey(keyType string) (crypto.Signer, error) {
	if keyType == "" {
		keyType = KeyP256
	}
	kr, ok := keyRequests[keyType]
	if !ok {
		return nil, fmt.Errorf("%w: unknown key type %q", certchain.ErrInvalid, keyType)
	}
	k, err := kr.Generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", keyType, err)
	}
	return k.(crypto.Signer), nil // cfssl returns *ecdsa, *rsa or ed25519 private keys
}

// NewDevice generates a key of o.KeyType and a self-signed device
// certificate for it, as a device does on the factory line. It returns the
// certificate DER and the key.
//
// It calls x509.CreateCertificate directly rather than cfssl's selfsign,
// which would need a CSR round trip per device (see the package doc).
func NewDevice(o DeviceOptions) (certDER []byte, key crypto.Signer, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	key, err = GenerateKey(o.KeyType)
	if err != nil {
		return nil, nil, err
	}
	certDER, err = SelfSign(o, key)
	if err != nil {
		return nil, nil, err
	}
	return certDER, key, nil
}

// SelfSign makes the self-signed device certificate of o for an existing
// key (a key generated in an HSM or kept from an earlier certificate).
func SelfSign(o DeviceOptions, key crypto.Signer) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	tmpl, err := deviceTemplate(o, key.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("device %q: sign: %w", o.CommonName, err)
	}
	return der, nil
}

// deviceTemplate builds the certificate template: an end-entity
// certificate for TLS/IKE client and server use.
func deviceTemplate(o DeviceOptions, pub crypto.PublicKey) (*x509.Certificate, error) {
	if o.CommonName == "" {
		return nil, fmt.Errorf("%w: device: common name (serial) is empty", certchain.ErrInvalid)
	}
	ext, err := NetworkIDExtension(o.OID, o.NetworkID)
	if err != nil {
		return nil, err
	}
	serial, err := RandomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               deviceSubject(o),
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotBefore.Add(o.Validity),
		KeyUsage:              deviceKeyUsage(pub),
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		OCSPServer:            o.OCSPURLs,
		ExtraExtensions:       []pkix.Extension{ext},
	}
	if o.URI != "" {
		u, err := url.Parse(o.URI)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("%w: device %q: URI %q is not an absolute URI", certchain.ErrInvalid, o.CommonName, o.URI)
		}
		tmpl.URIs = []*url.URL{u}
	}
	return tmpl, nil
}

func deviceSubject(o DeviceOptions) pkix.Name {
	n := pkix.Name{CommonName: o.CommonName}
	if o.Organization != "" {
		n.Organization = []string{o.Organization}
	}
	return n
}

// deviceKeyUsage is digitalSignature, plus keyEncipherment for RSA keys
// (RSA key transport in TLS 1.2 and IKEv1).
func deviceKeyUsage(pub crypto.PublicKey) x509.KeyUsage {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	return x509.KeyUsageDigitalSignature
}

// serialLimit is 2^128: serials are uniform in [1, 2^128), at most 17 DER
// octets, within RFC 5280 §4.1.2.2's 20.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// RandomSerial returns a random positive 128-bit certificate serial.
func RandomSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
