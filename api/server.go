package api

import (
	"sync"
	"sync/atomic"

	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Writer submits transactions to the ledger (raftstore.Node).
type Writer interface {
	Submit(ctx context.Context, txs []certchain.Tx) ([]raftstore.Result, error)
	Ready() bool
}

// Reader reads the node's local ledger state (raftstore.State).
type Reader interface {
	Genesis() *certchain.Genesis
	Nodes() ([]*certchain.NodeRecord, error)
	Head() certchain.Header
	Block(height uint64) (*certchain.Block, error)
	Record(id certchain.Hash) (*certchain.Record, error)
	WaitHeight(ctx context.Context, height uint64) error
	// BlockedKey and CertsByKey read the revoked public keys and the
	// certificates by key (SPKI SHA-256).
	BlockedKey(h certchain.Hash) (*certchain.BlockedKey, error)
	CertsByKey(h certchain.Hash, limit int) ([]certchain.Hash, error)
	// MemberHeight is the height of the last change to a member (0: none).
	MemberHeight(name string) (uint64, error)
}

// Limits bound what one request may carry. Zero fields take the defaults
// of DefaultLimits.
type Limits struct {
	PublishBody int64 // bytes of a publish request
	OtherBody   int64 // bytes of any other request
	// BodyMemory bounds the bytes of all request bodies held in memory at
	// once (each reserves its Content-Length, or its limit when chunked);
	// beyond it a request is answered 429 with Retry-After before its body
	// is read. See the package doc, Memory.
	BodyMemory int64
	// BodyTime bounds how long a request body (streams excepted) may take
	// to arrive; a slower one is answered 408, and gives its share of
	// BodyMemory back.
	BodyTime   time.Duration
	BatchCerts int           // certificates in one publish request
	MinHeight  time.Duration // longest wait for ?min_height
	Write      time.Duration // longest wait for a write to be applied
	// Publishes bounds publish requests and streams handled at once;
	// beyond it the node answers 429 with Retry-After, so memory does not
	// grow with the number of clients.
	Publishes int
	// StreamCerts bounds the certificates of one publish stream;
	// StreamChunk is how many are submitted together (fewer when their DER
	// passes StreamChunkBytes), and StreamInflight how many chunks of one
	// stream may be in flight.
	StreamCerts, StreamChunk, StreamInflight int
	StreamChunkBytes                         int
	// MemberRate bounds each member's write requests per second, with
	// bursts of MemberBurst; beyond it the member gets 429 with
	// Retry-After (one member cannot starve the others of a node).
	MemberRate  float64
	MemberBurst int
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{PublishBody: 32 << 20, OtherBody: 64 << 10, BodyMemory: 64 << 20, BodyTime: time.Minute, BatchCerts: 10_000, MinHeight: 5 * time.Second,
		Write: 30 * time.Second, Publishes: 16, StreamCerts: 10_000_000, StreamChunk: 1000, StreamChunkBytes: 1 << 20,
		StreamInflight: 4, MemberRate: 50, MemberBurst: 100}
}

// withDefaults returns l with zero fields set from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, d *int64 }{{&l.PublishBody, &d.PublishBody}, {&l.OtherBody, &d.OtherBody}, {&l.BodyMemory, &d.BodyMemory}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	for _, f := range []struct{ v, d *int }{{&l.BatchCerts, &d.BatchCerts}, {&l.Publishes, &d.Publishes},
		{&l.StreamCerts, &d.StreamCerts}, {&l.StreamChunk, &d.StreamChunk}, {&l.StreamInflight, &d.StreamInflight},
		{&l.StreamChunkBytes, &d.StreamChunkBytes},
		{&l.MemberBurst, &d.MemberBurst}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if l.MemberRate <= 0 {
		l.MemberRate = d.MemberRate
	}
	for _, f := range []struct{ v, d *time.Duration }{{&l.MinHeight, &d.MinHeight}, {&l.Write, &d.Write}, {&l.BodyTime, &d.BodyTime}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	return l
}

// Server serves the REST API.
type Server struct {
	Writer  Writer
	Reader  Reader
	Cluster Cluster
	NodeID  string
	// NodeCA verifies the node certificates of followers that forward
	// writes. Nil: this node takes no forwarded writes.
	NodeCA  *x509.CertPool
	Limits  Limits
	Metrics http.Handler // served at /metrics; nil: 404
	// OCSP answers /ocsp and /ocsp/{request}; it is mounted ahead of the
	// router, which would clean the base64 path. Nil: 404.
	OCSP http.Handler
	// ACME is the node's RFC 8555 server (acme.Server.Handler), mounted
	// at /acme. Nil: 404.
	ACME http.Handler
	// ResponderPEM returns the OCSP responder certificate relying parties
	// trust (GET /v1/ocsp/responder.pem; asked at every request, since the
	// node may replace it while running); OCSPURLs are the network's
	// responder URLs (in GET /v1/network). Nil: 404.
	ResponderPEM func() []byte
	OCSPURLs     []string
	// OCSPSigners lists the certificates the node signs OCSP responses
	// with (GET /v1/ocsp/signers); OCSPDelegateCSR is the PEM request of
	// its delegate key (GET /v1/ocsp/delegate-request.pem). Nil: 404.
	OCSPSigners     func() any
	OCSPDelegateCSR []byte
	// Peers probes the other nodes for GET /v1/cluster. Nil: they are
	// listed as not probed (never as reachable).
	Peers  *Peers
	Logger *slog.Logger
	// Now is the clock used for derived statuses (expired). Nil: time.Now.
	Now func() time.Time

	members   atomic.Pointer[memberIdx] // of the member set last seen
	bodyBytes atomic.Int64              // of Limits.BodyMemory held by requests (bodyHold)
	limiters  sync.Map                  // member -> *rate.Limiter (Limits.MemberRate)
	admitted  chan struct{}             // publish requests in progress (Limits.Publishes)
	reqs      *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	panics    *prometheus.CounterVec
}

// Node is everything the API needs of a validator node (raftstore.Node).
type Node interface {
	Writer
	Cluster
	ID() string
}

// New returns a server over a node and its state; reg receives the HTTP
// metrics (nil: none).
func New(n Node, r Reader, reg prometheus.Registerer) *Server {
	s := &Server{Writer: n, Reader: r, Cluster: n, NodeID: n.ID(), Limits: DefaultLimits(), Logger: slog.Default(), Now: time.Now}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certchain_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "certchain_http_request_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
	}, []string{"route"})
	s.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certchain_http_panics_total", Help: "Handler panics recovered, by route (each is logged at error level with its stack).",
	}, []string{"route"})
	bodies := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "certchain_http_body_bytes", Help: "Bytes of request bodies held in memory (at most Limits.BodyMemory).",
	}, func() float64 { return float64(s.bodyBytes.Load()) })
	if reg != nil {
		reg.MustRegister(s.reqs, s.latency, s.panics, bodies)
	}
	return s
}

