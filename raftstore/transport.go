package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// A Raft server address here is "host:port" or "host:port|https://api":
// the node's Raft address and, after the bar, the base URL of its API. Raft
// replicates its configuration, so every node knows every other node's API
// and a follower can always forward a write to the leader's API.
const addrSep = "|"

// JoinAddress makes the Raft server address of a node.
func JoinAddress(raftAddr, api string) raft.ServerAddress {
	if api == "" {
		return raft.ServerAddress(raftAddr)
	}
	return raft.ServerAddress(raftAddr + addrSep + api)
}

// SplitAddress returns the Raft address and API URL of a server address.
func SplitAddress(a raft.ServerAddress) (raftAddr, api string) {
	raftAddr, api, _ = strings.Cut(string(a), addrSep)
	return raftAddr, api
}

// RaftTLS is the mutual TLS of Raft traffic: this node's certificate, and
// the CA whose node certificates its peers must present.
type RaftTLS struct {
	Cert tls.Certificate
	// GetCertificate, when set, is asked for this node's certificate at
	// every handshake, as server and as client, instead of Cert: a node
	// that replaces its certificate while running keeps its established
	// Raft connections and uses the new one for the next.
	GetCertificate func() (*tls.Certificate, error)
	CA             *x509.CertPool
}

// certificate returns the certificate of the next handshake.
func (t *RaftTLS) certificate() (*tls.Certificate, error) {
	if t.GetCertificate != nil {
		return t.GetCertificate()
	}
	return &t.Cert, nil
}

// VerifyNodeCert checks that certs (leaf first) is a node certificate of
// the network: it chains to roots and allows both server and client
// authentication. Member identity certificates are client-only, so a
// member cannot pose as a validator.
func VerifyNodeCert(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("no node certificate presented")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
		if _, err := certs[0].Verify(opts); err != nil {
			return fmt.Errorf("not a node certificate of this network: %w", err)
		}
	}
	return nil
}

func (t *RaftTLS) server() *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return t.certificate() },
		ClientAuth:     tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error { return VerifyNodeCert(cs.PeerCertificates, t.CA) },
	}
}

func (t *RaftTLS) client() *tls.Config {
	return &tls.Config{
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return t.certificate() },
		MinVersion:           tls.VersionTLS13,
		InsecureSkipVerify:   true, // replaced by VerifyConnection: node certificate, whatever name was dialled
		VerifyConnection:     func(cs tls.ConnectionState) error { return VerifyNodeCert(cs.PeerCertificates, t.CA) },
	}
}

// streamLayer is a raft.StreamLayer over TCP, with mutual TLS unless tls
// is nil (explicit development mode).
type streamLayer struct {
	ln        net.Listener
	advertise raft.ServerAddress
	tls       *RaftTLS
}

func newStreamLayer(bind, advertise, api string, t *RaftTLS) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft listen: %w", err)
	}
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	if t != nil {
		ln = tls.NewListener(ln, t.server())
	}
	return &streamLayer{ln: ln, advertise: JoinAddress(advertise, api), tls: t}, nil
}

// Accept implements net.Listener.
func (l *streamLayer) Accept() (net.Conn, error) { return l.ln.Accept() }

// Close implements net.Listener.
func (l *streamLayer) Close() error { return l.ln.Close() }

// Addr implements net.Listener: the advertised server address, which Raft
// sends to its peers.
func (l *streamLayer) Addr() net.Addr { return serverAddr(l.advertise) }

// Dial implements raft.StreamLayer.
func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	host, _ := SplitAddress(addr)
	d := &net.Dialer{Timeout: timeout}
	if l.tls == nil {
		return d.Dial("tcp", host)
	}
	return tls.DialWithDialer(d, "tcp", host, l.tls.client())
}

// serverAddr is a raft.ServerAddress as a net.Addr.
type serverAddr raft.ServerAddress

func (a serverAddr) Network() string { return "tcp" }
func (a serverAddr) String() string  { return string(a) }
