// Package validatortest builds test networks and certificates for the
// validator and for the packages that call it (raftstore, api, ocsp).
//
// Everything runs on a fixed clock (Now): certificates are made relative to
// it and rule outcomes never depend on time.Now. It imports only the
// certchain package and the standard library (not validator, so that
// validator's own tests can use it).
package validatortest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

// Now is the fixed block time of test networks.
var Now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// NetworkID is the network ID of test networks.
const NetworkID = "certchain-test"

// Member names of the network NewNetwork makes, one per role (two vendors
// and two CAs, to test acting on another member's certificates).
const (
	Admin     = "admin"
	Vendor    = "vendor"
	Vendor2   = "vendor2"
	CA        = "ca"
	CA2       = "ca2"
	Operator  = "operator"
	Validator = "validator"
)

// Network is a test consortium: a parsed genesis and the keys of its CAs.
type Network struct {
	Genesis   *certchain.Genesis
	NetworkID string
	Now       time.Time
	CA        *Issuer // member CA's root
	CA2       *Issuer // member CA2's root
	// MemberKeys are the private keys of the members' identity
	// certificates (they sign the members' transactions).
	MemberKeys map[string]crypto.Signer
}

// Issuer is a CA certificate with its key.
type Issuer struct {
	Member string
	Cert   *x509.Certificate
	Key    crypto.Signer
}

// Device is a certificate with its key.
type Device struct {
	DER  []byte
	Cert *x509.Certificate
	Key  crypto.Signer
}

// PEM returns the device certificate as a PEM block.
func (d *Device) PEM() []byte { return PEM(d.DER) }

// PEM encodes DER as a CERTIFICATE block.
func PEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// NewNetwork returns a network with one member per role (see the member
// name constants), the default policy, and P-256 root CAs for CA and CA2.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	return NewNetworkAt(t, Now)
}

// NewNetworkAt is NewNetwork on a clock that reads now: certificates and
// genesis are dated relative to it (a node under test stamps blocks with
// the real clock).
func NewNetworkAt(t testing.TB, now time.Time) *Network {
	t.Helper()
	n := &Network{NetworkID: NetworkID, Now: now, MemberKeys: map[string]crypto.Signer{}}
	n.CA = n.Root(t, CA, KeyP256)
	n.CA2 = n.Root(t, CA2, KeyP256)
	g := certchain.Genesis{NetworkID: NetworkID, Time: now.Add(-365 * 24 * time.Hour).Truncate(time.Second)}
	for _, m := range []struct {
		name string
		role certchain.Role
		ca   *Issuer
	}{
		{Admin, certchain.RoleAdmin, nil}, {Vendor, certchain.RoleVendor, nil},
		{Vendor2, certchain.RoleVendor, nil}, {CA, certchain.RoleCA, n.CA},
		{CA2, certchain.RoleCA, n.CA2}, {Operator, certchain.RoleOperator, nil},
		{Validator, certchain.RoleValidator, nil},
	} {
		g.Members = append(g.Members, n.member(t, m.name, m.role, m.ca))
	}
	parsed, err := certchain.ParseGenesis(g.Encode())
	if err != nil {
		t.Fatalf("validatortest: genesis: %v", err)
	}
	n.Genesis = parsed
	return n
}

func (n *Network) member(t testing.TB, name string, role certchain.Role, ca *Issuer) certchain.Member {
	id := n.SelfSigned(t, WithKey(KeyEd25519), WithCN(name+" identity"), WithoutNetworkID())
	n.MemberKeys[name] = id.Key
	m := certchain.Member{Name: name, Role: role, Cert: string(id.PEM())}
	if ca != nil {
		m.CACerts = []string{string(PEM(ca.Cert.Raw))}
	}
	return m
}