// memberIdx maps identity certificate SHA-256 to member name for one
// member set (the genesis value the node's state returned).
type memberIdx struct {
	g     *certchain.Genesis
	names map[[32]byte]string
}

// memberByCert names the member whose identity certificate is der, in the
// current member set (members change by ledger transactions).
func (s *Server) memberByCert(der []byte) (string, bool) {
	g := s.Reader.Genesis()
	idx := s.members.Load()
	if idx == nil || idx.g != g {
		idx = &memberIdx{g: g, names: memberIndex(g)}
		s.members.Store(idx)
	}
	name, ok := idx.names[sha256.Sum256(der)]
	return name, ok
}

func memberIndex(g *certchain.Genesis) map[[32]byte]string {
	idx := make(map[[32]byte]string, len(g.Members))
	for _, m := range g.Members {
		if der, err := certchain.CertPEM(m.Cert); err == nil {
			idx[sha256.Sum256(der)] = m.Name
		}
	}
	return idx
}

// Handler returns the node's HTTP handler: OCSP on /ocsp (raw paths), the
// router for everything else. The same handler is served on the mutual-TLS
// listener and on the plain-HTTP one; writes need a member certificate,
// which only the TLS listener can carry. A panic in any handler, OCSP and
// ACME included, is answered, logged and counted (recoverPanic).
func (s *Server) Handler() http.Handler {
	router := s.router()
	if s.OCSP == nil {
		return router
	}
	ocspRoute := func() string { return "/ocsp" }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ocsp" || strings.HasPrefix(r.URL.Path, "/ocsp/") {
			sw := &statusWriter{ResponseWriter: w, code: 200}
			defer s.recoverPanic(sw, r, ocspRoute)
			s.OCSP.ServeHTTP(sw, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

func (s *Server) router() http.Handler {
	s.Limits = s.Limits.withDefaults()
	s.admitted = make(chan struct{}, s.Limits.Publishes)
	r := chi.NewRouter()
	r.Use(s.instrument)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &reasonError{kind: certchain.ErrNotFound, reason: "no such endpoint: " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, Problem{Type: problemBase + "method-not-allowed", Title: "Method Not Allowed", Status: 405,
			Detail: r.Method + " is not allowed on " + r.URL.Path})
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	r.Get("/readyz", s.ready)
	if s.Metrics != nil {
		r.Handle("/metrics", s.Metrics)
	}
	r.Route("/v1", func(r chi.Router) {
		r.Get("/openapi.json", s.openapi)
		r.Get("/network", s.network)
		r.Get("/ocsp/responder.pem", s.responderPEM)
		r.Get("/ocsp/signers", s.ocspSigners)
		r.Get("/ocsp/delegate-request.pem", s.ocspDelegateRequest)
		r.Post("/ocsp/delegates", s.ocspDelegate)
		r.Post("/certificates", s.publish)
		r.Post("/certificates/stream", s.publishStream)
		r.Get("/certificates/{id}", s.record)
		r.Get("/certificates/{id}/status", s.status)
		r.Post("/certificates/{id}/{action:revoke|suspend|resume}", s.changeStatus)
		r.Post("/certificates/{id}/renew", s.renew)
		r.Get("/keys/{hash}", s.key)
		r.Post("/keys/{hash}/revoke", s.revokeKey)
		r.Get("/blocks/head", s.head)
		r.Get("/blocks/{height}", s.block)
		r.Get("/blocks/{height}/raw", s.rawBlock)
		r.Get("/cluster", s.clusterView)
		r.Get("/cluster/self", s.clusterSelf)
		r.Post("/cluster/nodes", s.nodeAdd)
		r.Delete("/cluster/nodes/{id}", s.nodeRemove)
		r.Get("/whoami", s.whoami)
		r.Get("/members", s.memberList)
		r.Post("/members", s.memberSet)
		r.Delete("/members/{name}", s.memberRemove)
		r.Post("/internal/submit", s.internalSubmit)
		r.Post("/internal/objects", s.internalObjects)
	})
	if s.ACME != nil {
		r.Mount("/acme", s.ACME)
	}
	s.exportPanics(r)
	return r
}

// exportPanics makes certchain_http_panics_total export a zero for every
// route (and /ocsp), so that a panic is an increase an alert can see, not
// a series appearing from nothing.
func (s *Server) exportPanics(r chi.Routes) {
	s.panics.WithLabelValues("/ocsp")
	_ = chi.Walk(r, func(_, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		s.panics.WithLabelValues(route)
		return nil
	})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if !s.Writer.Ready() {
		writeProblem(w, Problem{Type: problemBase + "not-ready", Title: "Service Unavailable", Status: 503,
			Detail: "node has no leader or is still applying the log"})
		return
	}
	writeJSON(w, 200, map[string]any{"status": "ready", "height": s.Reader.Head().Height})
}

// member returns the member whose identity certificate the client
// presented over TLS.
func (s *Server) member(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", &reasonError{kind: errNoClientCert, reason: "writes need a member's client certificate over mutual TLS (use the https listener)"}
	}
	leaf := r.TLS.PeerCertificates[0]
	name, ok := s.memberByCert(leaf.Raw)
	if !ok {
		return "", &reasonError{kind: certchain.ErrUnauthorized, reason: "client certificate " + subjectOf(leaf) + " is not a member's identity certificate"}
	}
	if now := s.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return "", &reasonError{kind: certchain.ErrUnauthorized, reason: "member certificate of " + name + " is outside its validity period"}
	}
	if wait := s.throttle(name); wait > 0 {
		return "", &reasonError{kind: errTooMany, after: wait,
			reason: fmt.Sprintf("member %s sends more than %g write requests per second to this node; retry later", name, s.Limits.MemberRate)}
	}
	return name, nil
}

