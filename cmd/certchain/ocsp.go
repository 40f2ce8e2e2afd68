package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/certreload"
	"github.com/certchain/certchain/internal/pki"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/raftstore"
	"github.com/prometheus/client_golang/prometheus"
)

// delegateRescan is how often the node looks for delegates registered for
// its key besides the blocks it applies (a snapshot installed from the
// leader carries registrations no applied block reported).
const delegateRescan = time.Minute

// ocspNode is the node's OCSP signing: the responder, and the per-node
// delegate key CA members issue delegates to (certchain ocsp delegate).
type ocspNode struct {
	r       *ocsp.Responder
	key     crypto.Signer
	keyHash certchain.Hash // SPKI SHA-256 of key
	csr     []byte         // PEM certificate request for key
	// pair is the ledger responder's certificate and key (reload.go).
	pair *certreload.Pair
}

// startOCSP builds the node's OCSP responder over its ledger state, keeps
// it refreshed from every applied block and re-signed in the background
// until ctx ends. It signs with a delegate of every CA whose key the node
// holds, and with the delegates CA members registered for its key.
func (a *App) startOCSP(ctx context.Context, reg prometheus.Registerer) (*ocspNode, error) {
	certFile, keyFile := a.Config.OCSPCert, a.Config.OCSPKey
	if a.Network != nil && certFile == "" {
		certFile, keyFile = a.Network.OCSPCertFile, a.Network.OCSPKeyFile
	}
	responder, err := certreload.Load(certreload.OCSPResponder, certFile, keyFile, nil)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: %w", err)
	}
	delegates, err := a.delegates()
	if err != nil {
		return nil, err
	}
	cas, err := a.issuingCAs()
	if err != nil {
		return nil, err
	}
	n, err := a.delegateKey()
	if err != nil {
		return nil, err
	}
	n.r, err = ocsp.New(ocsp.Config{
		Source: a.Node.State(), Responder: ocspSigner(responder.Current()), Delegates: delegates, IssuingCAs: cas,
		DelegateValidity: a.Config.OCSPDelegateValidity.D(), NodeID: a.Config.NodeID,
		Validity: a.Config.OCSPValidity.D(), CacheSize: a.Config.OCSPCache, NonceRate: a.Config.OCSPNonceRate,
		Logger: a.Logger, Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: %w", err)
	}
	n.pair = responder
	a.ocsp.Store(n)
	n.scanLedger(a)
	go n.r.Run(ctx)
	go n.rescan(ctx, a)
	return n, nil
}

// refreshOCSP is the node's OnApply hook: every block that changes a
// certificate drops and re-signs its cached OCSP responses on this node,
// and a delegate registered for this node's key starts signing.
func (a *App) refreshOCSP(applied *raftstore.Applied) {
	n := a.ocsp.Load()
	if n == nil {
		return
	}
	if len(applied.Records) > 0 {
		n.r.Refresh(applied.Records)
	}
	for _, d := range applied.Delegates {
		n.use(a, d)
	}
}

// scanLedger starts signing with every delegate registered for this
// node's key.
func (n *ocspNode) scanLedger(a *App) {
	ds, err := a.Node.State().OCSPDelegates(n.keyHash)
	if err != nil {
		a.Logger.Error("reading the OCSP delegates registered for this node", "err", err)
		return
	}
	for _, d := range ds {
		n.use(a, d)
	}
}

func (n *ocspNode) rescan(ctx context.Context, a *App) {
	t := time.NewTicker(delegateRescan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.scanLedger(a)
		}
	}
}

// use hands the responder a delegate registered on the ledger, if it was
// issued for this node's key (registrations for other nodes' keys are
// theirs). Adding one the responder has changes nothing.
func (n *ocspNode) use(a *App, d *certchain.OCSPDelegate) {
	if d.KeyHash != n.keyHash {
		return
	}
	cert, err1 := x509.ParseCertificate(d.Cert)
	issuer, err2 := x509.ParseCertificate(d.Issuer)
	err := errors.Join(err1, err2)
	if err == nil {
		err = n.r.SetDelegate(ocsp.Delegate{Cert: cert, Key: n.key, Issuer: issuer, Source: ocsp.SourceLedger})
	}
	if err != nil {
		a.Logger.Error("an OCSP delegate registered for this node cannot sign", "member", d.Member, "height", d.Height, "err", err)
	}
}

