package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/devnet"
	"github.com/hashicorp/raft"
)

// TestRaftMutualTLS: a node certificate of the network gets through; a
// member's identity certificate (client-only), a certificate of another
// network, and no certificate at all do not.
func TestRaftMutualTLS(t *testing.T) {
	nw, err := devnet.Create(filepath.Join(t.TempDir(), "net"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := devnet.Create(filepath.Join(t.TempDir(), "other"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	node := mustKeyPair(t, nw.NodeCertFile, nw.NodeKeyFile)
	l, err := newStreamLayer("127.0.0.1:0", "", "", &RaftTLS{Cert: node, CA: nw.CAPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go acceptAndEcho(l)
	vendorCert, vendorKey := nw.MemberCert("vendor")
	cases := []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"ok/node-certificate", &node, true},
		{"fail/member-certificate", ptr(mustKeyPair(t, vendorCert, vendorKey)), false},
		{"fail/other-network-node", ptr(mustKeyPair(t, other.NodeCertFile, other.NodeKeyFile)), false},
		{"fail/no-certificate", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := roundTrip(l.Addr().String(), tc.cert, nw.CAPool())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// And the dialling side verifies the server the same way.
	dialer := &streamLayer{tls: &RaftTLS{Cert: node, CA: other.CAPool()}}
	if c, err := dialer.Dial(raft.ServerAddress(l.Addr().String()+"|https://x"), time.Second); err == nil {
		c.Close()
		t.Fatal("dialled a node whose certificate another network's CA did not sign")
	}
}

func roundTrip(addr string, cert *tls.Certificate, roots *x509.CertPool) error {
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 1)) // TLS 1.3: a refused client certificate shows here
	return err
}

func acceptAndEcho(l *streamLayer) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			b := make([]byte, 1)
			if _, err := c.Read(b); err == nil {
				_, _ = c.Write(b)
			}
		}()
	}
}

func mustKeyPair(t *testing.T, cert, key string) tls.Certificate {
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func ptr[T any](v T) *T { return &v }
