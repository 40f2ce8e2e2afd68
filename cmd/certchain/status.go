package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	"github.com/cloudflare/cfssl/helpers"
	jose "github.com/go-jose/go-jose/v4"
)

var hexID = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// certID resolves a command argument: a certificate ID (64 hex digits) or
// a certificate file (its first non-CA certificate).
func certID(arg string) (string, error) {
	if hexID.MatchString(arg) {
		return strings.ToLower(arg), nil
	}
	items := readCertFile(arg)
	if len(items) == 0 {
		return "", fmt.Errorf("%s: no certificate", arg)
	}
	if items[0].err != nil {
		return "", fmt.Errorf("%s: %w", arg, items[0].err)
	}
	return certchain.Sum(items[0].der).String(), nil
}

// statusLine is one certificate's status as the node reports it.
type statusLine struct {
	ID string `json:"id"`
	api.StatusView
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	minHeight := fs.Uint64("min-height", 0, "wait until the node has applied this height")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: certchain status ID|FILE...")
	}
	c, err := co.client()
	if err != nil {
		return err
	}
	notGood := false
	for _, arg := range fs.Args() {
		st, err := fetchStatus(ctx, c, arg, *minHeight)
		if err != nil {
			return err
		}
		notGood = notGood || st.Status != "good"
		printStatus(e, st, *asJSON)
	}
	if notGood {
		return exitStatus(2)
	}
	return nil
}

func fetchStatus(ctx context.Context, c *client, arg string, minHeight uint64) (*statusLine, error) {
	id, err := certID(arg)
	if err != nil {
		return nil, err
	}
	q := ""
	if minHeight > 0 {
		q = "?min_height=" + url.QueryEscape(fmt.Sprint(minHeight))
	}
	var st statusLine
	err = c.Do(ctx, "GET", "/v1/certificates/"+id+"/status"+q, "", nil, &st)
	return &st, err
}

func printStatus(e *env, st *statusLine, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintln(e.stdout, string(b))
		return
	}
	line := st.ID + " " + st.Status
	if st.Reason != "" {
		line += " " + st.Reason
	}
	if st.StatusTime != nil && st.Status != "good" {
		line += " since " + st.StatusTime.Format("2006-01-02T15:04:05Z")
	}
	fmt.Fprintln(e.stdout, line)
}

// statusCommand makes revoke, suspend and resume.
func statusCommand(action string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := flag.NewFlagSet(action, flag.ContinueOnError)
		var co clientOptions
		co.bind(fs, e.getenv)
		reason := fs.String("reason", "unspecified", "RFC 5280 reason (revoke only): keyCompromise, cessationOfOperation, ...")
		ownerKey := fs.String("owner-key", "", "act as the certificate's owner: sign the request with this private key (PEM) instead of a member certificate")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: certchain %s ID|FILE [--owner-key KEY]", action)
		}
		id, err := certID(fs.Arg(0))
		if err != nil {
			return err
		}
		if *ownerKey != "" {
			proof, err := ownerProof(ctx, &co, action, id, *reason, "", *ownerKey)
			if err != nil {
				return err
			}
			return sendOwner(ctx, e, &co, "/v1/certificates/"+id+"/"+action, "application/jose+json", []byte(proof), nil)
		}
		body := "{}"
		tx := certchain.Tx{Type: map[string]certchain.TxType{"revoke": certchain.TxRevoke, "suspend": certchain.TxSuspend, "resume": certchain.TxResume}[action]}
		if action == "revoke" {
			if tx.Reason, err = certchain.ParseReason(*reason); err != nil {
				return err
			}
			b, _ := json.Marshal(map[string]string{"reason": *reason})
			body = string(b)
		}
		return sendTx(ctx, e, &co, id, "/v1/certificates/"+id+"/"+action, "application/json", body, tx)
	}
}

