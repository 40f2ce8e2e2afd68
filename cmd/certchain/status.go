package main

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
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
// a file holding one certificate (and the CA certificates that chain it).
func certID(arg string) (string, error) {
	if hexID.MatchString(arg) {
		return strings.ToLower(arg), nil
	}
	it, err := oneCert(arg)
	if err != nil {
		return "", err
	}
	return certchain.Sum(it.der).String(), nil
}

// oneCert reads the one certificate of file path (a key block beside it
// is ignored).
func oneCert(path string) (item, error) {
	var certs []item
	var bad error
	for _, it := range readCertFile(path) {
		if it.err == nil {
			certs = append(certs, it)
		} else if bad == nil {
			bad = it.err
		}
	}
	switch {
	case len(certs) == 1:
		return certs[0], nil
	case len(certs) > 1:
		return item{}, fmt.Errorf("%s holds %d certificates: name one by its ID", path, len(certs))
	case bad != nil:
		return item{}, fmt.Errorf("%s: %w", path, bad)
	}
	return item{}, fmt.Errorf("%s: no certificate", path)
}

// statusLine is one certificate's status as the node reports it, with
// the file it was read from and the device identity it names.
type statusLine struct {
	ID string `json:"id"`
	api.StatusView
	File     string `json:"file,omitempty"`
	Identity string `json:"identity,omitempty"`
	Error    string `json:"error,omitempty"` // the entry is no certificate
}

// statusOrder is the order of the summary's counts.
var statusOrder = []string{"good", "suspended", "revoked", "superseded", "expired", "unknown", "error"}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status")
	var co clientOptions
	co.bind(fs, e.getenv)
	minHeight := fs.Uint64("min-height", 0, "wait until the node has applied this height")
	asJSON := fs.Bool("json", false, "print JSON lines (and a last {\"summary\":{...}} line)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("status", "no certificate named")
	}
	for _, arg := range fs.Args() {
		if !hexID.MatchString(arg) {
			if err := statAll([]string{arg}); err != nil {
				return err
			}
		}
	}
	c, err := co.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := make(chan item, 64)
	go statusInput(ctx, fs.Args(), src)
	counts := map[string]int{}
	for r := range fetchAll(ctx, src, func(it item) (*statusLine, error) { return fetchLine(ctx, c, it, *minHeight) }) {
		if r.err != nil {
			return r.err
		}
		counts[cmp.Or(r.st.Status, "error")]++
		printStatus(e, r.st, *asJSON)
	}
	return statusSummary(e, counts, *asJSON)
}

// statusInput sends what the arguments name: an ID as it is, the
// certificates of files and directories as publish reads them.
func statusInput(ctx context.Context, args []string, out chan<- item) {
	defer close(out)
	for _, arg := range args {
		if hexID.MatchString(arg) {
			select {
			case out <- item{path: "-", id: strings.ToLower(arg)}:
			case <-ctx.Done():
				return
			}
			continue
		}
		if walkRoot(ctx, arg, out, nil) != nil {
			return
		}
	}
}

// fetchLine asks the node for an entry's status.
func fetchLine(ctx context.Context, c *client, it item, minHeight uint64) (*statusLine, error) {
	if it.err != nil {
		return &statusLine{ID: "-", File: it.path, Error: it.err.Error()}, nil
	}
	st, err := fetchStatus(ctx, c, it.certID(), minHeight)
	if err != nil {
		return nil, err
	}
	st.File = it.path
	if it.cert != nil {
		st.Identity = validator.Identity(it.cert)
	} else if st.Status != "unknown" {
		var rec api.RecordView
		if err := c.Do(ctx, "GET", "/v1/certificates/"+st.ID, "", nil, &rec); err != nil {
			return nil, err
		}
		st.Identity = rec.Identity
	}
	return st, nil
}

// fetched is the answer for one entry.
type fetched struct {
	st  *statusLine
	err error
}

