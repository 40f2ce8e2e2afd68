package validator

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/certchain/certchain/certchain"
)

// ErrWrongOrg is returned by VerifyOrgCert when a certificate does not
// chain to the CA of the organisation it must belong to.
var ErrWrongOrg = errors.New("certificate does not chain to its organization's CA")

// OrgRoots parses the CA certificates of organisation o into a pool.
func OrgRoots(o *certchain.Organization) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	cas := make([]*x509.Certificate, 0, len(o.CACerts))
	for i, p := range o.CACerts {
		c, err := parsePEMCert(p)
		if err == nil && !(c.BasicConstraintsValid && c.IsCA) {
			err = errors.New("not a CA certificate")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("organization %q: CA certificate %d: %w", o.Name, i+1, err)
		}
		pool.AddCert(c)
		cas = append(cas, c)
	}
	return pool, cas, nil
}

// VerifyOrgCert checks that chain (leaf first, intermediates after) is a
// certificate of organisation o, valid at now for every one of usages
// (x509.ExtKeyUsageAny when none is given).
func VerifyOrgCert(chain []*x509.Certificate, o *certchain.Organization, now time.Time, usages ...x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("no certificate")
	}
	roots, _, err := OrgRoots(o)
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	for _, u := range usages {
		opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u}}
		if _, err := chain[0].Verify(opts); err != nil {
			return fmt.Errorf("%w (organization %q): %v", ErrWrongOrg, o.Name, err)
		}
	}
	return nil
}

// NodeIDOf returns the validator ID a node certificate names in its URI
// subject alternative name (certchain.NodeURIPrefix), or "" when it names
// none. A certificate naming two IDs names none that counts: an error.
func NodeIDOf(c *x509.Certificate) (string, error) {
	id := ""
	for _, u := range c.URIs {
		s := u.String()
		if len(s) <= len(certchain.NodeURIPrefix) || s[:len(certchain.NodeURIPrefix)] != certchain.NodeURIPrefix {
			continue
		}
		if id != "" {
			return "", errors.New("the certificate names more than one validator ID")
		}
		id = s[len(certchain.NodeURIPrefix):]
	}
	return id, nil
}

// CheckGenesis checks the certificates of a founding genesis (a node
// refuses to start on one that fails, and the founding ceremony refuses
// to assemble it): what NewOptions checks, and in a network with
// organisations what checkOrgs does.
func CheckGenesis(g *certchain.Genesis) error {
	if _, err := NewOptions(g, g.Time); err != nil {
		return err
	}
	if err := checkOrgs(g); err != nil {
		return fmt.Errorf("validator: genesis: %w", err)
	}
	return nil
}

// checkOrgs checks the certificates of a genesis with organisations: each
// organisation's CA certificates are CA certificates and no two
// organisations share a CA key; every member's identity certificate chains
// to its own organisation's CA (at the genesis time, for client
// authentication); no two members share an identity key.
func checkOrgs(g *certchain.Genesis) error {
	if !g.HasOrgs() {
		return nil
	}
	keys := map[[32]byte]string{}
	for i := range g.Organizations {
		o := &g.Organizations[i]
		_, cas, err := OrgRoots(o)
		if err != nil {
			return err
		}
		for _, c := range cas {
			k := sha256.Sum256(c.RawSubjectPublicKeyInfo)
			if other, dup := keys[k]; dup && other != o.Name {
				return fmt.Errorf("organizations %q and %q have the same CA key", other, o.Name)
			}
			keys[k] = o.Name
		}
	}
	idKeys := map[[32]byte]string{}
	for i := range g.Members {
		m := &g.Members[i]
		c, err := memberOrgCheck(g, m, g.Time)
		if err != nil {
			return err
		}
		k := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		if other, dup := idKeys[k]; dup {
			return fmt.Errorf("members %q and %q have the same identity key", other, m.Name)
		}
		idKeys[k] = m.Name
	}
	return nil
}

// memberOrgCheck checks, in a network with organisations, that member m
// names one and that its identity certificate chains to that
// organisation's CA at now. It returns the parsed identity certificate.
func memberOrgCheck(g *certchain.Genesis, m *certchain.Member, now time.Time) (*x509.Certificate, error) {
	c, err := parsePEMCert(m.Cert)
	if err != nil {
		return nil, fmt.Errorf("member %q: cert: %w", m.Name, err)
	}
	if !g.HasOrgs() {
		return c, nil
	}
	o, ok := g.Org(m.Org)
	if !ok {
		return nil, fmt.Errorf("member %q: organization %q is not in the network", m.Name, m.Org)
	}
	if err := VerifyOrgCert([]*x509.Certificate{c}, o, now, x509.ExtKeyUsageClientAuth); err != nil {
		return nil, fmt.Errorf("member %q: identity certificate: %w", m.Name, err)
	}
	return c, nil
}