// delegateKey loads this node's delegate key from the data directory,
// making it on first start (it never leaves the node: CA members get a
// certificate request for it), and the request.
func (a *App) delegateKey() (*ocspNode, error) {
	path := filepath.Join(a.Config.DataDir, "ocsp-delegate-key.pem")
	key, err := loadSignerKey(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err = newDelegateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("OCSP delegate key: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: ocsp.DelegateSubject(a.Config.NodeID)}, key)
	if err != nil {
		return nil, fmt.Errorf("OCSP delegate request: %w", err)
	}
	return &ocspNode{key: key, keyHash: sha256.Sum256(spki),
		csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}, nil
}

func newDelegateKey(path string) (crypto.Signer, error) {
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		return nil, err
	}
	b, err := pki.EncodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return key, writeAtomic(path, b, 0o600) // never a partial key file after a crash
}

// issuingCAs are the CAs whose keys this node holds: the ACME issuing CA
// (in development mode the generated "ca" member's CA), whether or not
// ACME is switched off.
func (a *App) issuingCAs() ([]ocsp.CA, error) {
	certFile, keyFile := a.Config.ACMECACert, a.Config.ACMECAKey
	if a.Network != nil && certFile == "" {
		certFile, keyFile = a.Network.MemberCAFile, a.Network.MemberCAKeyFile
	}
	if certFile == "" {
		return nil, nil
	}
	cert, key, err := pki.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("issuing CA for OCSP delegates: %w", err)
	}
	return []ocsp.CA{{Cert: cert, Key: key}}, nil
}

func loadSigner(certFile, keyFile string) (ocsp.Signer, error) {
	cert, key, err := pki.LoadKeyPair(certFile, keyFile)
	return ocsp.Signer{Cert: cert, Key: key}, err
}

// delegates loads the configured delegated signers (--ocsp-delegate),
// each of which must be registered by its CA member in the genesis
// (ocsp_signers) and issued by one of the member's CA certificates.
func (a *App) delegates() ([]ocsp.Delegate, error) {
	var out []ocsp.Delegate
	for _, d := range a.Config.OCSPDelegates {
		s, err := loadSigner(d.Cert, d.Key)
		if err != nil {
			return nil, fmt.Errorf("OCSP delegate of %s: %w", d.Member, err)
		}
		if !registered(a.creds.genesis, d.Member, s.Cert.Raw) {
			return nil, fmt.Errorf("OCSP delegate %s of %s is not among the member's ocsp_signers in the genesis", d.Cert, d.Member)
		}
		issuer, err := memberIssuer(a.creds.genesis, d.Member, s.Cert)
		if err != nil {
			return nil, fmt.Errorf("OCSP delegate %s of %s: %w", d.Cert, d.Member, err)
		}
		out = append(out, ocsp.Delegate{Cert: s.Cert, Key: s.Key, Issuer: issuer, Source: ocsp.SourceConfig})
	}
	return out, nil
}

func registered(g *certchain.Genesis, member string, der []byte) bool {
	m, ok := g.Member(member)
	if !ok {
		return false
	}
	for _, p := range m.OCSPSigners {
		if reg, err := certchain.CertPEM(p); err == nil && bytes.Equal(reg, der) {
			return true
		}
	}
	return false
}

// memberIssuer returns the CA certificate of member that issued cert.
func memberIssuer(g *certchain.Genesis, member string, cert *x509.Certificate) (*x509.Certificate, error) {
	m, _ := g.Member(member)
	for _, p := range m.CACerts {
		der, err := certchain.CertPEM(p)
		if err != nil {
			continue
		}
		if ca, err := x509.ParseCertificate(der); err == nil && cert.CheckSignatureFrom(ca) == nil {
			return ca, nil
		}
	}
	return nil, errors.New("not issued by any of the member's ca_certs")
}
