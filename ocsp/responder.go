package ocsp

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certchain/certchain/certchain"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the Config fields whose zero value means "default".
const (
	DefaultValidity         = time.Hour
	DefaultDelegateValidity = 4 * 24 * time.Hour
	DefaultCacheSize        = 100_000
	DefaultNonceRate        = 1000
	DefaultMaxRequest       = 8 << 10
)

// workQueue bounds the responses waiting to be re-signed after Refresh;
// past it they are re-signed by the next request instead.
const workQueue = 4096

// Source finds the ledger record for an OCSP CertID: issuerKeyHash is the
// SHA-1 (20 bytes) or SHA-256 (32 bytes) of the issuer's subjectPublicKey.
// It returns an error wrapping certchain.ErrNotFound when the ledger has
// no such certificate. raftstore.State satisfies it.
type Source interface {
	LookupOCSP(issuerKeyHash []byte, serial *big.Int) (*certchain.Record, error)
}

// Signer is a responder certificate and its private key (ECDSA P-256,
// P-384 or P-521, RSA, or Ed25519).
type Signer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Config configures a Responder. The zero value of each optional field is
// documented beside it.
type Config struct {
	// Source is the ledger (required).
	Source Source
	// Responder is the ledger's own responder (required): it signs every
	// response that no delegate signs. Relying parties trust its
	// certificate directly (ResponderPEM).
	Responder Signer
	// Delegates are delegated OCSP signers (id-kp-OCSPSigning, issued
	// directly by their Issuer) this node is configured with; more come
	// later through SetDelegate (registered on the ledger) and from
	// IssuingCAs. A delegate signs the responses about its issuer's
	// certificates, so that a relying party trusting only that CA accepts
	// them. Nil: none.
	Delegates []Delegate
	// IssuingCAs are the CAs whose keys this node holds (the ACME CA): the
	// responder issues itself a delegate with each (a fresh P-256 key that
	// never leaves the process), valid for DelegateValidity, and renews
	// it at half its life. Nil: none.
	IssuingCAs []CA
	// DelegateValidity is the lifetime of the delegates issued with
	// IssuingCAs, at least twice Validity. Zero: DefaultDelegateValidity
	// (4 days).
	DelegateValidity time.Duration
	// NodeID names this node in the subject of its delegates
	// (DelegateSubject). Zero: "node".
	NodeID string
	// Validity is nextUpdate - thisUpdate of every response (whole
	// seconds, at least a minute), or less when the signer expires
	// sooner. Zero: DefaultValidity (1h).
	Validity time.Duration
	// CacheSize bounds the signed responses held in memory (about 1 KiB
	// each plus the request; the signer's certificate is shared). Zero:
	// DefaultCacheSize (100,000).
	CacheSize int
	// NonceRate bounds the responses signed per second for requests with
	// a nonce (burst: one second's worth, at least 1); past it such
	// requests get the cached response without their nonce. Zero:
	// DefaultNonceRate (1000); negative: nonces are never echoed.
	NonceRate float64
	// MaxRequest bounds a request's DER size in bytes. Zero:
	// DefaultMaxRequest (8 KiB).
	MaxRequest int
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Logger receives the responder's logs. Nil: slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil: they are not exported.
	Registerer prometheus.Registerer
}

