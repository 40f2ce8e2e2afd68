package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/validator"
)

// Defaults and bounds of certchain ocsp delegate.
const (
	defaultDelegateValidity = 30 * 24 * time.Hour
	delegateBackdate        = time.Hour // notBefore lies this far back, for lagging clocks
	maxDelegateValidity     = validator.MaxOCSPDelegateValidity - delegateBackdate
)

// runOCSP is `certchain ocsp`: delegated OCSP signing for CA members.
func runOCSP(ctx context.Context, e *env, args []string) error {
	switch sub := first(args); sub {
	case "delegate":
		return runOCSPDelegate(ctx, e, args[1:])
	case "signers":
		return runOCSPSigners(ctx, e, args[1:])
	default:
		return usagef("ocsp", "unknown ocsp command %q", sub)
	}
}

// delegateFlags are the flags of certchain ocsp delegate.
type delegateFlags struct {
	co             clientOptions
	caCert, caKey  string
	validity, wait time.Duration
	nodes          stringList
}

// runOCSPDelegate is `certchain ocsp delegate`: acting as a CA member,
// it issues with the member's CA key (which stays on this machine) one
// delegated OCSP signer certificate for each validator node's delegate
// key and registers each on the ledger, so that every node answers OCSP
// about the CA's certificates in a way relying parties trusting only the
// CA accept. Re-run it (e.g. from cron) well before --validity ends.
func runOCSPDelegate(ctx context.Context, e *env, args []string) error {
	var f delegateFlags
	fs := newFlags(e, "ocsp delegate")
	f.co.bind(fs, e.getenv)
	fs.StringVar(&f.caCert, "ca-cert", "", "the issuing CA certificate (PEM): one of the member's ca_certs")
	fs.StringVar(&f.caKey, "ca-key", "", "the issuing CA's private key (PEM); it is used here and never sent")
	fs.DurationVar(&f.validity, "validity", defaultDelegateValidity, "lifetime of each delegate (at most "+maxDelegateValidity.String()+")")
	fs.Var(&f.nodes, "node", "https URL of a node to delegate to (repeatable; default: every node of GET /v1/cluster)")
	fs.DurationVar(&f.wait, "wait", 30*time.Second, "how long to wait for every node to sign with its delegate (0: do not wait)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("ocsp delegate", "want no arguments, got %d", fs.NArg())
	case f.caCert == "" || f.caKey == "":
		return usagef("ocsp delegate", "--ca-cert and --ca-key are required")
	case f.validity <= 0 || f.validity > maxDelegateValidity:
		return fmt.Errorf("--validity must be positive and at most %s (the ledger's bound)", maxDelegateValidity)
	}
	caCert, caKey, err := pki.LoadKeyPair(f.caCert, f.caKey)
	if err != nil {
		return fmt.Errorf("issuing CA: %w", err)
	}
	c, err := f.co.writer(ctx)
	if err != nil {
		return err
	}
	targets, err := delegateTargets(ctx, c, &f.co, f.nodes)
	if err != nil {
		return err
	}
	ca := ocsp.CA{Cert: caCert, Key: caKey}
	var failed error
	for _, t := range targets {
		if err := delegateTo(ctx, e, c, &f, ca, t); err != nil {
			fmt.Fprintf(e.stdout, "%s\tfailed: %v\n", t.name, err)
			failed = errors.Join(failed, fmt.Errorf("%s: %w", t.name, err))
		}
	}
	return failed
}

// delegateTarget is a node to delegate to: its ID (or URL) and a client
// for its API.
type delegateTarget struct {
	name string
	c    *client
}

// delegateTargets are the nodes named by --node, else every node of the
// cluster that advertises an API URL (the one c talks to in any case).
func delegateTargets(ctx context.Context, c *client, co *clientOptions, urls []string) ([]delegateTarget, error) {
	if len(urls) == 0 {
		var v api.ClusterView
		if err := c.Do(ctx, http.MethodGet, "/v1/cluster", "", nil, &v); err != nil {
			return nil, fmt.Errorf("listing the nodes: %w", err)
		}
		for _, s := range v.Servers {
			switch {
			case s.API != "":
				urls = append(urls, s.API)
			case s.ID == v.Node:
				urls = append(urls, co.url)
			default:
				return nil, fmt.Errorf("node %s advertises no API URL: name the nodes with --node", s.ID)
			}
		}
	}
	out := make([]delegateTarget, 0, len(urls))
	for _, u := range urls {
		o := *co
		o.url = u
		nc, err := o.client()
		if err != nil {
			return nil, err
		}
		out = append(out, delegateTarget{name: u, c: nc})
	}
	return out, nil
}

