package acme

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is the replicated object storage the server keeps accounts,
// orders, authorizations and issued certificates in (the node's Raft log,
// see raftstore's objects). Every node reads the same objects, so a client
// can go on with any node and nothing is lost with a leader.
type Store interface {
	// Get returns an object's value and version, or an error wrapping
	// ErrNoObject.
	Get(ctx context.Context, key string) (value []byte, version uint64, err error)
	// Put applies writes all or none. Version 0 creates; a version that no
	// longer matches fails with an error wrapping ErrVersionConflict. It
	// returns once the writes can be read on this node.
	Put(ctx context.Context, writes []Write) error
	// List returns the keys of the objects whose keys start with prefix, in
	// order, at most limit of them.
	List(ctx context.Context, prefix string, limit int) ([]string, error)
}

// Write is one conditional write of a Store; a nil Value deletes.
type Write struct {
	Key     string
	Value   []byte
	Version uint64
}

// anyVersion as Write.Version writes whatever the current version (the
// same value as raftstore.AnyVersion).
const anyVersion = ^uint64(0)

// Store errors the server branches on.
var (
	ErrNoObject        = errors.New("acme store: no such object")
	ErrVersionConflict = errors.New("acme store: version conflict")
)

// Ledger is what the server needs of the certificate ledger.
type Ledger interface {
	// Publish puts a certificate the issuer signed on the ledger (chain:
	// the intermediates above it) and returns once it is applied on this
	// node, so its OCSP status is good before the client can fetch it.
	Publish(ctx context.Context, der []byte, chain [][]byte) error
	// Revoke revokes the certificate with an RFC 5280 reason code. A
	// certificate that is already revoked gives an error wrapping
	// ErrAlreadyRevoked.
	Revoke(ctx context.Context, der []byte, reason int) error
	// Revoked reports whether the certificate is revoked (or superseded) on
	// the ledger.
	Revoked(ctx context.Context, der []byte) (bool, error)
}

// IdentifierPolicy says which identifiers the CA issues for.
type IdentifierPolicy struct {
	// Domains are the DNS names allowed, each with all its subdomains
	// ("example.net" allows example.net and a.b.example.net).
	Domains []string
	// IPs are the address ranges allowed for ip identifiers.
	IPs []netip.Prefix
}

// Config configures a Server.
type Config struct {
	// BaseURL is the external URL of the node's API ("https://host:port");
	// the ACME directory is BaseURL + "/acme/directory".
	BaseURL string
	// Node names this node (the nonce prefix).
	Node      string
	Store     Store
	Ledger    Ledger
	Issuer    *Issuer
	Validator *Validator
	Policy    IdentifierPolicy
	// KeyPolicy checks the public key of a CSR; the ledger's publish key
	// policy, so that nothing issued is refused by the ledger. Nil means
	// CheckAccountKey.
	KeyPolicy func(crypto.PublicKey) error
	// EABRequired makes newAccount require an external account binding
	// with one of EABKeys (key ID -> HMAC key).
	EABRequired bool
	EABKeys     map[string][]byte
	// OrderLifetime bounds how long a pending order and its
	// authorizations stay usable; zero means DefaultOrderLifetime.
	OrderLifetime time.Duration
	// AuthzLifetime is how long a valid authorization stays valid; zero
	// means DefaultAuthzLifetime.
	AuthzLifetime time.Duration
	// Peers lists the cluster's nodes; a request signed with another node's
	// nonce is forwarded to that node with PeerClient (which must trust
	// the nodes' TLS certificates). Nil: nonces of other nodes get
	// badNonce with a fresh nonce of this node.
	Peers      func() []Peer
	PeerClient *http.Client
	// Registerer receives the ACME metrics; nil means none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// Leader reports whether this node leads the cluster: only the leader
	// prunes old objects (Prune). Nil: this node prunes.
	Leader func() bool
}

// Defaults of Config.
const (
	DefaultOrderLifetime = 7 * 24 * time.Hour
	DefaultAuthzLifetime = 30 * 24 * time.Hour
	// maxIdentifiers bounds the identifiers of one order.
	maxIdentifiers = 100
	// maxContacts bounds an account's contact URLs.
	maxContacts = 10
	// maxListed bounds the orders an account's orders list shows.
	maxListed = 1000
)

// Server is the RFC 8555 ACME server of one node. Its handler serves the
// "/acme/" paths.
type Server struct {
	cfg     Config
	base    string // BaseURL + "/acme"
	nonces  *NonceSource
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time

	// background counts challenge validations that run after the
	// request that started them answered, and the pruning loop; Close
	// waits for them.
	background sync.WaitGroup
	ctx        context.Context
	cancel     context.CancelFunc
}

