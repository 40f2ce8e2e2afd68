package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The challenge types a Validator checks.
const (
	ChallengeHTTP01    = "http-01"     // RFC 8555 §8.3
	ChallengeDNS01     = "dns-01"      // RFC 8555 §8.4
	ChallengeTLSALPN01 = "tls-alpn-01" // RFC 8737
)

// Defaults of ValidatorConfig.
const (
	DefaultHTTPPort          = 80
	DefaultTLSPort           = 443
	DefaultValidationTimeout = 10 * time.Second
	DefaultMaxResponseSize   = 16 << 10
)

// maxRedirects is how many redirects http-01 follows (Boulder follows 10;
// a challenge needs at most an http→https hop and a path rewrite).
const maxRedirects = 5

// ValidatorConfig configures a Validator. The zero value validates as a
// public CA does: ports 80 and 443, the system resolver, 10 s per
// validation, 16 KiB responses.
type ValidatorConfig struct {
	// HTTPPort is the port http-01 connects to, and the only port an
	// http:// redirect may name. Zero means 80.
	HTTPPort int
	// TLSPort is the port tls-alpn-01 connects to, and the only port an
	// https:// redirect of http-01 may name. Zero means 443.
	TLSPort int
	// Resolver is the DNS server ("host:port") that answers every DNS
	// lookup: A/AAAA for http-01 and tls-alpn-01, TXT for dns-01. Empty
	// means the system resolver. Either way, http-01 and tls-alpn-01 look
	// a name up in the hosts file first, as the system does (so localhost
	// validates without a DNS server); dns-01 asks DNS only.
	Resolver string
	// Timeout bounds each validation, all lookups and I/O included. Zero
	// means DefaultValidationTimeout.
	Timeout time.Duration
	// MaxResponseSize bounds what http-01 reads: the response headers and,
	// separately, the body. Zero means DefaultMaxResponseSize.
	MaxResponseSize int64
}

// withDefaults returns cfg with zero fields set to their defaults.
func (cfg ValidatorConfig) withDefaults() ValidatorConfig {
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = DefaultHTTPPort
	}
	if cfg.TLSPort == 0 {
		cfg.TLSPort = DefaultTLSPort
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultValidationTimeout
	}
	if cfg.MaxResponseSize == 0 {
		cfg.MaxResponseSize = DefaultMaxResponseSize
	}
	return cfg
}

// Validate reports the first problem in cfg (after defaults apply).
func (cfg ValidatorConfig) Validate() error {
	cfg = cfg.withDefaults()
	for _, p := range []struct {
		name string
		port int
	}{{"HTTPPort", cfg.HTTPPort}, {"TLSPort", cfg.TLSPort}} {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("acme validator: %s %d out of range", p.name, p.port)
		}
	}
	if cfg.Resolver != "" {
		if _, _, err := net.SplitHostPort(cfg.Resolver); err != nil {
			return fmt.Errorf("acme validator: Resolver %q is not host:port: %w", cfg.Resolver, err)
		}
	}
	if cfg.Timeout < 0 || cfg.MaxResponseSize < 0 {
		return errors.New("acme validator: Timeout and MaxResponseSize must not be negative")
	}
	return nil
}

// Validator checks ACME challenges against the client's servers. It is
// safe for concurrent use; every method returns within the configured
// Timeout (or the context's deadline, if sooner).
type Validator struct {
	cfg      ValidatorConfig
	hosts    *net.Resolver // the hosts file (and other non-DNS sources) only
	resolver *net.Resolver
	client   *http.Client
}

// errNoDNS is the hosts resolver's answer to every DNS query it would send.
var errNoDNS = errors.New("acme validator: the hosts lookup asks no DNS server")

// hostsResolver is Go's resolver with DNS cut off: it answers from the
// hosts file, in the order nsswitch.conf gives, and from nothing else.
func hostsResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errNoDNS
	}}
}

// NewValidator returns a Validator for cfg.
func NewValidator(cfg ValidatorConfig) (*Validator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Validator{cfg: cfg.withDefaults(), hosts: hostsResolver(), resolver: net.DefaultResolver}
	if addr := v.cfg.Resolver; addr != "" {
		v.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}
	}
	v.client = v.newHTTPClient()
	return v, nil
}

// Validate checks a challenge of type typ (ChallengeHTTP01, ChallengeDNS01
// or ChallengeTLSALPN01) for ident. keyAuth is the expected key
// authorization of token (KeyAuthorization). It returns nil on success and
// otherwise a *Problem to record in the challenge's "error".
func (v *Validator) Validate(ctx context.Context, typ string, ident Identifier, token, keyAuth string) error {
	switch typ {
	case ChallengeHTTP01:
		return v.ValidateHTTP01(ctx, ident, token, keyAuth)
	case ChallengeDNS01:
		return v.ValidateDNS01(ctx, ident, keyAuth)
	case ChallengeTLSALPN01:
		return v.ValidateTLSALPN01(ctx, ident, keyAuth)
	}
	return ErrMalformed.Errorf("unsupported challenge type %q", typ)
}

