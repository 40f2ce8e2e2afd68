package devnet

import (
	"crypto/tls"
	"fmt"

	"github.com/certchain/certchain/certchain"
)

// ClientTLS returns a TLS client configuration that presents the identity
// certificate of member name and trusts the network CA.
func (n *Network) ClientTLS(name string) (*tls.Config, error) {
	if _, ok := n.Genesis.Member(name); !ok {
		return nil, fmt.Errorf("devnet: member %q: %w", name, certchain.ErrNotFound)
	}
	pair, err := tls.LoadX509KeyPair(n.MemberCert(name))
	if err != nil {
		return nil, fmt.Errorf("devnet: member %q: %w", name, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: n.CAPool(), MinVersion: tls.VersionTLS12}, nil
}

// ServerTLS returns the node's TLS server configuration. It asks clients
// for a certificate but does not verify it (tls.RequestClientCert): the
// application matches the presented certificate against the member
// identities it pins, so unknown clients can still read public status.
func (n *Network) ServerTLS() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(n.NodeCertFile, n.NodeKeyFile)
	if err != nil {
		return nil, fmt.Errorf("devnet: node: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}, nil
}
