package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/certchain/certchain/api"
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
type client struct {
	base string
	http *http.Client
}

// newClient resolves the options into a client.
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
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 16
	return &client{base: strings.TrimRight(o.url, "/"), http: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}, nil
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

// problemError is a problem document the node answered with.
type problemError struct {
	api.Problem
	retryAfter time.Duration
}

func (e *problemError) Error() string {
	return fmt.Sprintf("%s (%d): %s", strings.TrimPrefix(e.Type, "urn:certchain:problem:"), e.Status, e.Detail)
}

// do sends a request and decodes a JSON answer into out (a *[]byte gets
// the raw body, up to 256 MiB), or the problem document into a
// *problemError.
func (c *client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeProblem(resp)
	}
	switch out := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	case *[]byte:
		*out, err = io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func decodeProblem(resp *http.Response) error {
	pe := &problemError{}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &pe.Problem); err != nil || pe.Status == 0 {
		pe.Problem = api.Problem{Status: resp.StatusCode, Title: resp.Status, Detail: strings.TrimSpace(string(b))}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		pe.retryAfter = time.Duration(s) * time.Second
	}
	return pe
}