// lookup returns the addresses of host: host itself if it is an IP
// literal, else its entry in the hosts file, else its A and AAAA records.
// Addresses a validation resolved up front (withAddrs) are reused.
//
// The hosts file is read with the name as it is, since Go's hosts lookup
// does not match a rooted name ("localhost." finds nothing); DNS is asked
// for the rooted name, so the resolver's search domains never apply.
func (v *Validator) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	if r, ok := ctx.Value(resolvedKey{}).(resolved); ok && strings.EqualFold(r.host, host) {
		return r.addrs, nil
	}
	addrs, err := v.hosts.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		addrs, err = v.resolver.LookupNetIP(ctx, "ip", host+".")
	}
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no A or AAAA records", Name: host, IsNotFound: true}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

// resolved carries the addresses of a host looked up before an HTTP
// request, so that a failed lookup is reported as such (http.Client
// reports its context's error instead when the lookup times out) and the
// dial does not look up again.
type resolved struct {
	host  string
	addrs []netip.Addr
}

type resolvedKey struct{}

// withAddrs looks host up and returns ctx carrying the answer for lookup.
func (v *Validator) withAddrs(ctx context.Context, host string) (context.Context, error) {
	addrs, err := v.lookup(ctx, host)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, resolvedKey{}, resolved{host: host, addrs: addrs}), nil
}

// dial connects to host:port, trying each of host's addresses in turn,
// each with an equal share of the time left.
func (v *Validator) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	addrs, err := v.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for i, a := range addrs {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			actx, cancel = context.WithTimeout(ctx, time.Until(dl)/time.Duration(len(addrs)-i))
		}
		var d net.Dialer
		conn, err := d.DialContext(actx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		cancel()
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// netProblem turns an error from talking to target into the problem the
// client sees: dns for lookups, tls for handshakes, connection otherwise.
// A *Problem already in err is returned as it is. The detail is written
// for the client; err stays reachable with errors.Is and errors.As.
func (v *Validator) netProblem(err error, target string) error {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	resolver := v.cfg.Resolver
	if resolver == "" {
		resolver = "the system resolver"
	}
	if d, ok := errors.AsType[*net.DNSError](err); ok {
		name := strings.TrimSuffix(d.Name, ".")
		switch {
		case d.IsNotFound:
			return wrapProblem(ErrDNS, err, "DNS problem: %s does not exist or has no records of the type asked (asked %s)", name, resolver)
		case d.IsTimeout:
			return wrapProblem(ErrDNS, err, "DNS problem: query for %s timed out (asked %s)", name, resolver)
		}
		return wrapProblem(ErrDNS, err, "DNS problem: query for %s failed: %s (asked %s)", name, d.Err, resolver)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return wrapProblem(ErrConnection, err, "validation of %s was cancelled", target)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return wrapProblem(ErrConnection, err, "timeout after %s talking to %s (firewall, or nothing answering?)", v.cfg.Timeout, target)
	case errors.Is(err, syscall.ECONNREFUSED):
		return wrapProblem(ErrConnection, err, "connection refused by %s", target)
	case errors.Is(err, syscall.ECONNRESET):
		return wrapProblem(ErrConnection, err, "connection reset by %s", target)
	case isTLSError(err):
		return wrapProblem(ErrTLS, err, "TLS error talking to %s: %s", target, innermost(err))
	}
	return wrapProblem(ErrConnection, err, "error talking to %s: %s", target, innermost(err))
}

// wrapProblem returns a problem of type t with the formatted detail that
// wraps err without repeating its text.
func wrapProblem(t ProblemType, err error, format string, args ...any) *Problem {
	p := t.Errorf(format, args...)
	p.cause = append(p.cause, err)
	return p
}

// innermost returns the message of err without the URL and operation
// prefixes url.Error and net.OpError add.
func innermost(err error) string {
	for {
		switch e := err.(type) {
		case *url.Error:
			err = e.Err
		case *net.OpError:
			err = e.Err
		default:
			return err.Error()
		}
	}
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// isTLSError reports whether err comes from a TLS handshake (of an https
// redirect). Alerts the peer sends have no exported type, hence the
// message test.
func isTLSError(err error) bool {
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	return strings.Contains(err.Error(), "tls: ")
}

// hostPort joins host and port for a URL, leaving out the scheme's default
// port.
func hostPort(host string, port, defaultPort int) string {
	if port == defaultPort {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// quoteShort quotes at most 128 bytes of s (a key authorization is about
// 87) for a problem detail.
func quoteShort(s string) string {
	if len(s) > 128 {
		return strconv.Quote(s[:128]) + "…"
	}
	return strconv.Quote(s)
}
