package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"

	"fmt"
	"os"
	"strings"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/cloudflare/cfssl/helpers"
)

// runRevokeKey revokes a public key: every certificate on the ledger that
// carries it, in one transaction, and the key is blocked for later
// publishes, renewals and ACME orders.
func runRevokeKey(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "revoke-key")
	var co clientOptions
	co.bind(fs, e.getenv)
	reason := fs.String("reason", "keyCompromise", "RFC 5280 revocation reason")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("revoke-key", "want one key hash or FILE (a certificate, public key or private key PEM), got %d arguments", fs.NArg())
	}
	h, err := keyHashOf(fs.Arg(0))
	if err != nil {
		return err
	}
	c, err := co.writer(ctx)
	if err != nil {
		return err
	}
	tx := certchain.Tx{Type: certchain.TxRevokeKey}
	if tx.Target, err = certchain.ParseHash(h); err == nil {
		tx.Reason, err = certchain.ParseReason(*reason)
	}
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"reason": *reason})
	var resp struct {
		Height uint64      `json:"height"`
		Tx     string      `json:"tx"`
		Key    api.KeyView `json:"key"`
	}
	if err := c.DoSigned(ctx, "POST", "/v1/keys/"+h+"/revoke", "application/json", body, tx, &resp); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "key %s is revoked and blocked (block %d, tx %s): %d %s revoked\n",
		h, resp.Key.Height, resp.Tx, resp.Key.Revoked, map[bool]string{true: "certificate", false: "certificates"}[resp.Key.Revoked == 1])
	for _, cert := range resp.Key.Certificates {
		fmt.Fprintf(e.stdout, "  %s  %-10s %s\n", cert.ID, cert.Status, cert.Subject)
	}
	return nil
}

// keyHashOf returns the SPKI SHA-256 named by arg: the hash itself, or a
// PEM file with a certificate, public key or private key.
func keyHashOf(arg string) (string, error) {
	if hexID.MatchString(arg) {
		return strings.ToLower(arg), nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", err
	}
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		var spki []byte
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return "", fmt.Errorf("%s: %w", arg, err)
			}
			spki = c.RawSubjectPublicKeyInfo
		case "PUBLIC KEY":
			spki = blk.Bytes
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			key, err := helpers.ParsePrivateKeyPEM(pem.EncodeToMemory(blk))
			if err == nil {
				spki, err = x509.MarshalPKIXPublicKey(key.Public())
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", arg, err)
			}
		default:
			continue
		}
		return certchain.Sum(spki).String(), nil
	}
	return "", fmt.Errorf("%s: no certificate or key PEM block", arg)
}