// NewServer returns a server for cfg.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, errors.New("acme: no BaseURL")
	case cfg.Store == nil || cfg.Ledger == nil || cfg.Issuer == nil || cfg.Validator == nil:
		return nil, errors.New("acme: Store, Ledger, Issuer and Validator are required")
	case cfg.EABRequired && len(cfg.EABKeys) == 0:
		return nil, errors.New("acme: external account binding required but no EAB keys configured")
	}
	if cfg.OrderLifetime <= 0 {
		cfg.OrderLifetime = DefaultOrderLifetime
	}
	if cfg.AuthzLifetime <= 0 {
		cfg.AuthzLifetime = DefaultAuthzLifetime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyPolicy == nil {
		cfg.KeyPolicy = CheckAccountKey
	}
	for i, d := range cfg.Policy.Domains {
		cfg.Policy.Domains[i] = strings.ToLower(strings.Trim(d, "."))
	}
	s := &Server{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/") + "/acme",
		nonces: NewNonceSource(NonceConfig{Node: cfg.Node}), log: cfg.Logger, now: cfg.Now}
	s.metrics = newMetrics(cfg.Registerer)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.background.Add(1)
	go s.pruneLoop()
	return s, nil
}

// Close stops challenge validations in progress and the pruning, and
// waits for them.
func (s *Server) Close() {
	s.cancel()
	s.background.Wait()
}

// Paths of the ACME resources under /acme.
const (
	pathDirectory   = "/directory"
	pathNewNonce    = "/new-nonce"
	pathNewAccount  = "/new-account"
	pathNewOrder    = "/new-order"
	pathRevokeCert  = "/revoke-cert"
	pathKeyChange   = "/key-change"
	pathRenewalInfo = "/renewal-info"
	pathAccount     = "/acct/"
	pathOrder       = "/order/"
	pathAuthz       = "/authz/"
	pathChallenge   = "/chall/"
	pathCert        = "/cert/"
	pathIssuer      = "/issuer"
)

// Handler returns the HTTP handler of the ACME resources; mount it at
// "/acme".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, ErrMalformed.Errorf("no ACME resource at %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		p := ErrMalformed.Errorf("%s is not allowed on %s", r.Method, r.URL.Path)
		p.Status = http.StatusMethodNotAllowed
		WriteProblem(w, p)
	})
	r.Get(pathDirectory, s.directory)
	r.Head(pathNewNonce, s.newNonce)
	r.Get(pathNewNonce, s.newNonce)
	r.Get(pathIssuer, s.issuerCert)
	r.Get(pathRenewalInfo+"/{id}", s.renewalInfo)
	r.Post(pathNewAccount, s.handle(jwkKey, s.newAccount))
	r.Post(pathAccount+"{id}", s.handle(accountKey, s.account))
	r.Post(pathAccount+"{id}/orders", s.handle(accountKey, s.accountOrders))
	r.Post(pathKeyChange, s.handle(accountKey, s.keyChange))
	r.Post(pathNewOrder, s.handle(accountKey, s.newOrder))
	r.Post(pathOrder+"{id}", s.handle(accountKey, s.order))
	r.Post(pathOrder+"{id}/finalize", s.handle(accountKey, s.finalize))
	r.Post(pathAuthz+"{id}", s.handle(accountKey, s.authz))
	r.Post(pathChallenge+"{authz}/{type}", s.handle(accountKey, s.challenge))
	r.Post(pathCert+"{id}", s.handle(accountKey, s.certificate))
	r.Post(pathRevokeCert, s.handle(eitherKey, s.revokeCert))
	return r
}

func (s *Server) url(path string) string { return s.base + path }

// directory serves RFC 8555 §7.1.1 with ARI (RFC 9773) and profiles.
func (s *Server) directory(w http.ResponseWriter, _ *http.Request) {
	meta := map[string]any{"externalAccountRequired": s.cfg.EABRequired, "profiles": s.cfg.Issuer.Profiles()}
	writeJSON(w, http.StatusOK, map[string]any{
		"newNonce":    s.url(pathNewNonce),
		"newAccount":  s.url(pathNewAccount),
		"newOrder":    s.url(pathNewOrder),
		"revokeCert":  s.url(pathRevokeCert),
		"keyChange":   s.url(pathKeyChange),
		"renewalInfo": s.url(pathRenewalInfo),
		"meta":        meta,
	})
}

// newNonce serves RFC 8555 §7.2: 200 for HEAD, 204 for GET.
func (s *Server) newNonce(w http.ResponseWriter, r *http.Request) {
	s.addNonce(w)
	w.Header().Set("Link", link(s.url(pathDirectory), "index"))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) addNonce(w http.ResponseWriter) {
	w.Header().Set("Replay-Nonce", s.nonces.Nonce())
	w.Header().Set("Cache-Control", "no-store")
}

// issuerCert serves the issuing CA certificate (the AIA caIssuers URL).
func (s *Server) issuerCert(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/pkix-cert")
	_, _ = w.Write(s.cfg.Issuer.Certificate().Raw)
}

func link(url, rel string) string { return "<" + url + `>;rel="` + rel + `"` }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteProblem(w, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
