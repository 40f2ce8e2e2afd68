package raftstore

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/devnet"
	"github.com/certchain/certchain/internal/pki"
	"github.com/hashicorp/raft"
)

// TestRaftTLSCertificateGetter: with GetCertificate, a Raft connection
// made before the node certificates change keeps working on the old ones,
// and the next connection presents the new ones, in both directions.
func TestRaftTLSCertificateGetter(t *testing.T) {
	nw, err := devnet.Create(filepath.Join(t.TempDir(), "net"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var serverCert, clientCert atomic.Pointer[tls.Certificate]
	serverCert.Store(ptr(issueNodeCert(t, nw)))
	clientCert.Store(ptr(issueNodeCert(t, nw)))
	getter := func(p *atomic.Pointer[tls.Certificate]) func() (*tls.Certificate, error) {
		return func() (*tls.Certificate, error) { return p.Load(), nil }
	}
	l, err := newStreamLayer("127.0.0.1:0", "", "", &RaftTLS{GetCertificate: getter(&serverCert), CA: nw.CAPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go acceptAndTellSerial(l)
	dialer := &streamLayer{tls: &RaftTLS{GetCertificate: getter(&clientCert), CA: nw.CAPool()}}
	addr := raft.ServerAddress(l.Addr().String() + "|https://x")

	oldServer, oldClient := serverCert.Load().Leaf, clientCert.Load().Leaf
	before := dialSerials(t, dialer, addr)
	serverCert.Store(ptr(issueNodeCert(t, nw)))
	clientCert.Store(ptr(issueNodeCert(t, nw)))
	cases := []struct {
		name           string
		conn           *peerConn
		server, client *x509.Certificate
	}{
		{"ok/established-connection-keeps-old-certificates", before, oldServer, oldClient},
		{"ok/new-connection-uses-new-certificates", dialSerials(t, dialer, addr), serverCert.Load().Leaf, clientCert.Load().Leaf},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tc.conn.exchange(t)
			if server != tc.server.SerialNumber.Text(16) || client != tc.client.SerialNumber.Text(16) {
				t.Fatalf("server %s client %s, want %s and %s", server, client, tc.server.SerialNumber.Text(16), tc.client.SerialNumber.Text(16))
			}
		})
	}
}

// peerConn is a Raft connection and what its server said.
type peerConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialSerials(t *testing.T, d *streamLayer, addr raft.ServerAddress) *peerConn {
	t.Helper()
	c, err := d.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peerConn{c: c, r: bufio.NewReader(c)}
}

// exchange asks over the connection which client certificate the server
// saw, and returns it with the server's certificate the client saw.
func (p *peerConn) exchange(t *testing.T) (server, client string) {
	t.Helper()
	_ = p.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.c.Write([]byte("?\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := p.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return p.c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16), line[:len(line)-1]
}

// acceptAndTellSerial answers every line with the serial of the client's
// certificate.
func acceptAndTellSerial(l *streamLayer) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				serial := c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
				if _, err := c.Write([]byte(serial + "\n")); err != nil {
					return
				}
			}
		}()
	}
}

// issueNodeCert issues another node certificate with the network CA.
func issueNodeCert(t *testing.T, nw *devnet.Network) tls.Certificate {
	t.Helper()
	ca, caKey, err := pki.LoadKeyPair(nw.CAFile, nw.CAKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
