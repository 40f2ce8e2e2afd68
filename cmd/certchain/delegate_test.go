package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/devnet"
	"github.com/certchain/certchain/internal/pki"
	"golang.org/x/crypto/ocsp"
)

// TestDelegatedOCSPSigner: a CA member delegates OCSP signing to the
// ledger (an OCSPSigning certificate its CA issued, registered in the
// genesis); responses about its certificates verify for a relying party
// that trusts only that CA. A delegate the genesis does not list is
// refused at start.
func TestDelegatedOCSPSigner(t *testing.T) {
	nw, err := devnet.Create(filepath.Join(t.TempDir(), "network"), devnet.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	delegateCert, delegateKey := issueOCSPDelegate(t, nw)
	cfg := productionConfig(t, nw, registerSigner(t, nw, delegateCert))
	cfg.OCSPDelegates = []OCSPDelegate{{Member: "ca", Cert: delegateCert, Key: delegateKey}}

	unregistered := productionConfig(t, nw, nw.GenesisFile)
	unregistered.OCSPDelegates = cfg.OCSPDelegates
	bad := &App{Config: unregistered, small: true, raftTimeout: 100 * time.Millisecond}
	if err := bad.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "ocsp_signers") {
		bad.Close()
		t.Fatalf("an unregistered delegate was accepted: %v", err)
	}
	bad.Close()

	a := &App{Config: cfg, small: true, raftTimeout: 100 * time.Millisecond}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey(pki.KeyP256)
	leafPEM, err := nw.SignWithMemberCA(key, "slice.op-b.example", []string{"slice.op-b.example"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certchain.CertPEM(string(leafPEM))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Node.Submit(ctx, []certchain.Tx{{Type: certchain.TxPublish, Submitter: "ca", Cert: leaf}})
	if err != nil || res[0].Verdict.Code != certchain.Accepted {
		t.Fatalf("publish: %v %+v", err, res)
	}
	leafCert, _ := x509.ParseCertificate(leaf)
	req, err := ocsp.CreateRequest(leafCert, nw.MemberCA, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := httpGet(t, a.HTTPURL+"/ocsp/"+base64.StdEncoding.EncodeToString(req))
	resp, err := ocsp.ParseResponseForCert(body, leafCert, nw.MemberCA) // trusts the member CA only
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("delegated response: %v %+v", err, resp)
	}
}

// issueOCSPDelegate has the member CA issue an OCSPSigning certificate.
func issueOCSPDelegate(t *testing.T, nw *devnet.Network) (certFile, keyFile string) {
	caCert, caKey, err := pki.LoadKeyPair(nw.MemberCAFile, nw.MemberCAKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey(pki.KeyP256)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "ca member OCSP delegate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "delegate.pem"), filepath.Join(dir, "delegate-key.pem")
	keyPEM, _ := pki.EncodeKeyPEM(key)
	writeFile(t, certFile, pki.EncodeCertPEM(der))
	writeFile(t, keyFile, keyPEM)
	return certFile, keyFile
}

// registerSigner writes a genesis like the network's with the delegate in
// the ca member's ocsp_signers.
func registerSigner(t *testing.T, nw *devnet.Network, certFile string) string {
	g := *nw.Genesis
	g.Members = append([]certchain.Member(nil), g.Members...)
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.Members {
		if g.Members[i].Name == "ca" {
			g.Members[i].OCSPSigners = []string{string(pemBytes)}
		}
	}
	b, _ := json.MarshalIndent(&g, "", "  ")
	path := filepath.Join(t.TempDir(), "genesis.json")
	writeFile(t, path, b)
	return path
}

// productionConfig runs a node on a genesis file with explicit
// credentials (the development network's files), as an operator would.
func productionConfig(t *testing.T, nw *devnet.Network, genesis string) Config {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.HTTPSAddr, cfg.RaftAddr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Genesis, cfg.TLSCert, cfg.TLSKey, cfg.RaftCA = genesis, nw.NodeCertFile, nw.NodeKeyFile, nw.CAFile
	cfg.OCSPCert, cfg.OCSPKey, cfg.Bootstrap = nw.OCSPCertFile, nw.OCSPKeyFile, true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
