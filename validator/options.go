package validator

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// Options are the parameters of verification, like x509.VerifyOptions.
// Check and Decide only read them, so one Options may serve concurrent calls.
type Options struct {
	// NetworkID is this ledger's network ID; required.
	NetworkID string
	// NetworkIDOID is the network-ID extension's OID; zero means
	// certchain.DefaultNetworkIDOID.
	NetworkIDOID asn1.ObjectIdentifier
	// Policy is the genesis policy; each zero field means the value of
	// certchain.DefaultPolicy (as in the genesis).
	Policy certchain.Policy
	// Anchors are the CA certificates of the members with role ca, in
	// genesis order; nil means no CA-signed certificate is accepted.
	Anchors []Anchor
	// Now is the verification time: the block's timestamp when applying,
	// the request time at the API edge. Required; never read from a clock
	// here.
	Now time.Time

	// SignatureVerified, if set, reports that the signature of the
	// transaction with this ID was verified before (VerifyTxSignature, in
	// parallel ahead of a block's decisions), so deciding does not verify
	// it again. It must answer for the same transaction bytes only.
	SignatureVerified func(txID certchain.Hash) bool

	// memberKeys are the public keys of the members' identity
	// certificates, which sign their transactions (NewOptions).
	memberKeys map[string]crypto.PublicKey
}

// Anchor is a trust anchor: a member's CA certificate.
type Anchor struct {
	Member string
	Cert   *x509.Certificate
}

var defaultNetworkIDOID = mustOID(certchain.DefaultNetworkIDOID)

func mustOID(s string) asn1.ObjectIdentifier {
	oid, err := certchain.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return oid
}

// NewOptions returns the options of genesis g at time now, with an anchor
// for every CA certificate of every member with role ca, in genesis order.
// It also checks the genesis certificates certchain leaves unparsed: every
// member certificate must parse (ParseDER) and every CA certificate must
// be a CA certificate. Parsing is the costly part: build the options once
// and use At for each block.
func NewOptions(g *certchain.Genesis, now time.Time) (*Options, error) {
	o := &Options{NetworkID: g.NetworkID, Policy: g.Policy, Now: now}
	if g.NetworkIDOID != "" {
		oid, err := certchain.ParseOID(g.NetworkIDOID)
		if err != nil {
			return nil, fmt.Errorf("validator: genesis network_id_oid: %w", err)
		}
		o.NetworkIDOID = oid
	}
	for _, m := range g.Members {
		if err := o.addMember(&m); err != nil {
			return nil, fmt.Errorf("validator: genesis member %q: %w", m.Name, err)
		}
	}
	return o, o.validate()
}

func (o *Options) addMember(m *certchain.Member) error {
	id, err := parsePEMCert(m.Cert)
	if err != nil {
		return fmt.Errorf("cert: %w", err)
	}
	if o.memberKeys == nil {
		o.memberKeys = map[string]crypto.PublicKey{}
	}
	o.memberKeys[m.Name] = id.PublicKey
	for i, p := range m.CACerts {
		c, err := parsePEMCert(p)
		if err == nil && !(c.BasicConstraintsValid && c.IsCA) {
			err = errors.New("not a CA certificate")
		}
		if err != nil {
			return fmt.Errorf("CA certificate %d: %w", i+1, err)
		}
		if m.Role == certchain.RoleCA {
			o.Anchors = append(o.Anchors, Anchor{Member: m.Name, Cert: c})
		}
	}
	return nil
}

func parsePEMCert(s string) (*x509.Certificate, error) {
	der, err := certchain.CertPEM(s)
	if err != nil {
		return nil, err
	}
	return ParseDER(der)
}

// At returns a copy of o with Now set to now (anchors are shared).
func (o *Options) At(now time.Time) *Options {
	c := *o
	c.Now = now
	return &c
}

// validate reports a misconfiguration: a programming error, not a rule.
func (o *Options) validate() error {
	switch {
	case o == nil:
		return errors.New("validator: nil Options")
	case o.NetworkID == "":
		return errors.New("validator: Options.NetworkID is required")
	case o.Now.IsZero():
		return errors.New("validator: Options.Now is required")
	}
	return nil
}

func (o *Options) networkIDOID() asn1.ObjectIdentifier {
	if len(o.NetworkIDOID) == 0 {
		return defaultNetworkIDOID
	}
	return o.NetworkIDOID
}

// policy returns o.Policy with zero fields set to their defaults.
func (o *Options) policy() certchain.Policy {
	p, d := o.Policy, certchain.DefaultPolicy()
	if p.MaxValidity == 0 {
		p.MaxValidity = d.MaxValidity
	}
	if p.ClockSkew == 0 {
		p.ClockSkew = d.ClockSkew
	}
	if p.MinRSABits == 0 {
		p.MinRSABits = d.MinRSABits
	}
	return p
}
