package devnet

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

// Load reads the network in dir and validates it: the genesis parses, every
// key matches its certificate, the node, OCSP and member certificates chain
// to the network CA with the right extended key usages (at the genesis
// time, so Load does not read the clock), the member files are the
// certificates the genesis names, and the member CA is a trust anchor of a
// genesis member. A broken network is an error wrapping certchain.ErrInvalid.
func Load(dir string) (*Network, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	n := layout(dir)
	for _, step := range []func() error{n.readGenesis, n.readMeta, n.checkCA, n.checkLeaves, n.checkMembers, n.checkMemberCA} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("devnet: load %s: %w", dir, err)
		}
	}
	return n, nil
}

func (n *Network) readGenesis() error {
	data, err := os.ReadFile(n.GenesisFile)
	if err != nil {
		return err
	}
	n.Genesis, err = certchain.ParseGenesis(data)
	return err
}

func (n *Network) readMeta() error {
	data, err := os.ReadFile(n.MetaFile)
	if err != nil {
		return err
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %s: %v", certchain.ErrInvalid, n.MetaFile, err)
	}
	n.Hosts, n.OCSPURLs = m.Hosts, m.OCSPURLs
	return nil
}

func (n *Network) checkCA() error {
	ca, _, err := pki.LoadKeyPair(n.CAFile, n.CAKeyFile)
	if err != nil {
		return err
	}
	if !ca.IsCA {
		return fmt.Errorf("%w: %s is not a CA certificate", certchain.ErrInvalid, n.CAFile)
	}
	n.CA = ca
	return nil
}

// checkLeaves checks the node and OCSP responder certificates.
func (n *Network) checkLeaves() (err error) {
	n.NodeCert, err = n.checkLeaf(n.NodeCertFile, n.NodeKeyFile, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return err
	}
	n.OCSPCert, err = n.checkLeaf(n.OCSPCertFile, n.OCSPKeyFile, x509.ExtKeyUsageOCSPSigning)
	return err
}

// checkLeaf loads a pair and verifies the certificate to the network CA
// for each of ekus.
func (n *Network) checkLeaf(certFile, keyFile string, ekus ...x509.ExtKeyUsage) (*x509.Certificate, error) {
	cert, _, err := pki.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	opts := x509.VerifyOptions{Roots: n.CAPool(), CurrentTime: n.Genesis.Time}
	for _, eku := range ekus {
		opts.KeyUsages = []x509.ExtKeyUsage{eku}
		if _, err := cert.Verify(opts); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", certchain.ErrInvalid, certFile, err)
		}
	}
	return cert, nil
}

// checkMembers checks that every genesis member has its identity files.
func (n *Network) checkMembers() error {
	for _, m := range n.Genesis.Members {
		certFile, keyFile := n.MemberCert(m.Name)
		cert, err := n.checkLeaf(certFile, keyFile, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return err
		}
		if !samePEM(m.Cert, cert) {
			return fmt.Errorf("%w: %s is not the certificate the genesis names for %q", certchain.ErrInvalid, certFile, m.Name)
		}
	}
	return nil
}

// checkMemberCA checks the member CA pair and that a genesis member
// anchors it.
func (n *Network) checkMemberCA() error {
	ca, _, err := pki.LoadKeyPair(n.MemberCAFile, n.MemberCAKeyFile)
	if err != nil {
		return err
	}
	for _, m := range n.Genesis.Members {
		for _, c := range m.CACerts {
			if ca.IsCA && samePEM(c, ca) {
				n.MemberCA = ca
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s is not a CA certificate of any genesis member", certchain.ErrInvalid, n.MemberCAFile)
}

// samePEM reports whether certPEM holds exactly cert.
func samePEM(certPEM string, cert *x509.Certificate) bool {
	der, err := certchain.CertPEM(certPEM)
	return err == nil && bytes.Equal(der, cert.Raw)
}
