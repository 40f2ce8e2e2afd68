package devnet

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer/local"
)

// builder writes a new network into a directory, step by step.
type builder struct {
	p         *Network // paths only
	o         Options
	notBefore time.Time
	ca        *local.Signer // network CA
	caMember  string        // the member CA certificate PEM
	members   []certchain.Member
}

// build writes the whole network into dir and returns its genesis.
func build(dir string, o Options) (*certchain.Genesis, error) {
	b := &builder{p: layout(dir), o: o, notBefore: o.Now.Add(-backdate)}
	steps := []func() error{b.mkdirs, b.networkCA, b.node, b.ocsp, b.memberCA, b.founders, b.meta}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return b.genesis()
}

func (b *builder) mkdirs() error {
	for _, d := range []string{membersDir, memberCADir} {
		if err := os.Mkdir(filepath.Join(b.p.Dir, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// networkCA makes the infrastructure CA and its signer.
func (b *builder) networkCA() error {
	certPEM, keyPEM, err := newCA(b.o.NetworkID+" network CA", b.o.NetworkID, b.o.Now, true)
	if err != nil {
		return err
	}
	if err := writePair(b.p.CAFile, b.p.CAKeyFile, certPEM, keyPEM); err != nil {
		return err
	}
	b.ca, err = local.NewSignerFromFile(b.p.CAFile, b.p.CAKeyFile, infraPolicy())
	if err != nil {
		return fmt.Errorf("network CA signer: %w", err)
	}
	return nil
}

// node issues the node's TLS certificate (server and client auth).
func (b *builder) node() error {
	req := &csr.CertificateRequest{CN: b.o.NetworkID + " node", Names: []csr.Name{{O: b.o.NetworkID}}, Hosts: b.o.Hosts}
	_, err := b.issue(profileNode, req, b.p.NodeCertFile, b.p.NodeKeyFile)
	return err
}

// ocsp issues the OCSP responder certificate.
func (b *builder) ocsp() error {
	req := &csr.CertificateRequest{CN: b.o.NetworkID + " OCSP responder", Names: []csr.Name{{O: b.o.NetworkID}}}
	_, err := b.issue(profileOCSP, req, b.p.OCSPCertFile, b.p.OCSPKeyFile)
	return err
}

// memberCA makes the "ca" member's own issuing CA.
func (b *builder) memberCA() error {
	certPEM, keyPEM, err := newCA(b.o.NetworkID+" member CA", "ca", b.o.Now, false)
	if err != nil {
		return err
	}
	b.caMember = string(certPEM)
	return writePair(b.p.MemberCAFile, b.p.MemberCAKeyFile, certPEM, keyPEM)
}

// founders issues the identity certificates of the founding members.
func (b *builder) founders() error {
	for _, f := range founders {
		req := &csr.CertificateRequest{CN: f.name, Names: []csr.Name{{O: f.name}}}
		certFile, keyFile := b.p.MemberCert(f.name)
		certPEM, err := b.issue(profileMember, req, certFile, keyFile)
		if err != nil {
			return err
		}
		m := certchain.Member{Name: f.name, Role: f.role, Cert: string(certPEM)}
		switch f.role {
		case certchain.RoleCA:
			m.CACerts = []string{b.caMember}
		case certchain.RoleVendor, certchain.RoleOperator:
			// The vendor's devices name it as their organization (what
			// `certchain device new` does); the operator runs their network.
			m.Namespace = &certchain.Namespace{Organizations: []string{devVendor}}
		}
		b.members = append(b.members, m)
	}
	return nil
}

func (b *builder) meta() error {
	return writeJSON(b.p.MetaFile, meta{Hosts: b.o.Hosts, OCSPURLs: b.o.OCSPURLs})
}

// genesis writes genesis.json.
func (b *builder) genesis() (*certchain.Genesis, error) {
	g := &certchain.Genesis{
		NetworkID:    b.o.NetworkID,
		NetworkIDOID: certchain.DefaultNetworkIDOID,
		Time:         b.o.Now,
		Policy:       b.policy(),
		Members:      b.members,
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, writeJSON(b.p.GenesisFile, g)
}

// issue has the network CA sign a fresh key for req, writes the pair and
// returns the certificate PEM.
func (b *builder) issue(prof string, req *csr.CertificateRequest, certFile, keyFile string) ([]byte, error) {
	certPEM, keyPEM, err := issue(b.ca, prof, req, b.notBefore)
	if err != nil {
		return nil, err
	}
	return certPEM, writePair(certFile, keyFile, certPEM, keyPEM)
}

// policy is the default policy, with member signatures required if asked.
func (b *builder) policy() certchain.Policy {
	p := certchain.DefaultPolicy()
	p.RequireSignatures = b.o.RequireSignatures
	return p
}