func (c *Config) fill() error {
	switch {
	case c.Source == nil:
		return fmt.Errorf("%w: ocsp: no source", certchain.ErrInvalid)
	case c.Validity < 0 || (c.Validity > 0 && c.Validity < time.Minute) || c.CacheSize < 0 || c.MaxRequest < 0:
		return fmt.Errorf("%w: ocsp: negative limits or a validity under a minute", certchain.ErrInvalid)
	}
	c.Validity = cmp.Or(c.Validity, DefaultValidity).Truncate(time.Second)
	c.DelegateValidity = cmp.Or(c.DelegateValidity, DefaultDelegateValidity)
	if c.DelegateValidity < 2*c.Validity {
		return fmt.Errorf("%w: ocsp: delegate validity %s is under twice the response validity %s", certchain.ErrInvalid, c.DelegateValidity, c.Validity)
	}
	c.NodeID = cmp.Or(c.NodeID, "node")
	c.CacheSize = cmp.Or(c.CacheSize, DefaultCacheSize)
	c.NonceRate = cmp.Or(c.NonceRate, DefaultNonceRate)
	c.MaxRequest = cmp.Or(c.MaxRequest, DefaultMaxRequest)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Responder is an OCSP responder over the ledger: an http.Handler that
// answers from a bounded cache of signed responses, signing on a miss.
// It is safe for concurrent use.
type Responder struct {
	cfg       Config
	ledger    atomic.Pointer[signer] // the ledger responder; swapped whole by SetResponder
	swapMu    sync.Mutex             // serialises SetResponder
	delegates delegates
	auto      []*autoDelegate // guarded by autoMu
	autoMu    sync.Mutex
	cache     *cache
	budget    *bucket
	work      chan *slot
	m         *metrics
	ages      ageTable
	pem       atomic.Pointer[[]byte] // the ledger responder's certificate, PEM
	bufs      sync.Pool              // *[]byte for POST bodies
}

// New checks cfg and returns a Responder, with a delegate issued for
// every issuing CA. Signers must hold the key of their certificate;
// delegates must carry id-kp-OCSPSigning and be signed by their issuer.
func New(cfg Config) (*Responder, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ledger, err := newSigner(cfg.Responder, false)
	if err != nil {
		return nil, fmt.Errorf("ocsp: responder: %w", err)
	}
	auto, err := newAutoDelegates(cfg.IssuingCAs)
	if err != nil {
		return nil, err
	}
	r := &Responder{cfg: cfg, auto: auto, cache: newCache(cfg.CacheSize),
		budget: newBucket(cfg.NonceRate), work: make(chan *slot, workQueue), ages: newAgeTable(cfg.Validity)}
	r.useResponder(ledger)
	r.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	r.m = newMetrics(func() float64 { return float64(r.cache.len()) }, r.signerExpiry)
	for _, d := range cfg.Delegates {
		if err := r.SetDelegate(d); err != nil {
			return nil, err
		}
	}
	if err := r.maintain(cfg.Now()); err != nil {
		return nil, err
	}
	if err := r.m.register(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("ocsp: metrics: %w", err)
	}
	return r, nil
}

// signerExpiry lists the signers in use, for the expiry metric.
func (r *Responder) signerExpiry() []SignerInfo {
	all := r.Signers()
	out := all[:0]
	for _, s := range all {
		if s.Active {
			out = append(out, s)
		}
	}
	return out
}

// ResponderPEM returns the ledger responder's certificate as PEM, for
// relying parties to trust (served at GET /v1/ocsp/responder.pem).
func (r *Responder) ResponderPEM() []byte { return *r.pem.Load() }

// Refresh must be called with the records every applied block changed, on
// every node, before the block's writes are acknowledged: it drops the
// cached responses naming those certificates (including "unknown" ones
// for certificates just published) and queues them for re-signing by Run.
func (r *Responder) Refresh(changed []*certchain.Record) {
	if len(changed) == 0 {
		return
	}
	keys := make([]string, 0, 2*len(changed))
	for _, rec := range changed {
		keys = appendRecordKeys(keys, rec)
	}
	r.requeue(r.cache.invalidate(keys))
}

// requeue hands invalidated slots to Run for re-signing.
func (r *Responder) requeue(slots []*slot) {
	for _, s := range slots {
		select {
		case r.work <- s:
		default: // the next request signs it
		}
	}
}

// Run re-signs, until ctx ends, the responses Refresh dropped and the
// cached responses that reach half their validity, if they were requested
// since they were signed (the others are evicted), and renews delegates
// (see maintain). Call it once.
func (r *Responder) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.resignQueued(ctx) })
	defer wg.Wait()
	t := time.NewTicker(min(max(r.cfg.Validity/8, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := r.cfg.Now()
			_ = r.maintain(now) // failures are logged; the next tick retries
			r.sweep(ctx, now)
		}
	}
}

func (r *Responder) resignQueued(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-r.work:
			if s.resp.Load() == nil { // not signed again since it was queued
				r.resign(ctx, s)
			}
		}
	}
}

// sweep re-signs the hot responses due for refresh and drops cold ones.
func (r *Responder) sweep(ctx context.Context, now time.Time) {
	hot, cold := r.cache.due(now)
	r.cache.drop(cold)
	for _, s := range hot {
		if ctx.Err() != nil {
			return
		}
		r.resign(ctx, s)
	}
}

func (r *Responder) resign(ctx context.Context, s *slot) {
	if !r.cache.holds(s) {
		return
	}
	if _, err := r.fill(ctx, s); err != nil && ctx.Err() == nil {
		r.cfg.Logger.Warn("ocsp: re-signing a cached response failed", "err", err)
	}
}

// fill signs s's response, or waits for the signing already under way.
func (r *Responder) fill(ctx context.Context, s *slot) (*response, error) {
	f, leader := r.cache.join(s)
	if leader {
		var ids []certID
		if ids, f.err = certIDsOf(s.canon); f.err == nil {
			f.resp, f.err = r.build(ids, nil)
		}
		r.cache.finish(s, f)
	}
	select {
	case <-f.done:
		return f.resp, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
