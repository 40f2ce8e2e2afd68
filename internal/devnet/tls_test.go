package devnet

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

func TestTLSHandshake(t *testing.T) {
	n := create(t)
	srv, err := n.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan []*x509.Certificate, 1)
	go serveOne(ln, seen)

	cli, err := n.ClientTLS("vendor")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var peers []*x509.Certificate
	select {
	case peers = <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no handshake")
	}
	vendor, _ := n.Genesis.Member("vendor")
	want, _ := certchain.CertPEM(vendor.Cert)
	if len(peers) != 1 || !bytes.Equal(peers[0].Raw, want) {
		t.Fatalf("server saw %d certificates, not the vendor's", len(peers))
	}
}

// serveOne completes one handshake and reports the client's certificates.
func serveOne(ln net.Listener, seen chan<- []*x509.Certificate) {
	c, err := ln.Accept()
	if err != nil {
		seen <- nil
		return
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	if err := tc.Handshake(); err != nil {
		seen <- nil
		return
	}
	seen <- tc.ConnectionState().PeerCertificates
}

func TestClientTLSUnknownMember(t *testing.T) {
	n := create(t)
	if _, err := n.ClientTLS("mallory"); !errors.Is(err, certchain.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestSignWithMemberCA(t *testing.T) {
	n := create(t)
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := n.SignWithMemberCA(key, "slice-a.operator.example", []string{"slice-a.operator.example", "10.0.0.1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := parsePEM(t, certPEM)
	member := x509.NewCertPool()
	member.AddCert(n.MemberCA)
	opts := x509.VerifyOptions{Roots: member, DNSName: "slice-a.operator.example"}
	if _, err := leaf.Verify(opts); err != nil {
		t.Fatalf("does not verify to the member CA: %v", err)
	}
	opts.Roots = n.CAPool()
	if _, err := leaf.Verify(opts); err == nil {
		t.Fatal("verifies to the network CA too")
	}
	if !pki.KeyMatches(leaf, key) || leaf.IsCA || len(leaf.IPAddresses) != 1 {
		t.Fatalf("leaf: IsCA %v IPs %v", leaf.IsCA, leaf.IPAddresses)
	}
	if len(leaf.OCSPServer) != 1 || leaf.OCSPServer[0] != n.OCSPURLs[0] {
		t.Fatalf("AIA OCSP %v", leaf.OCSPServer)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != DefaultLeafValidity {
		t.Fatalf("validity %v", d)
	}
}
