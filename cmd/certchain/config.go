package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is the configuration of `certchain node`: defaults, then a JSON
// file (--config or CERTCHAIN_CONFIG), then environment variables
// (CERTCHAIN_<FIELD>), then flags.
type Config struct {
	// DataDir holds the ledger, the Raft log and snapshots, and in
	// development mode the generated network under network/.
	DataDir string `json:"data_dir"`
	// NodeID names this validator (Raft server ID, block proposer).
	NodeID string `json:"node_id"`
	// HTTPAddr serves reads (status, records, blocks, metrics) over plain
	// HTTP for relying parties without TLS trust. "off" disables it.
	HTTPAddr string `json:"http_addr"`
	// HTTPSAddr serves everything over TLS; writes need a member's client
	// certificate.
	HTTPSAddr string `json:"https_addr"`
	// RaftAddr is where Raft listens for other validators.
	RaftAddr string `json:"raft_addr"`
	// Genesis is the path of the network's genesis.json. Empty: development
	// mode, a network generated on first start in DataDir/network.
	Genesis string `json:"genesis"`
	// TLSCert and TLSKey are the node's TLS certificate and key (PEM).
	// Empty in development mode: the generated network's node certificate.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// Bootstrap founds a single-voter cluster when the node has no Raft
	// state yet (always on in development mode).
	Bootstrap bool `json:"bootstrap"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
}

// DefaultConfig is the single-node development ledger `make run` starts.
func DefaultConfig() Config {
	return Config{
		DataDir: "data", NodeID: "node1",
		HTTPAddr: "127.0.0.1:8080", HTTPSAddr: "127.0.0.1:8443", RaftAddr: "127.0.0.1:8300",
		LogLevel: "info",
	}
}

// Dev reports whether the node runs a generated development network.
func (c *Config) Dev() bool { return c.Genesis == "" }

// NetworkDir is where the development network lives.
func (c *Config) NetworkDir() string { return filepath.Join(c.DataDir, "network") }

// Validate checks the configuration for consistency.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "" || c.NodeID == "":
		return fmt.Errorf("config: data_dir and node_id must be set")
	case c.HTTPSAddr == "" || c.RaftAddr == "":
		return fmt.Errorf("config: https_addr and raft_addr must be set")
	case !c.Dev() && (c.TLSCert == "" || c.TLSKey == ""):
		return fmt.Errorf("config: with a genesis file, tls_cert and tls_key must be set")
	}
	return nil
}

// loadConfig fills a Config from defaults, file, environment and flags.
func loadConfig(args []string, env func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	path := fs.String("config", env("CERTCHAIN_CONFIG"), "JSON configuration file")
	bindFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	// Parse once to learn --config, then layer: defaults < file < env < flags.
	layered := DefaultConfig()
	if *path != "" {
		if err := readConfigFile(*path, &layered); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&layered, env); err != nil {
		return cfg, err
	}
	fs2 := flag.NewFlagSet("node", flag.ContinueOnError)
	fs2.String("config", "", "")
	bindFlags(fs2, &layered)
	if err := fs2.Parse(args); err != nil {
		return cfg, err
	}
	return layered, layered.Validate()
}

func bindFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory")
	fs.StringVar(&c.NodeID, "id", c.NodeID, "node ID")
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "plain-HTTP read listener (\"off\" to disable)")
	fs.StringVar(&c.HTTPSAddr, "https", c.HTTPSAddr, "TLS listener (writes need a member client certificate)")
	fs.StringVar(&c.RaftAddr, "raft", c.RaftAddr, "Raft listener")
	fs.StringVar(&c.Genesis, "genesis", c.Genesis, "genesis.json of the network (empty: development network)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "node TLS certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "node TLS key (PEM)")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "found a new cluster if this node has no Raft state")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
}

func readConfigFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// applyEnv sets each field from CERTCHAIN_<JSON NAME IN UPPER CASE>.
func applyEnv(c *Config, env func(string) string) error {
	strs := map[string]*string{
		"data_dir": &c.DataDir, "node_id": &c.NodeID, "http_addr": &c.HTTPAddr, "https_addr": &c.HTTPSAddr,
		"raft_addr": &c.RaftAddr, "genesis": &c.Genesis, "tls_cert": &c.TLSCert, "tls_key": &c.TLSKey,
		"log_level": &c.LogLevel,
	}
	for name, p := range strs {
		if v := env("CERTCHAIN_" + strings.ToUpper(name)); v != "" {
			*p = v
		}
	}
	if v := env("CERTCHAIN_BOOTSTRAP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: CERTCHAIN_BOOTSTRAP: %w", err)
		}
		c.Bootstrap = b
	}
	return nil
}
