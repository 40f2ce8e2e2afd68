package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	xacme "golang.org/x/crypto/acme"
)

// identity writes a new member identity (self-signed certificate and key)
// and returns the files.
func identity(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	der, key, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "identities", CommonName: name + " identity"})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, pki.EncodeCertPEM(der))
	writeFile(t, keyFile, keyPEM)
	return certFile, keyFile
}

// newCA makes a CA certificate (PEM file) and a TLS leaf it signed (PEM file).
func newCA(t *testing.T, name, host string) (caFile, leafFile string) {
	t.Helper()
	caKey, _ := pki.GenerateKey(pki.KeyP256)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: []byte(name)}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := pki.GenerateKey(pki.KeyP256)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, leafFile = filepath.Join(dir, name+"-ca.pem"), filepath.Join(dir, host+".pem")
	writeFile(t, caFile, pki.EncodeCertPEM(caDER))
	writeFile(t, leafFile, pki.EncodeCertPEM(leafDER))
	return caFile, leafFile
}

// TestOnboardMembers follows the onboarding of docs/operator.md: an admin adds a
// vendor, a CA and an operator with their namespaces; each acts within its
// role and namespace only; a non-admin cannot add a member; a removed
// member is locked out; the member set survives a restart.
func TestOnboardMembers(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	nid := a.Network.Genesis.NetworkID
	vendorCert, vendorKey := identity(t, "femto-b")
	caCert, caKey := identity(t, "ca-b")
	opCert, opKey := identity(t, "op-b")
	caAnchor, caLeaf := newCA(t, "CA B root", "gw.op-b.example")

	head := a.Node.State().Head()
	if code, out := cli(t, dir, "member", "add", "mallory", "--as", "vendor", "--role", "admin", "--identity", vendorCert); code == 0 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("a vendor adding a member: exit %d\n%s", code, out)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("a refused member change moved the ledger from %d to %d", head.Height, h.Height)
	}
	mustCLI(t, dir, "member", "add", "femto-b", "--as", "admin", "--role", "vendor", "--identity", vendorCert, "--org", "Femto B")
	mustCLI(t, dir, "member", "add", "ca-b", "--as", "admin", "--role", "ca", "--identity", caCert, "--ca-cert", caAnchor, "--dns-suffix", "op-b.example")
	mustCLI(t, dir, "member", "add", "op-b", "--as", "admin", "--role", "operator", "--identity", opCert, "--org", "Femto B")
	if out := mustCLI(t, dir, "member", "list"); !strings.Contains(out, "femto-b") || !strings.Contains(out, "dns=op-b.example") {
		t.Fatalf("member list:\n%s", out)
	}

	// as runs a command as a member given by its identity files.
	as := func(cert, key string, cmd ...string) []string {
		return append(cmd, "--cert", cert, "--key", key)
	}
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, append(as(vendorCert, vendorKey, "device", "new"), "--count", "2", "--org", "Femto B", "--network-id", nid, "--out", devs)...)
	if out := mustCLI(t, dir, append(as(vendorCert, vendorKey, "publish"), "--quiet", devs)...); !strings.Contains(out, "published 2 new") {
		t.Fatalf("the new vendor publishes in its namespace: %s", out)
	}
	other := filepath.Join(t.TempDir(), "other")
	mustCLI(t, dir, "device", "new", "--count", "1", "--org", "vendor", "--network-id", nid, "--out", other)
	if code, out := cli(t, dir, append(as(vendorCert, vendorKey, "publish"), "--quiet", "--report", filepath.Join(t.TempDir(), "r.tsv"), other)...); code != 2 || !strings.Contains(out, "1 rejected") {
		t.Fatalf("the new vendor publishing into another namespace: exit %d %s", code, out)
	}

	// The new CA member publishes what its CA signed; the founding CA
	// member cannot publish it.
	if code, out := cli(t, dir, "publish", "--quiet", "--as", "ca", "--report", filepath.Join(t.TempDir(), "r.tsv"), caLeaf); code != 2 || !strings.Contains(out, "1 rejected") {
		t.Fatalf("another CA member publishing ca-b's certificate: exit %d %s", code, out)
	}
	if out := mustCLI(t, dir, append(as(caCert, caKey, "publish"), "--quiet", caLeaf)...); !strings.Contains(out, "published 1 new") {
		t.Fatalf("ca-b publishes its certificate: %s", out)
	}

	// The operator suspends devices of its network only.
	dev := filepath.Join(devs, "DEV-0000001.pem")
	mustCLI(t, dir, append(as(opCert, opKey, "suspend"), dev)...)
	if code, out := cli(t, dir, append(as(opCert, opKey, "suspend"), filepath.Join(other, "DEV-0000001.pem"))...); code == 0 {
		t.Fatalf("the operator suspended a device outside its network:\n%s", out)
	}

	mustCLI(t, dir, "member", "remove", "femto-b", "--as", "admin")
	if code, out := cli(t, dir, append(as(vendorCert, vendorKey, "resume"), dev)...); code == 0 || !strings.Contains(out, "not a member") {
		t.Fatalf("a removed member acting: exit %d\n%s", code, out)
	}

	// The member set is ledger state: it survives a restart.
	_ = a.Close()
	a = startApp(t, dir)
	g := a.Node.State().Genesis()
	if _, ok := g.Member("femto-b"); ok {
		t.Fatal("femto-b is back after a restart")
	}
	if m, ok := g.Member("ca-b"); !ok || m.Namespace == nil || m.Namespace.DNSSuffixes[0] != "op-b.example" {
		t.Fatalf("ca-b after a restart: %+v %v", m, ok)
	}
}