// ownerProof makes the owner's signed request (validator.OwnerRequest, a
// compact JWS) to act on certificate id: it reads the certificate's
// current status height from the node, which makes the request good once.
func ownerProof(ctx context.Context, co *clientOptions, action, id, reason, newID, keyFile string) (string, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return "", err
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return "", fmt.Errorf("%s: %w", keyFile, err)
	}
	nv, err := fetchNetwork(ctx, co)
	if err != nil {
		return "", err
	}
	c, err := co.client()
	if err != nil {
		return "", err
	}
	var st statusLine
	if err := c.Do(ctx, "GET", "/v1/certificates/"+id+"/status", "", nil, &st); err != nil {
		return "", err
	}
	req := validator.OwnerRequest{Network: nv.NetworkID, Action: action, Certificate: id, New: newID, StatusHeight: st.StatusHeight}
	if action == "revoke" {
		r, err := certchain.ParseReason(reason)
		if err != nil {
			return "", err
		}
		req.Reason = r.String()
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	alg, err := josAlg(key)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// josAlg is the JWS algorithm of an owner's key.
func josAlg(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return jose.ES384, nil
		}
		return jose.ES256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.RS256, nil
	}
	return "", fmt.Errorf("unsupported owner key %T", key.Public())
}

func runRenew(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("renew", flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	ownerKey := fs.String("owner-key", "", "renew as the old certificate's owner: sign with its private key (PEM) instead of a member certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: certchain renew [--owner-key OLDKEY] OLD(ID|FILE) NEW(FILE)")
	}
	old, err := certID(fs.Arg(0))
	if err != nil {
		return err
	}
	pemNew, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return err
	}
	ders, err := validator.ParsePEM(pemNew, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(1), err)
	}
	leaves, chain := validator.SplitChain(ders) // as the node splits a PEM body
	if len(leaves) != 1 {
		return fmt.Errorf("%s: want one new (non-CA) certificate, found %d", fs.Arg(1), len(leaves))
	}
	tx := certchain.Tx{Type: certchain.TxRenew, Cert: leaves[0], Chain: chain}
	if *ownerKey != "" {
		proof, err := ownerProof(ctx, &co, "renew", old, "", certchain.Sum(tx.Cert).String(), *ownerKey)
		if err != nil {
			return err
		}
		return sendOwner(ctx, e, &co, "/v1/certificates/"+old+"/renew", "application/x-pem-file", pemNew,
			map[string]string{api.HeaderOwnerProof: proof})
	}
	return sendTx(ctx, e, &co, old, "/v1/certificates/"+old+"/renew", "application/x-pem-file", string(pemNew), tx)
}

// sendOwner sends an owner-signed write (its proof the body, or in hdr)
// without a member certificate and prints the outcome.
func sendOwner(ctx context.Context, e *env, co *clientOptions, path, ct string, body []byte, hdr map[string]string) error {
	c, err := co.client()
	if err != nil {
		return err
	}
	var resp api.TxResponse
	if err := c.DoHeaders(ctx, "POST", path, ct, body, hdr, &resp); err != nil {
		return err
	}
	printTx(e, &resp)
	return nil
}

// sendTx sends a write on certificate id that makes tx (signed, with
// the certificate's current status height as Seen, when the client has
// the member's key) and prints the outcome.
func sendTx(ctx context.Context, e *env, co *clientOptions, id, path, ct, body string, tx certchain.Tx) error {
	c, err := co.writer(ctx)
	if err != nil {
		return err
	}
	if tx.Target, err = certchain.ParseHash(id); err != nil {
		return err
	}
	if c.Signer != nil {
		var st statusLine
		if err := c.Do(ctx, "GET", "/v1/certificates/"+id+"/status", "", nil, &st); err != nil {
			return err
		}
		tx.Seen = st.StatusHeight
	}
	var resp api.TxResponse
	if err := c.DoSigned(ctx, "POST", path, ct, []byte(body), tx, &resp); err != nil {
		return err
	}
	printTx(e, &resp)
	return nil
}

func printTx(e *env, resp *api.TxResponse) {
	fmt.Fprintf(e.stdout, "%s is now %s (block %d, tx %s)\n", resp.Certificate, resp.Status, resp.Height, resp.Tx)
	if resp.New != "" {
		fmt.Fprintf(e.stdout, "successor %s is published\n", resp.New)
	}
}