// Root makes a self-signed root CA certificate for member.
func (n *Network) Root(t testing.TB, member string, k KeyType) *Issuer {
	t.Helper()
	d := n.SelfSigned(t, WithKey(k), WithCN(member+" root CA"), WithCA(), WithoutNetworkID(),
		WithValidity(n.Now.Add(-365*24*time.Hour), n.Now.Add(10*365*24*time.Hour)))
	return &Issuer{Member: member, Cert: d.Cert, Key: d.Key}
}

// Intermediate makes an intermediate CA certificate signed by parent.
func (n *Network) Intermediate(t testing.TB, parent *Issuer, opts ...Option) *Issuer {
	t.Helper()
	base := []Option{WithCN(parent.Member + " intermediate CA"), WithCA(), WithoutNetworkID()}
	d := n.Leaf(t, parent, append(base, opts...)...)
	return &Issuer{Member: parent.Member, Cert: d.Cert, Key: d.Key}
}

// SelfSigned makes a self-signed device certificate: P-256, valid from an
// hour before Now for five years, carrying this network's ID, unless opts
// say otherwise.
func (n *Network) SelfSigned(t testing.TB, opts ...Option) *Device {
	t.Helper()
	s := n.spec(true, opts)
	return s.make(t, nil, nil)
}

// Leaf makes an end-entity certificate signed by iss (no network-ID
// extension unless opts add one).
func (n *Network) Leaf(t testing.TB, iss *Issuer, opts ...Option) *Device {
	t.Helper()
	s := n.spec(false, opts)
	return s.make(t, iss.Cert, iss.Key)
}

func (n *Network) spec(selfSigned bool, opts []Option) *spec {
	s := &spec{
		key: KeyP256, cn: "device-" + randSerial().Text(36),
		notBefore: n.Now.Add(-time.Hour), notAfter: n.Now.Add(5 * 365 * 24 * time.Hour),
	}
	if selfSigned {
		s.netID = &netID{value: UTF8(n.NetworkID)}
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// KeyType names a key algorithm and size.
type KeyType string

// Key types the helpers can make.
const (
	KeyP224    KeyType = "p224"
	KeyP256    KeyType = "p256"
	KeyP384    KeyType = "p384"
	KeyP521    KeyType = "p521"
	KeyEd25519 KeyType = "ed25519"
	KeyRSA1024 KeyType = "rsa1024"
	KeyRSA2048 KeyType = "rsa2048"
	KeyRSA3072 KeyType = "rsa3072"
)

var rsaKeys sync.Map // KeyType -> *rsa.PrivateKey; RSA generation is slow, so keys are shared

// NewKey returns a key of type k: a fresh one, except RSA keys, which are
// made once per type and shared.
func NewKey(t testing.TB, k KeyType) crypto.Signer {
	t.Helper()
	key, err := newKey(k)
	if err != nil {
		t.Fatalf("validatortest: key %s: %v", k, err)
	}
	return key
}

func newKey(k KeyType) (crypto.Signer, error) {
	curves := map[KeyType]elliptic.Curve{KeyP224: elliptic.P224(), KeyP256: elliptic.P256(), KeyP384: elliptic.P384(), KeyP521: elliptic.P521()}
	bits := map[KeyType]int{KeyRSA1024: 1024, KeyRSA2048: 2048, KeyRSA3072: 3072}
	switch {
	case curves[k] != nil:
		return ecdsa.GenerateKey(curves[k], rand.Reader)
	case k == KeyEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case bits[k] != 0:
		return rsaKey(k, bits[k])
	}
	panic("validatortest: unknown key type " + string(k))
}

func rsaKey(k KeyType, bits int) (crypto.Signer, error) {
	if v, ok := rsaKeys.Load(k); ok {
		return v.(*rsa.PrivateKey), nil
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	v, _ := rsaKeys.LoadOrStore(k, key)
	return v.(*rsa.PrivateKey), nil
}

func randSerial() *big.Int {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		panic(err)
	}
	return s.Add(s, big.NewInt(1))
}

// Name returns a subject name with just a common name.
func Name(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
