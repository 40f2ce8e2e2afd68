package acme

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
)

// userAgent identifies validation requests in the client's logs.
const userAgent = "certchain-acme-validator"

// newHTTPClient returns the http-01 client: connections through v.dial
// (v's resolver, no proxy), no keep-alives, no compression, bounded
// headers, no certificate checks on https redirects (RFC 8555 §8.3), and
// redirects limited by checkRedirect.
func (v *Validator) newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			p, err := strconv.Atoi(port)
			if err != nil {
				return nil, err
			}
			return v.dial(ctx, host, p)
		},
		// RFC 8555 §8.3: the certificate of an https redirect is not checked.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: v.cfg.MaxResponseSize,
	}
	return &http.Client{Transport: tr, CheckRedirect: v.checkRedirect}
}

// ValidateHTTP01 fetches http://<ident>:<HTTPPort>/.well-known/acme-challenge/<token>
// and checks that the body, trailing whitespace aside, is keyAuth
// (RFC 8555 §8.3; RFC 8738 §3 for ip identifiers).
func (v *Validator) ValidateHTTP01(ctx context.Context, ident Identifier, token, keyAuth string) error {
	t, err := checkIdentifier(ident, false)
	if err != nil {
		return err
	}
	if token == "" || !isBase64URL(token) {
		return ErrMalformed.Errorf("invalid challenge token %q", token)
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	ctx, err = v.withAddrs(ctx, t.host)
	if err != nil {
		return v.netProblem(err, t.host)
	}
	u := &url.URL{Scheme: "http", Host: hostPort(t.host, v.cfg.HTTPPort, DefaultHTTPPort), Path: "/.well-known/acme-challenge/" + token}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return ErrServerInternal.Errorf("http-01 request: %w", err)
	}
	req.Host = hostPort(t.host, DefaultHTTPPort, DefaultHTTPPort) // as on port 80, whatever port tests use
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := v.client.Do(req)
	if err != nil {
		return v.netProblem(err, u.String())
	}
	defer resp.Body.Close()
	where := resp.Request.URL.String() // after redirects
	if resp.StatusCode != http.StatusOK {
		return ErrIncorrectResponse.Errorf("%s answered HTTP %d, want 200 with the key authorization", where, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.cfg.MaxResponseSize+1))
	if err != nil {
		return v.netProblem(err, where)
	}
	if int64(len(body)) > v.cfg.MaxResponseSize {
		return ErrIncorrectResponse.Errorf("%s answered with more than %d bytes", where, v.cfg.MaxResponseSize)
	}
	if got := string(bytes.TrimRight(body, " \t\r\n")); got != keyAuth {
		return ErrUnauthorized.Errorf("key authorization from %s does not match: got %s, want %s", where, quoteShort(got), quoteShort(keyAuth))
	}
	return nil
}

// checkRedirect allows at most maxRedirects redirects, each to http on
// HTTPPort or https on TLSPort (an absent port means the configured one),
// to a DNS name or IP address. The request keeps a bare Host header.
func (v *Validator) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return ErrConnection.Errorf("too many redirects (more than %d) from %s", maxRedirects, via[0].URL)
	}
	u := req.URL
	var port int
	switch u.Scheme {
	case "http":
		port = v.cfg.HTTPPort
	case "https":
		port = v.cfg.TLSPort
	default:
		return ErrConnection.Errorf("redirect to %s: only http and https are followed", u.Redacted())
	}
	if p := u.Port(); p != "" && p != strconv.Itoa(port) {
		return ErrConnection.Errorf("redirect to %s: only port %d is followed for %s", u.Redacted(), port, u.Scheme)
	}
	host := u.Hostname()
	kind := IdentifierDNS
	if _, err := netip.ParseAddr(host); err == nil {
		kind = IdentifierIP
	}
	t, err := checkIdentifier(Identifier{Type: kind, Value: host}, false)
	if err != nil {
		return ErrConnection.Errorf("redirect to %s: invalid host", u.Redacted())
	}
	defaultPort := map[string]int{"http": DefaultHTTPPort, "https": DefaultTLSPort}[u.Scheme]
	u.Host = hostPort(t.host, port, defaultPort)
	req.Host = hostPort(t.host, defaultPort, defaultPort)
	req.Header.Set("User-Agent", userAgent)
	return nil
}
