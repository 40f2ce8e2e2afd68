package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// TxSigner signs the transactions a client's writes make, as the ledger
// checks them (validator rule "signature"): as member Member of network
// Network, with Key, the private key of the member's identity certificate.
type TxSigner struct {
	Key     crypto.Signer
	Member  string
	Network string
}

// NewTxSigner asks the node who the client certificate is (GET
// /v1/whoami) and which network it runs (GET /v1/network), and returns a
// signer for key.
func (c *Client) NewTxSigner(ctx context.Context, key crypto.Signer) (*TxSigner, error) {
	var who struct{ Member string }
	if err := c.Do(ctx, http.MethodGet, "/v1/whoami", "", nil, &who); err != nil {
		return nil, fmt.Errorf("whoami: %w", err)
	}
	var nv api.NetworkView
	if err := c.Do(ctx, http.MethodGet, "/v1/network", "", nil, &nv); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return &TxSigner{Key: key, Member: who.Member, Network: nv.NetworkID}, nil
}

// Sign signs tx as the signer's member and returns the signature, base64.
func (s *TxSigner) Sign(tx certchain.Tx) (string, error) {
	tx.Submitter = s.Member
	if err := validator.SignTx(&tx, s.Network, s.Key); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(tx.Sig), nil
}

// signItem adds the signature of the publish transaction of it.
func (s *TxSigner) signItem(it *api.StreamItem) error {
	der, err := pemDER(it.Certificate)
	if err != nil {
		return err
	}
	tx := certchain.Tx{Type: certchain.TxPublish, Cert: der}
	for _, p := range it.Chain {
		d, err := pemDER(p)
		if err != nil {
			return err
		}
		tx.Chain = append(tx.Chain, d)
	}
	it.Signature, err = s.Sign(tx)
	return err
}

func pemDER(s string) ([]byte, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	return b.Bytes, nil
}

// DoSigned sends a single-transaction write as Do does, with the
// signature of tx (the transaction the request makes; Submitter is filled
// in) and tx.Seen in the request headers.
func (c *Client) DoSigned(ctx context.Context, method, path, contentType string, body []byte, tx certchain.Tx, out any) error {
	hdr := http.Header{}
	if c.Signer != nil {
		sig, err := c.Signer.Sign(tx)
		if err != nil {
			return err
		}
		hdr.Set(api.HeaderSignature, sig)
		hdr.Set(api.HeaderSeen, strconv.FormatUint(tx.Seen, 10))
	}
	return c.doRetrying(ctx, method, path, contentType, body, hdr, out)
}

// DoHeaders is Do with extra request headers (e.g. an owner's proof).
func (c *Client) DoHeaders(ctx context.Context, method, path, contentType string, body []byte, headers map[string]string, out any) error {
	hdr := http.Header{}
	for k, v := range headers {
		hdr.Set(k, v)
	}
	return c.doRetrying(ctx, method, path, contentType, body, hdr, out)
}

// splitBundle splits a PEM bundle exactly as the node splits a publish
// body (validator.SplitChain: CA certificates that issued another of the
// bundle are the chain), so that the transactions the client signs are the
// ones the node makes (with chainFor).
func splitBundle(pemBody []byte) (certs, chain []string, err error) {
	ders, err := validator.ParsePEM(pemBody, math.MaxInt)
	if err != nil {
		return nil, nil, err
	}
	leaves, ca := validator.SplitChain(ders)
	enc := func(ders [][]byte) []string {
		out := make([]string, len(ders))
		for i, d := range ders {
			out[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d}))
		}
		return out
	}
	return enc(leaves), enc(ca), nil
}

// chainFor is the chain the node publishes certificate p of a bundle with
// (as api does): none for a self-signed (self-issued) certificate.
func chainFor(p string, chain []string) []string {
	der, err := pemDER(p)
	if err != nil || len(chain) == 0 {
		return chain
	}
	if c, err := x509.ParseCertificate(der); err == nil && bytes.Equal(c.RawIssuer, c.RawSubject) {
		return nil
	}
	return chain
}