// delegateTo issues a delegate for t's delegate key and registers it.
func delegateTo(ctx context.Context, e *env, c *client, f *delegateFlags, ca ocsp.CA, t delegateTarget) error {
	csr, err := delegateRequest(ctx, t.c)
	if err != nil {
		return err
	}
	now := time.Now()
	der, err := ocsp.IssueDelegate(ca, csr.PublicKey, pkix.Name{CommonName: csr.Subject.CommonName}, now.Add(-delegateBackdate), now.Add(f.validity))
	if err != nil {
		return err
	}
	var out struct {
		Height  uint64 `json:"height"`
		Verdict string `json:"verdict"`
		Detail  string `json:"detail"`
	}
	body := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	tx := certchain.Tx{Type: certchain.TxOCSPDelegate, Cert: der}
	if err := c.DoSigned(ctx, http.MethodPost, "/v1/ocsp/delegates", "application/x-pem-file", body, tx, &out); err != nil {
		return fmt.Errorf("registering: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	fmt.Fprintf(e.stdout, "%s\t%q: %s at height %d, valid until %s\n", t.name, csr.Subject.CommonName, out.Verdict, out.Height,
		cert.NotAfter.Format(time.RFC3339))
	if out.Detail != "" {
		fmt.Fprintf(e.stdout, "%s\t%s\n", t.name, out.Detail)
	}
	if f.wait <= 0 || out.Verdict != certchain.Accepted.String() {
		return nil // unchanged: the registered delegate lasts as long or longer
	}
	return waitInUse(ctx, t.c, cert, f.wait)
}

// delegateRequest fetches a node's delegate key request and checks its
// self-signature (proof that the node holds the key).
func delegateRequest(ctx context.Context, c *client) (*x509.CertificateRequest, error) {
	var raw []byte
	if err := c.Do(ctx, http.MethodGet, "/v1/ocsp/delegate-request.pem", "", nil, &raw); err != nil {
		return nil, fmt.Errorf("fetching the node's delegate request: %w", err)
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("the node's delegate request is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		return nil, fmt.Errorf("the node's delegate request: %w", err)
	}
	return csr, nil
}

// waitInUse polls the node's signers until cert is the active delegate
// of its issuer.
func waitInUse(ctx context.Context, c *client, cert *x509.Certificate, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	want := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	for {
		var v struct{ Signers []ocsp.SignerInfo }
		err := c.Do(ctx, http.MethodGet, "/v1/ocsp/signers", "", nil, &v)
		for _, s := range v.Signers {
			if s.Active && s.Certificate == want {
				return nil
			}
		}
		if pollWait(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("the node does not sign with its delegate after %s (last error: %v)", wait, err)
		}
	}
}

// pollWait sleeps d unless ctx ends first.
func pollWait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runOCSPSigners is `certchain ocsp signers`: what each node signs OCSP
// responses with, and until when.
func runOCSPSigners(ctx context.Context, e *env, args []string) error {
	var co clientOptions
	var nodes stringList
	fs := newFlags(e, "ocsp signers")
	co.bind(fs, e.getenv)
	fs.Var(&nodes, "node", "https URL of a node (repeatable; default: every node of GET /v1/cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("ocsp signers", "want no arguments, got %d", fs.NArg())
	}
	c, err := co.client()
	if err != nil {
		return err
	}
	targets, err := delegateTargets(ctx, c, &co, nodes)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSOURCE\tISSUER\tNOT AFTER\tACTIVE")
	for _, t := range targets {
		var v struct{ Signers []ocsp.SignerInfo }
		if err := t.c.Do(ctx, http.MethodGet, "/v1/ocsp/signers", "", nil, &v); err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%v\n", t.name, err)
			continue
		}
		for _, s := range v.Signers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", t.name, s.Role, orDash(s.Source), orDash(s.Issuer), s.NotAfter.Format(time.RFC3339), s.Active)
		}
	}
	return tw.Flush()
}