// fetchAll runs fetch on the entries of in, a few at a time, and hands
// the answers back in input order.
func fetchAll(ctx context.Context, in <-chan item, fetch func(item) (*statusLine, error)) <-chan fetched {
	const workers = 8
	order := make(chan chan fetched, 2*workers)
	sem := make(chan struct{}, workers)
	go func() {
		defer close(order)
		for it := range in {
			done := make(chan fetched, 1)
			select {
			case order <- done:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func() {
				st, err := fetch(it)
				done <- fetched{st, err}
				<-sem
			}()
		}
	}()
	out := make(chan fetched)
	go func() {
		defer close(out)
		for done := range order {
			select {
			case out <- <-done:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func fetchStatus(ctx context.Context, c *client, id string, minHeight uint64) (*statusLine, error) {
	q := ""
	if minHeight > 0 {
		q = "?min_height=" + url.QueryEscape(fmt.Sprint(minHeight))
	}
	var st statusLine
	err := c.Do(ctx, "GET", "/v1/certificates/"+id+"/status"+q, "", nil, &st)
	return &st, err
}

// printStatus prints "ID STATUS [REASON] [since TIME]  FILE  IDENTITY".
func printStatus(e *env, st *statusLine, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintln(e.stdout, string(b))
		return
	}
	if st.Error != "" {
		fmt.Fprintf(e.stdout, "- error (%s)  %s  -\n", st.Error, st.File)
		return
	}
	line := st.ID + " " + st.Status
	if st.Reason != "" {
		line += " " + st.Reason
	}
	if st.StatusTime != nil && st.Status != "good" {
		line += " since " + st.StatusTime.Format("2006-01-02T15:04:05Z")
	}
	fmt.Fprintf(e.stdout, "%s  %s  %s\n", line, cmp.Or(st.File, "-"), cmp.Or(st.Identity, "-"))
}

// statusSummary prints the counts by status and sets the exit status: 0
// all good, 2 any not good, 1 an entry that is no certificate.
func statusSummary(e *env, counts map[string]int, asJSON bool) error {
	total := 0
	var parts []string
	for _, s := range statusOrder {
		if n := counts[s]; n > 0 {
			total += n
			parts = append(parts, fmt.Sprintf("%d %s", n, map[bool]string{true: "errors", false: s}[s == "error" && n > 1]))
		}
	}
	if total == 0 {
		return errors.New("no certificate files (*.pem, *.crt, *.cer, *.der) found")
	}
	if asJSON {
		b, _ := json.Marshal(map[string]map[string]int{"summary": counts})
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintf(e.stdout, "%d %s: %s\n", total, plural(total, "certificate", "certificates"), strings.Join(parts, ", "))
	}
	switch {
	case counts["error"] > 0:
		return exitStatus(1)
	case counts["good"] < total:
		return exitStatus(2)
	}
	return nil
}

// statusCommand makes revoke, suspend and resume.
func statusCommand(action string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, action)
		var co clientOptions
		co.bind(fs, e.getenv)
		reason := ptr("unspecified")
		if action == "revoke" {
			fs.StringVar(reason, "reason", *reason, "RFC 5280 reason: keyCompromise, cessationOfOperation, superseded, ...")
		}
		ownerKey := fs.String("owner-key", "", "act as the certificate's owner: sign the request with this private key (PEM) instead of a member certificate")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef(action, "want one certificate (ID or FILE), got %d arguments", fs.NArg())
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
	fs := newFlags(e, "renew")
	var co clientOptions
	co.bind(fs, e.getenv)
	ownerKey := fs.String("owner-key", "", "renew as the old certificate's owner: sign with its private key (PEM) instead of a member certificate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("renew", "want OLD and NEW, got %d arguments", fs.NArg())
	}
	old, err := certID(fs.Arg(0))
	if err != nil {
		return err
	}
	next, err := oneCert(fs.Arg(1))
	if err != nil {
		return err
	}
	pemNew := []byte(pemString(next.der))
	for _, c := range next.chain {
		pemNew = append(pemNew, pemString(c)...)
	}
	tx := certchain.Tx{Type: certchain.TxRenew, Cert: next.der, Chain: next.chain}
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
