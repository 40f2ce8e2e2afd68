package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/raftstore"
	"github.com/prometheus/client_golang/prometheus"
)

// startOCSP builds the node's OCSP responder over its ledger state, keeps
// it refreshed from every applied block and re-signed in the background
// until ctx ends.
func (a *App) startOCSP(ctx context.Context, reg prometheus.Registerer) (*ocsp.Responder, error) {
	certFile, keyFile := a.Config.OCSPCert, a.Config.OCSPKey
	if a.Network != nil && certFile == "" {
		certFile, keyFile = a.Network.OCSPCertFile, a.Network.OCSPKeyFile
	}
	responder, err := loadSigner(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: %w", err)
	}
	delegates, err := a.delegates()
	if err != nil {
		return nil, err
	}
	r, err := ocsp.New(ocsp.Config{
		Source: a.Node.State(), Responder: responder, Delegates: delegates,
		Validity: a.Config.OCSPValidity.D(), CacheSize: a.Config.OCSPCache, NonceRate: a.Config.OCSPNonceRate,
		Logger: a.Logger, Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: %w", err)
	}
	a.ocsp.Store(r)
	go r.Run(ctx)
	return r, nil
}

// refreshOCSP is the node's OnApply hook: every block that changes a
// certificate drops and re-signs its cached OCSP responses on this node.
func (a *App) refreshOCSP(applied *raftstore.Applied) {
	if r := a.ocsp.Load(); r != nil && len(applied.Records) > 0 {
		r.Refresh(applied.Records)
	}
}

func loadSigner(certFile, keyFile string) (ocsp.Signer, error) {
	cert, key, err := pki.LoadKeyPair(certFile, keyFile)
	return ocsp.Signer{Cert: cert, Key: key}, err
}

// delegates loads the configured delegated signers, each of which must be
// registered on the ledger by its CA member (genesis ocsp_signers).
func (a *App) delegates() (map[string]ocsp.Signer, error) {
	out := map[string]ocsp.Signer{}
	for _, d := range a.Config.OCSPDelegates {
		s, err := loadSigner(d.Cert, d.Key)
		if err != nil {
			return nil, fmt.Errorf("OCSP delegate of %s: %w", d.Member, err)
		}
		if !registered(a.creds.genesis, d.Member, s.Cert.Raw) {
			return nil, fmt.Errorf("OCSP delegate %s of %s is not among the member's ocsp_signers in the genesis", d.Cert, d.Member)
		}
		out[d.Member] = s
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
