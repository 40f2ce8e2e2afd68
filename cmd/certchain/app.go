package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/certchain/certchain/acme"
	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/certreload"
	"github.com/certchain/certchain/internal/devnet"
	"github.com/certchain/certchain/ocsp"
	"github.com/certchain/certchain/raftstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// App is a running validator node with its listeners. Tests start it on
// 127.0.0.1:0 addresses.
type App struct {
	Config  Config
	Logger  *slog.Logger
	Node    *raftstore.Node
	Network *devnet.Network // development mode only
	// HTTPURL and HTTPSURL are where the listeners ended up; APIURL is what
	// other nodes are told to use.
	HTTPURL, HTTPSURL, APIURL string

	creds   *credentials
	servers []*http.Server
	ocsp    atomic.Pointer[ocspNode] // set once the responder runs
	acme    *acme.Server             // nil when ACME is off
	// acmeClock is the ACME server's clock; nil: time.Now (tests move it).
	acmeClock func() time.Time
	stop      context.CancelFunc // ends the App's background work
	// small shrinks Badger's memory and raftTimeout, when set, replaces
	// the configured Raft heartbeat, election and lease timeouts (tests
	// speed up a single node's first election with it).
	small       bool
	raftTimeout time.Duration
	// Hangup delivers SIGHUP: reload the node and OCSP responder
	// certificates (nil: only when their files change; see reload.go).
	Hangup <-chan os.Signal
	// certPoll, when set, replaces certreload.PollInterval (tests).
	certPoll time.Duration
}

// peerProbeEvery is how often a node asks the others how they are doing
// (GET /v1/cluster/self), so `cluster status` knows each one's last
// contact.
const peerProbeEvery = 2 * time.Second

// credentials are what a node proves and trusts.
type credentials struct {
	genesis   *certchain.Genesis
	nodeCA    *x509.CertPool // verifies other nodes' certificates
	adminCert string         // admin client certificate for --join (PEM files)
	adminKey  string
	// node is the TLS server, Raft and forwarding client certificate,
	// replaced while the node runs (reload.go).
	node *certreload.Pair
}

// Start opens the listeners, the node, and joins a cluster if asked to.
func (a *App) Start(ctx context.Context) error {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	var err error
	if a.creds, err = a.credentials(); err != nil {
		return err
	}
	tlsLn, plainLn, err := a.listeners()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	closeAll := func() {
		for _, ln := range []net.Listener{tlsLn, plainLn} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if a.Node, err = raftstore.Open(a.nodeConfig(reg)); err != nil {
		closeAll()
		return fmt.Errorf("open node: %w", err)
	}
	bg, stop := context.WithCancel(context.Background())
	a.stop = stop
	signing, err := a.startOCSP(bg, reg)
	if err == nil {
		err = a.watchCerts(bg, reg, signing)
	}
	if err != nil {
		closeAll()
		return err
	}
	srv := api.New(a.Node, a.Node.State(), reg)
	srv.Logger, srv.NodeCA = a.Logger, a.creds.nodeCA
	srv.Limits.Publishes, srv.Limits.MemberRate, srv.Limits.MemberBurst = a.Config.MaxPublishes, a.Config.MemberRate, a.Config.MemberBurst
	srv.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	srv.OCSP, srv.ResponderPEM, srv.OCSPURLs = signing.r, signing.r.ResponderPEM, a.ocspURLs()
	srv.OCSPSigners, srv.OCSPDelegateCSR = func() any { return signing.r.Signers() }, signing.csr
	srv.Peers = &api.Peers{Client: a.nodeClient()}
	go srv.Peers.Watch(bg, peerProbeEvery, a.Node.Servers, a.Node.Status)
	if a.acme, err = a.startACME(reg); err != nil {
		closeAll()
		return err
	}
	if a.acme != nil {
		srv.ACME = a.acme.Handler()
	}
	if a.Network != nil { // the CLI profile exists before anything answers
		if err := writeClientProfile(a); err != nil {
			closeAll()
			return fmt.Errorf("CLI profile: %w", err)
		}
	}
	for _, ln := range []net.Listener{tlsLn, plainLn} {
		if ln != nil {
			a.serve(ln, srv.Handler())
		}
	}
	switch {
	case a.Config.Join == "":
	case a.Node.HadState():
		// A member restarting: it keeps serving from its own state while the
		// re-join (needed only if its addresses changed) retries in the
		// background; a failure there must not take a healthy node down.
		go func() {
			if err := a.join(context.Background()); err != nil {
				a.Logger.Error("re-join failed; the cluster still has this node's old addresses", "err", err)
			}
		}()
	default:
		return a.join(ctx)
	}
	return nil
}

func (a *App) nodeConfig(reg prometheus.Registerer) raftstore.Config {
	c := a.Config
	cfg := raftstore.Config{
		ID: c.NodeID, Dir: c.DataDir, RaftAddr: c.RaftAddr, RaftAdvertise: c.RaftAdvertise, API: a.APIURL,
		Genesis: a.creds.genesis, Bootstrap: c.Join == "" && (c.Bootstrap || c.Dev()),
		SmallMemory: a.small, Timeouts: a.raftTimeouts(), Logger: a.Logger, Registerer: reg, OnApply: a.refreshOCSP,
		MaxPending: c.MaxPending,
		Forwarder:  &api.Forwarder{Client: a.nodeClient(), NodeID: c.NodeID},
	}
	if !c.RaftPlain {
		cfg.RaftTLS = &raftstore.RaftTLS{GetCertificate: a.creds.node.Certificate, CA: a.creds.nodeCA}
	}
	return cfg
}

func (a *App) raftTimeouts() raftstore.RaftTimeouts {
	t := a.Config.RaftTimeouts()
	if a.raftTimeout > 0 {
		t.Heartbeat, t.Election, t.LeaderLease = a.raftTimeout, a.raftTimeout, a.raftTimeout
	}
	return t
}

// nodeClient is the HTTPS client a node uses towards other nodes: its own
// node certificate, trusting the node CA.
func (a *App) nodeClient() *http.Client {
	tc := &tls.Config{GetClientCertificate: a.creds.node.GetClientCertificate, RootCAs: a.creds.nodeCA, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 16}, Timeout: time.Minute}
}