// TestSignedNetwork: on a network whose policy requires member signatures
// (what certchain init makes by default), the CLI signs every write
// (publish stream, status changes, key revocation, member changes), the
// ACME server signs as its CA member, and an unsigned write is refused by
// the ledger ("signature") without moving it.
func TestSignedNetwork(t *testing.T) {
	netDir := t.TempDir() + "/net"
	mustCLI(t, t.TempDir(), "init", "--dir", netDir)
	ch := newChallengeServers(t)
	ch.host(t, "signed.certchain.test")
	a := startAppWith(t, t.TempDir(), func(c *Config) { c.Network, c.ACMEHTTPPort, c.ACMEResolver = netDir, ch.httpPort, ch.dns.Addr })
	dir := a.Config.DataDir
	if !a.Network.Genesis.Policy.RequireSignatures {
		t.Fatal("the network does not require signatures")
	}
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--count", "3", "--out", devs)
	if out := mustCLI(t, dir, "publish", "--quiet", devs); !strings.Contains(out, "published 3 new") {
		t.Fatalf("signed publish: %s", out)
	}
	dev := filepath.Join(devs, "DEV-0000001.pem")
	mustCLI(t, dir, "suspend", dev)
	mustCLI(t, dir, "resume", dev)
	mustCLI(t, dir, "revoke", "--reason", "keyCompromise", dev)
	mustCLI(t, dir, "revoke-key", filepath.Join(devs, "DEV-0000002.pem"))
	cert, _ := identity(t, "femto-s")
	mustCLI(t, dir, "member", "add", "femto-s", "--as", "admin", "--role", "vendor", "--identity", cert, "--org", "S")
	mustCLI(t, dir, "member", "remove", "femto-s", "--as", "admin")

	// An unsigned write: refused at the ledger, nothing changes.
	head := a.Node.State().Head()
	resp, err := httpsClient(t, a, "vendor").Post(a.HTTPSURL+"/v1/certificates", "application/x-pem-file",
		bytes.NewReader(pki.EncodeCertPEM(newDevice(t, a, "unsigned-1"))))
	if err != nil {
		t.Fatal(err)
	}
	var pr api.PublishResponse
	_ = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if pr.Rejected != 1 || !strings.HasPrefix(pr.Results[0].Reason, "signature:") {
		t.Fatalf("unsigned publish: %+v", pr)
	}
	if h := a.Node.State().Head(); h.Height != head.Height {
		t.Fatalf("an unsigned write moved the ledger from %d to %d", head.Height, h.Height)
	}

	// The ACME server signs its publish as the CA member.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := acmeAccount(t, ctx, a, newKey(t, "p256"))
	o := ch.readyOrder(t, ctx, c, "signed.certchain.test")
	ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csrFor(t, newKey(t, "p256"), "signed.certchain.test"), false)
	if err != nil {
		t.Fatalf("ACME on a signed network: %v", err)
	}
	if err := c.RevokeCert(ctx, nil, ders[0], xacme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("ACME revocation on a signed network: %v", err)
	}
	// Every block's transactions carry signatures.
	for h := uint64(1); h <= a.Node.State().Head().Height; h++ {
		blk, err := a.Node.State().Block(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, tx := range blk.Txs {
			if blk.Verdicts[i].Code == certchain.Accepted && len(tx.Sig) == 0 && tx.Submitter != certchain.OwnerSubmitter {
				t.Fatalf("block %d: an accepted %s without a signature", h, tx.Type)
			}
		}
	}
}
