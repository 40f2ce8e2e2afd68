package devnet

import (
	"crypto/x509"
	"path/filepath"

	"github.com/certchain/certchain/certchain"
)

// File names inside a network directory.
const (
	GenesisFileName = "genesis.json"
	metaFileName    = "devnet.json"
	membersDir      = "members"
	memberCADir     = "member-ca"
)

// devVendor is the development network's vendor member, whose name is the
// organization of its devices (its namespace).
const devVendor = "vendor"

// founders are the members of a new development network, in genesis order.
var founders = []struct {
	name string
	role certchain.Role
}{
	{"admin", certchain.RoleAdmin},
	{devVendor, certchain.RoleVendor},
	{"ca", certchain.RoleCA},
	{"operator", certchain.RoleOperator},
}

// Network is a development network on disk: the paths of its files and,
// once loaded, the parsed objects.
type Network struct {
	Dir string

	Genesis  *certchain.Genesis
	Hosts    []string // node certificate SANs
	OCSPURLs []string // the network's OCSP URLs (may be empty)

	GenesisFile, MetaFile         string
	CAFile, CAKeyFile             string
	NodeCertFile, NodeKeyFile     string
	OCSPCertFile, OCSPKeyFile     string
	MemberCAFile, MemberCAKeyFile string

	CA       *x509.Certificate // network infrastructure CA
	MemberCA *x509.Certificate // the "ca" member's issuing CA
	NodeCert *x509.Certificate
	OCSPCert *x509.Certificate // OCSP responder
}

// layout returns a Network with the file paths of dir filled in.
func layout(dir string) *Network {
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	return &Network{
		Dir:             dir,
		GenesisFile:     j(GenesisFileName),
		MetaFile:        j(metaFileName),
		CAFile:          j("ca.pem"),
		CAKeyFile:       j("ca-key.pem"),
		NodeCertFile:    j("node.pem"),
		NodeKeyFile:     j("node-key.pem"),
		OCSPCertFile:    j("ocsp.pem"),
		OCSPKeyFile:     j("ocsp-key.pem"),
		MemberCAFile:    j(memberCADir, "ca.pem"),
		MemberCAKeyFile: j(memberCADir, "ca-key.pem"),
	}
}

// MemberCert returns the identity certificate and key files of member name.
func (n *Network) MemberCert(name string) (certFile, keyFile string) {
	base := filepath.Join(n.Dir, membersDir, name)
	return base + ".pem", base + "-key.pem"
}

// MemberNames returns the names of the genesis members, in genesis order.
func (n *Network) MemberNames() []string {
	names := make([]string, len(n.Genesis.Members))
	for i, m := range n.Genesis.Members {
		names[i] = m.Name
	}
	return names
}

// CAPool returns a pool holding the network CA.
func (n *Network) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(n.CA)
	return p
}
