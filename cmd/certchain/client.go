package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	apiclient "github.com/certchain/certchain/api/client"
)

// clientProfile is what a development node writes to data/client.json so
// that the CLI, run from the same directory, needs no flags. Paths are
// relative to the file's directory.
type clientProfile struct {
	URL     string                 `json:"url"`      // https listener
	ReadURL string                 `json:"read_url"` // plain-HTTP listener
	CA      string                 `json:"ca"`       // network CA (verifies the node)
	Member  string                 `json:"member"`   // default member to act as
	Members map[string]memberCreds `json:"members"`
}

type memberCreds struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// clientOptions locate the node and the credentials: flags, then
// CERTCHAIN_* environment variables, then the profile in the data dir.
type clientOptions struct {
	data, url, ca, cert, key, member string
}

func (o *clientOptions) bind(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&o.data, "data", envOr(env, "CERTCHAIN_DATA", "data"), "data directory of a development node (for data/client.json)")
	fs.StringVar(&o.url, "url", env("CERTCHAIN_URL"), "node URL (https://host:port for writes)")
	fs.StringVar(&o.ca, "ca", env("CERTCHAIN_CA"), "CA certificate that verifies the node (PEM)")
	fs.StringVar(&o.cert, "cert", env("CERTCHAIN_CERT"), "member client certificate (PEM)")
	fs.StringVar(&o.key, "key", env("CERTCHAIN_KEY"), "member client key (PEM)")
	fs.StringVar(&o.member, "as", env("CERTCHAIN_MEMBER"), "member of the development profile to act as (default: the profile's)")
}

func envOr(env func(string) string, name, def string) string {
	if v := env(name); v != "" {
		return v
	}
	return def
}

// client talks to one node's REST API.
type client = apiclient.Client

// client resolves the options into a client.
func (o *clientOptions) client() (*client, error) {
	if err := o.fromProfile(); err != nil {
		return nil, err
	}
	if o.url == "" {
		return nil, errors.New("no node: pass --url (or CERTCHAIN_URL), or run where a development node keeps data/client.json")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate", o.ca)
		}
	}
	if o.cert != "" || o.key != "" {
		kp, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return apiclient.New(o.url, tc), nil
}

// writer is client for commands that write: when the member's key is at
// hand it signs their transactions (GET /v1/whoami and /v1/network tell
// it the member and network), as networks that require member signatures
// demand and every network verifies.
func (o *clientOptions) writer(ctx context.Context) (*client, error) {
	c, err := o.client()
	if err != nil || o.key == "" {
		return c, err
	}
	key, err := loadSignerKey(o.key)
	if err != nil {
		return nil, fmt.Errorf("member key %s: %w", o.key, err)
	}
	if c.Signer, err = c.NewTxSigner(ctx, key); err != nil {
		return nil, err
	}
	return c, nil
}

// fromProfile fills what flags and environment left empty from
// data/client.json, if there is one.
func (o *clientOptions) fromProfile() error {
	path := clientFile(o.data)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p clientProfile
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rel := func(f string) string {
		if filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(filepath.Dir(path), f)
	}
	setIfEmpty(&o.url, p.URL)
	if o.ca == "" && p.CA != "" {
		o.ca = rel(p.CA)
	}
	setIfEmpty(&o.member, p.Member)
	if m, ok := p.Members[o.member]; ok && o.cert == "" && o.key == "" {
		o.cert, o.key = rel(m.Cert), rel(m.Key)
	} else if !ok && o.cert == "" {
		return fmt.Errorf("%s has no member %q", path, o.member)
	}
	return nil
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// explain words errors people meet often: a node that is not running
// answers "no node at URL", not a raw dial error.
func explain(err error) error {
	var ue *url.Error
	var oe *net.OpError
	var nn *noNodeError
	if errors.As(err, &nn) || !errors.As(err, &ue) || !errors.As(err, &oe) || oe.Op != "dial" {
		return err
	}
	base := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil {
		base = u.Scheme + "://" + u.Host
	}
	return &noNodeError{url: base, err: err}
}

// noNodeError: nothing answers at the node's address.
type noNodeError struct {
	url string
	err error
}

func (n *noNodeError) Error() string {
	cause := n.err
	for errors.Unwrap(cause) != nil {
		cause = errors.Unwrap(cause)
	}
	return fmt.Sprintf("no node at %s (is `certchain node` running?): %v", n.url, cause)
}

func (n *noNodeError) Unwrap() error { return n.err }
