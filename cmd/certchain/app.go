package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/devnet"
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
	// HTTPURL and HTTPSURL are where the listeners ended up.
	HTTPURL, HTTPSURL string

	servers []*http.Server
	// small shrinks Badger's memory and raftTimeout speeds up elections
	// (tests run several nodes on loopback).
	small       bool
	raftTimeout time.Duration
}

// Start opens the node and its listeners.
func (a *App) Start() error {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	g, serverTLS, err := a.credentials()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Node, err = raftstore.Open(raftstore.Config{
		ID: a.Config.NodeID, Dir: a.Config.DataDir, RaftAddr: a.Config.RaftAddr, Genesis: g,
		Bootstrap: a.Config.Bootstrap || a.Config.Dev(), SmallMemory: a.small, RaftTimeout: a.raftTimeout, Logger: a.Logger, Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("open node: %w", err)
	}
	srv := api.New(a.Node, a.Node.State(), reg)
	srv.Logger = a.Logger
	srv.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return a.listen(srv.Handler(), serverTLS)
}

// credentials loads (or in development mode creates) the genesis and the
// node's TLS configuration.
func (a *App) credentials() (*certchain.Genesis, *tls.Config, error) {
	if !a.Config.Dev() {
		return loadCredentials(&a.Config)
	}
	nw, created, err := devnet.Ensure(a.Config.NetworkDir(), devnet.Options{Now: time.Now()})
	if err != nil {
		return nil, nil, fmt.Errorf("development network: %w", err)
	}
	if created {
		a.Logger.Info("created a development network", "dir", nw.Dir, "network_id", nw.Genesis.NetworkID)
	}
	a.Network = nw
	tc, err := nw.ServerTLS()
	return nw.Genesis, tc, err
}

func loadCredentials(c *Config) (*certchain.Genesis, *tls.Config, error) {
	b, err := os.ReadFile(c.Genesis)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: %w", err)
	}
	g, err := certchain.ParseGenesis(b)
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("node TLS certificate: %w", err)
	}
	return g, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}, nil
}

func (a *App) listen(h http.Handler, tc *tls.Config) error {
	ln, err := tls.Listen("tcp", a.Config.HTTPSAddr, tc)
	if err != nil {
		return fmt.Errorf("https listener: %w", err)
	}
	a.HTTPSURL = "https://" + ln.Addr().String()
	a.serve(ln, h)
	if a.Config.HTTPAddr == "" || a.Config.HTTPAddr == "off" {
		return nil
	}
	ln, err = net.Listen("tcp", a.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	a.HTTPURL = "http://" + ln.Addr().String()
	a.serve(ln, h)
	return nil
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
	if a.Node == nil {
		return nil
	}
	return a.Node.Close()
}

// clientFile is where a development node tells the CLI how to reach it.
func clientFile(dataDir string) string { return filepath.Join(dataDir, "client.json") }