// credentials loads (or in development mode creates) the genesis, the node
// certificate and the CA of node certificates.
func (a *App) credentials() (*credentials, error) {
	if !a.Config.Dev() {
		return loadCredentials(&a.Config)
	}
	nw, created, err := devnet.Ensure(a.Config.NetworkDir(), devnet.Options{Now: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("development network: %w", err)
	}
	if created {
		a.Logger.Info("created a development network", "dir", nw.Dir, "network_id", nw.Genesis.NetworkID)
	}
	a.Network = nw
	cert, err := certreload.Load(certreload.NodeTLS, nw.NodeCertFile, nw.NodeKeyFile, nil)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	adminCert, adminKey := nw.MemberCert("admin")
	return &credentials{genesis: nw.Genesis, node: cert, nodeCA: nw.CAPool(), adminCert: adminCert, adminKey: adminKey}, nil
}

func loadCredentials(c *Config) (*credentials, error) {
	b, err := os.ReadFile(c.Genesis)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	g, err := certchain.ParseGenesis(b)
	if err != nil {
		return nil, err
	}
	cert, err := certreload.Load(certreload.NodeTLS, c.TLSCert, c.TLSKey, nil)
	if err != nil {
		return nil, fmt.Errorf("node TLS certificate: %w", err)
	}
	pool, err := loadPool(c.RaftCA)
	if err != nil {
		return nil, err
	}
	return &credentials{genesis: g, node: cert, nodeCA: pool, adminCert: c.AdminCert, adminKey: c.AdminKey}, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("raft CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("raft CA %s: no PEM certificate", file)
	}
	return pool, nil
}

// listeners opens the TLS listener (whose address makes the default API
// URL) and the plain-HTTP one.
func (a *App) listeners() (tlsLn, plainLn net.Listener, err error) {
	tc := &tls.Config{GetCertificate: a.creds.node.GetCertificate, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	if tlsLn, err = tls.Listen("tcp", a.Config.HTTPSAddr, tc); err != nil {
		return nil, nil, fmt.Errorf("https listener: %w", err)
	}
	a.HTTPSURL = "https://" + tlsLn.Addr().String()
	a.APIURL = a.Config.APIAdvertise
	if a.APIURL == "" {
		a.APIURL = a.HTTPSURL
	}
	if a.Config.HTTPAddr == "" || a.Config.HTTPAddr == "off" {
		return tlsLn, nil, nil
	}
	if plainLn, err = net.Listen("tcp", a.Config.HTTPAddr); err != nil {
		tlsLn.Close()
		return nil, nil, fmt.Errorf("http listener: %w", err)
	}
	plainLn = ocsp.RepairListener(plainLn) // OCSP GET paths net/http cannot parse still get OCSP answers
	a.HTTPURL = "http://" + plainLn.Addr().String()
	return tlsLn, plainLn, nil
}

func (a *App) serve(ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelDebug)}
	a.servers = append(a.servers, s)
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("listener stopped", "addr", ln.Addr(), "err", err)
		}
	}()
}

// Close stops the listeners (letting requests in flight finish for a
// moment) and then the node.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range a.servers {
		_ = s.Shutdown(ctx)
	}
	if a.stop != nil {
		a.stop()
	}
	if a.acme != nil {
		a.acme.Close()
	}
	if a.Node == nil {
		return nil
	}
	return a.Node.Close()
}

// ocspURLs are the network's OCSP URLs as configured, else this node's.
func (a *App) ocspURLs() []string {
	if len(a.Config.OCSPURLs) > 0 {
		return a.Config.OCSPURLs
	}
	if a.HTTPURL != "" {
		return []string{a.HTTPURL + "/ocsp"}
	}
	return []string{a.APIURL + "/ocsp"}
}

// clientFile is where a development node tells the CLI how to reach it.
func clientFile(dataDir string) string { return filepath.Join(dataDir, "client.json") }
