package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

func runNode(ctx context.Context, e *env, args []string) error {
	if err := checkNodeArgs(e, args); err != nil {
		return err
	}
	cfg, err := loadConfig(args, e.getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	tuneGC(e.getenv)
	hup := make(chan os.Signal, 1) // SIGHUP: reload certificates (reload.go)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	app := &App{Config: cfg, Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})), Hangup: hup}
	if err := app.Start(ctx); err != nil {
		_ = app.Close()
		return err
	}
	defer app.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := app.Node.WaitLeader(waitCtx); err != nil {
		app.Logger.Warn("no Raft leader yet; writes answer 503 until there is one", "err", err)
	}
	cancel()
	printBanner(e, app)
	<-ctx.Done()
	app.Logger.Info("shutting down")
	return nil
}

// Garbage collector settings of a node, unless GOGC or GOMEMLIMIT say
// otherwise. A bulk publish allocates a lot of short-lived memory per
// certificate (Badger, x509, JSON); collecting at twice the live heap
// instead of once costs far less CPU, and the soft limit makes the
// collector work harder as the heap nears it, so a node stays within its
// 1.5 GiB budget (see BENCHMARKS.md for its peak RSS).
const (
	nodeGCPercent   = 200
	nodeMemoryLimit = 1 << 30
)

func tuneGC(env func(string) string) {
	if env("GOGC") == "" {
		debug.SetGCPercent(nodeGCPercent)
	}
	if env("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(nodeMemoryLimit)
	}
}

// checkNodeArgs parses the node's flags as every command does (-h, a bad
// flag or an argument answered with the synopsis); loadConfig then layers
// them over the file and the environment.
func checkNodeArgs(e *env, args []string) error {
	fs := newFlags(e, "node")
	fs.String("config", "", "JSON configuration file (default: CERTCHAIN_CONFIG)")
	bindFlags(fs, ptr(DefaultConfig()))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("node", "unexpected arguments %q", fs.Args())
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// writeClientProfile tells the CLI where this development node listens and
// where the member credentials are. App.Start writes it before the
// listeners answer (a script that waits for /healthz finds it), in one
// rename, so a reader never sees half a file.
func writeClientProfile(a *App) error {
	nw := a.Network
	base, err := filepath.Abs(a.Config.DataDir)
	if err != nil {
		return err
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(base, p); err == nil {
			return r
		}
		return p
	}
	p := clientProfile{URL: a.HTTPSURL, ReadURL: a.HTTPURL, CA: rel(nw.CAFile), Member: "vendor", Members: map[string]memberCreds{}}
	for _, name := range nw.MemberNames() {
		cert, key := nw.MemberCert(name)
		p.Members[name] = memberCreds{Cert: rel(cert), Key: rel(key)}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(clientFile(a.Config.DataDir), append(b, '\n'), 0o600)
}

// writeAtomic replaces path with data durably: a temporary file beside
// it, synced, renamed over it, and the directory synced, so a crash leaves
// the old file or the new one, never a part.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(perm), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries (a rename, a new file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func printBanner(e *env, a *App) {
	w := e.stdout
	head := a.Node.State().Head()
	g := a.Node.State().Genesis()
	fmt.Fprintf(w, "certchain node %q of network %q (genesis %s)\n", a.Config.NodeID, g.NetworkID, g.Hash())
	fmt.Fprintf(w, "  ledger:        %s (height %d)\n", a.Config.DataDir, head.Height)
	fmt.Fprintf(w, "  https (mTLS):  %s   writes need a member client certificate\n", a.HTTPSURL)
	if a.HTTPURL != "" {
		fmt.Fprintf(w, "  http (reads):  %s   status, records, blocks, /metrics\n", a.HTTPURL)
	}
	fmt.Fprintf(w, "  ocsp:          %s   responder certificate: /v1/ocsp/responder.pem\n", strings.Join(a.ocspURLs(), " "))
	fmt.Fprintf(w, "  raft:          %s\n", a.Node.RaftAddr())
	if nw := a.Network; nw != nil {
		fmt.Fprintf(w, "  credentials:   %s (network CA ca.pem, members/*.pem, ocsp.pem)\n", nw.Dir)
		fmt.Fprintf(w, "  CLI profile:   %s (the certchain CLI run from here uses it)\n", clientFile(a.Config.DataDir))
	}
	fmt.Fprintln(w, "Ctrl-C stops the node.")
}
