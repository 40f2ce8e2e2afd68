package main

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/certchain/certchain/internal/certreload"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/raftstore"
	"github.com/prometheus/client_golang/prometheus"
)

// watchCerts reloads the node certificate and the OCSP responder on SIGHUP
// (App.Hangup) and when their files change, until ctx ends (see
// internal/certreload and docs/rotation.md). A new node certificate must
// be one the other nodes accept; a new responder must be one the OCSP
// responder accepts, and it starts signing as it is accepted.
func (a *App) watchCerts(ctx context.Context, reg prometheus.Registerer, n *ocspNode) error {
	a.creds.node.OnReload(a.checkNodeCert)
	n.pair.OnReload(func(c *certreload.Cert) error { return n.r.SetResponder(ocspSigner(c)) })
	r, err := certreload.New(a.Logger, reg, a.creds.node, n.pair)
	if err != nil {
		return fmt.Errorf("certificate reload: %w", err)
	}
	go r.Run(ctx, a.Hangup, a.certPoll)
	return nil
}

// checkNodeCert refuses a node certificate the other nodes would refuse
// (raftstore.VerifyNodeCert against the node CA), unless Raft runs
// without TLS.
func (a *App) checkNodeCert(c *certreload.Cert) error {
	if a.Config.RaftPlain {
		return nil
	}
	chain := []*x509.Certificate{c.Leaf}
	for _, der := range c.TLS.Certificate[1:] {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("chain: %w", err)
		}
		chain = append(chain, cert)
	}
	return raftstore.VerifyNodeCert(chain, a.creds.nodeCA)
}

// ocspSigner is a loaded pair as the OCSP responder's signer.
func ocspSigner(c *certreload.Cert) ocsp.Signer { return ocsp.Signer{Cert: c.Leaf, Key: c.Key} }
