// Package client is the Go client of a certchain node's REST API: the
// CLI uses it, and so can a factory line's own tooling.
//
// Every error the node answers is a *Error carrying its problem document
// (Error.NotApplied says whether the node knows nothing was applied).
// Requests with a body in memory are sent again, honouring Retry-After,
// while the node answers 429 (too many requests) or 503 (busy, no leader,
// leader not reachable: not-applied; outcome-unknown), for up to
// Client.RetryFor. A publish stream cannot be replayed
// by the client (its items come from the caller once): PublishStream
// returns the *Error, and the caller sends what got no result again after
// Error.RetryAfter (publish is idempotent).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certchain/certchain/api"
)

// Client talks to one node.
type Client struct {
	// BaseURL is the node's URL, e.g. https://127.0.0.1:8443 (writes need
	// the mutual-TLS listener).
	BaseURL string
	// HTTP sends the requests. It should have no overall Timeout: a
	// publish stream lasts as long as its input; contexts bound requests.
	HTTP *http.Client
	// RetryFor bounds how long a request answered 429 or 503 is sent
	// again. Zero means DefaultRetryFor; negative, never.
	RetryFor time.Duration
	// Signer, if set, signs the transactions of Publish, PublishStream and
	// DoSigned (networks whose policy requires member signatures).
	Signer *TxSigner
}

// DefaultRetryFor is the default of Client.RetryFor.
const DefaultRetryFor = 30 * time.Second

// New returns a client of the node at baseURL; tc holds the CA that
// verifies the node and, for writes, the member's certificate.
func New(baseURL string, tc *tls.Config) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 16
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Transport: tr}}
}

// Error is a problem document the node answered with.
type Error struct {
	api.Problem
	// RetryAfter is the node's Retry-After (zero when absent).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", strings.TrimPrefix(e.Type, "urn:certchain:problem:"), e.Status, e.Detail)
}

// Temporary reports whether the same request may succeed later: the node
// was busy, had too many requests, had no leader or timed out.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// NotApplied reports whether the node knows the request changed nothing:
// it refused it (4xx), it was busy, or the write never reached the
// leader (not-applied, not-leader). Sending it again cannot apply it
// twice. Other 5xx answers (outcome-unknown, timeout, internal) may have
// been applied: a write sent again then is answered as already done
// (publish is idempotent; a repeated status change gets a state verdict).
func (e *Error) NotApplied() bool {
	switch strings.TrimPrefix(e.Type, "urn:certchain:problem:") {
	case "not-applied", "not-leader", "busy", "too-many-requests":
		return true
	}
	return e.Status >= 400 && e.Status < 500
}

// Do sends a request and decodes the JSON answer into out (nil: discard;
// a *[]byte gets the raw body, up to 256 MiB). An answer of 300 or more is
// returned as *Error. Answers 429 and 503 are retried as the package doc
// says.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	return c.doRetrying(ctx, method, path, contentType, body, nil, out)
}

func (c *Client) doRetrying(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header, out any) error {
	retryFor := c.RetryFor
	if retryFor == 0 {
		retryFor = DefaultRetryFor
	}
	deadline := time.Now().Add(retryFor)
	backoff := 100 * time.Millisecond
	for {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		err := c.do(ctx, method, path, contentType, rd, hdr, out)
		var e *Error
		if !errors.As(err, &e) || (e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable) {
			return err
		}
		wait := e.RetryAfter
		if wait == 0 {
			wait, backoff = backoff, min(2*backoff, 5*time.Second)
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, hdr http.Header, out any) error {
	resp, err := c.send(ctx, method, path, contentType, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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

// send sends one request and returns the response of a success, or the
// *Error of a failure (its body closed).
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	e := &Error{}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &e.Problem); err != nil || e.Status == 0 {
		e.Problem = api.Problem{Status: resp.StatusCode, Title: resp.Status, Detail: strings.TrimSpace(string(b))}
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Sleep waits for d or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Publish publishes a PEM body (certificates and the intermediates that
// chain them) in one request.
func (c *Client) Publish(ctx context.Context, pemBody []byte) (*api.PublishResponse, error) {
	var resp api.PublishResponse
	body, ct := pemBody, "application/x-pem-file"
	if c.Signer != nil { // as JSON, with a signature per certificate
		certs, chain, err := splitBundle(pemBody)
		if err != nil {
			return nil, err
		}
		req := map[string][]string{"certificates": certs, "chain": chain}
		for _, p := range certs {
			it := api.StreamItem{Certificate: p, Chain: chainFor(p, chain)}
			if err := c.Signer.signItem(&it); err != nil {
				return nil, err
			}
			req["signatures"] = append(req["signatures"], it.Signature)
		}
		if body, err = json.Marshal(req); err != nil {
			return nil, err
		}
		ct = "application/json"
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/certificates", ct, body, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