// throttle takes one write request from member's budget and returns zero,
// or how long the member must wait when the budget is spent.
func (s *Server) throttle(member string) time.Duration {
	l, ok := s.limiters.Load(member)
	if !ok {
		l, _ = s.limiters.LoadOrStore(member, rate.NewLimiter(rate.Limit(s.Limits.MemberRate), s.Limits.MemberBurst))
	}
	r := l.(*rate.Limiter).Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d
	}
	return 0
}

// admitMember authenticates the member of a publish request and takes one
// of the Limits.Publishes slots for it, or answers that the node has too
// many; release gives the slot back.
func (s *Server) admitMember(r *http.Request) (member string, release func(), err error) {
	if member, err = s.member(r); err != nil {
		return "", nil, err
	}
	select {
	case s.admitted <- struct{}{}:
		return member, func() { <-s.admitted }, nil
	default:
		return "", nil, &reasonError{kind: errTooMany, reason: fmt.Sprintf("%d publish requests are in progress on this node; retry later", cap(s.admitted))}
	}
}

func subjectOf(c *x509.Certificate) string { return "\"" + c.Subject.String() + "\"" }

// instrument counts requests and their latency by route pattern, and
// answers a handler's panic (recoverPanic) before counting it.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		route := func() string { return routeOf(r) }
		hold := &bodyHold{}
		r = r.WithContext(withBodyHold(r.Context(), hold))
		defer func() {
			s.release(hold)
			rt := route()
			s.reqs.WithLabelValues(rt, r.Method, strconv.Itoa(sw.code)).Inc()
			s.latency.WithLabelValues(rt).Observe(time.Since(start).Seconds())
		}()
		defer s.recoverPanic(sw, r, route)
		next.ServeHTTP(sw, r)
	})
}

// routeOf is the route pattern r matched ("unmatched" for none).
func routeOf(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// statusWriter records the status of an answer and whether any of it was
// written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 && !w.wrote { // 1xx are interim
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// full duplex, deadlines) through the instrumentation.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
