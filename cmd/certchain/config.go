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

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
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
	// RaftAdvertise is the Raft address other validators dial. Empty: the
	// address Raft listens on.
	RaftAdvertise string `json:"raft_advertise"`
	// APIAdvertise is the https URL other validators use for this node's
	// API (forwarded writes). Empty: https:// + the TLS listener address.
	APIAdvertise string `json:"api_advertise"`
	// RaftCA is the CA certificate (PEM) that signs node certificates:
	// Raft peers and forwarding followers must present one. Empty in
	// development mode: the generated network's CA.
	RaftCA string `json:"raft_ca"`
	// RaftPlain runs Raft over plain TCP: explicit development mode only.
	RaftPlain bool `json:"raft_plain"`
	// RaftHeartbeat, RaftElection, RaftLease and RaftCommit are Raft's
	// timeouts (raftstore.RaftTimeouts). Zero: the LAN defaults, 500ms,
	// 500ms, 500ms and 50ms; docs/operator.md "Running a node" says when to raise
	// them.
	RaftHeartbeat certchain.Duration `json:"raft_heartbeat"`
	RaftElection  certchain.Duration `json:"raft_election"`
	RaftLease     certchain.Duration `json:"raft_lease"`
	RaftCommit    certchain.Duration `json:"raft_commit"`
	// Join is the https URL of any running node of the cluster to join.
	Join string `json:"join"`
	// Voter joins as a voter (true) or a non-voting read replica.
	Voter bool `json:"voter"`
	// AdminCert and AdminKey are an admin member's client certificate,
	// which authenticates the join. Empty in development mode: the
	// generated admin.
	AdminCert string `json:"admin_cert"`
	AdminKey  string `json:"admin_key"`
	// Network is the directory of a development network to use instead of
	// DataDir/network (several local nodes sharing one network).
	Network string `json:"network"`
	// OCSPCert and OCSPKey are the ledger's OCSP responder certificate and
	// key (PEM). Empty in development mode: the generated ocsp.pem.
	OCSPCert string `json:"ocsp_cert"`
	OCSPKey  string `json:"ocsp_key"`
	// OCSPURLs are the network's OCSP URLs, which GET /v1/network tells
	// factory lines to put in the AIA of certificates. Empty: this node's
	// plain-HTTP listener + /ocsp.
	OCSPURLs []string `json:"ocsp_urls"`
	// OCSPDelegates are delegated OCSP signers of CA members whose keys
	// the operator hands this node: each certificate must be registered in
	// that member's ocsp_signers in the genesis. (CA members usually
	// register per-node delegates on the ledger instead: certchain ocsp
	// delegate.)
	OCSPDelegates []OCSPDelegate `json:"ocsp_delegates"`
	// OCSPDelegateValidity is the lifetime of the delegated OCSP signers
	// the node issues itself with the CA keys it holds (the ACME CA); each
	// is renewed at half its life. Zero: 4 days.
	OCSPDelegateValidity certchain.Duration `json:"ocsp_delegate_validity"`
	// OCSPValidity is nextUpdate - thisUpdate of OCSP responses. Zero: 1h.
	OCSPValidity certchain.Duration `json:"ocsp_validity"`
	// OCSPCache bounds the cached OCSP responses. Zero: 100,000.
	OCSPCache int `json:"ocsp_cache"`
	// OCSPNonceRate bounds freshly signed responses per second for
	// requests with a nonce. Zero: 1000; negative: never echo nonces.
	OCSPNonceRate float64 `json:"ocsp_nonce_rate"`
	// MaxPending bounds transactions waiting for a block on this node;
	// beyond it writes are answered 503 busy with Retry-After. Zero: 50,000.
	MaxPending int `json:"max_pending"`
	// MaxPublishes bounds publish requests and streams this node handles
	// at once; beyond it they are answered 429 with Retry-After. Zero: 16.
	MaxPublishes int `json:"max_publishes"`
	// MemberRate bounds each member's write requests per second on this
	// node (bursts of MemberBurst); beyond it 429 with Retry-After.
	// Zero: 50 and 100.
	MemberRate  float64 `json:"member_rate"`
	MemberBurst int     `json:"member_burst"`
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

	// ACMECACert and ACMECAKey are the issuing CA of the ACME server (PEM):
	// a CA certificate of member ACMEMember (one of its ca_certs, or an
	// intermediate below one, with ACMEChain holding the certificates
	// above it). Empty: no ACME server, except in development mode, where
	// the generated "ca" member's CA issues.
	ACMECACert string `json:"acme_ca_cert"`
	ACMECAKey  string `json:"acme_ca_key"`
	ACMEChain  string `json:"acme_chain"`
	ACMEMember string `json:"acme_member"`
	// ACMEMemberKey is the private key (PEM) of ACMEMember's identity
	// certificate: it signs the ACME server's ledger transactions
	// (networks that require member signatures). Development: the
	// generated member's key.
	ACMEMemberKey string `json:"acme_member_key"`
	// ACMEOff turns the ACME server off even when a CA is configured.
	ACMEOff bool `json:"acme_off"`
	// ACMEURL is the external base URL of the ACME server (a load
	// balancer's); the directory is ACMEURL/acme/directory. Empty: the
	// node's API URL.
	ACMEURL string `json:"acme_url"`
	// ACMEDomains and ACMEIPs are the identifiers the ACME CA issues for:
	// DNS names with their subdomains, and IP ranges (CIDR). Development
	// default: localhost, test, internal and loopback addresses.
	ACMEDomains []string `json:"acme_domains"`
	ACMEIPs     []string `json:"acme_ips"`
	// ACMEHTTPPort and ACMETLSPort are the ports http-01 and tls-alpn-01
	// validations connect to (zero: 80 and 443); ACMEResolver the DNS
	// server for validations (empty: the system's).
	ACMEHTTPPort int    `json:"acme_http_port"`
	ACMETLSPort  int    `json:"acme_tls_port"`
	ACMEResolver string `json:"acme_resolver"`
	// ACMEEABKeys is a JSON file of external account binding keys (key ID
	// to base64url HMAC key); ACMEEABRequired refuses accounts without one.
	ACMEEABKeys     string `json:"acme_eab_keys"`
	ACMEEABRequired bool   `json:"acme_eab_required"`
	// ACMEProfiles is a JSON file of issuance profiles (acme.LoadProfiles);
	// empty: the built-in tlsserver, shortlived and tlsclient.
	ACMEProfiles string `json:"acme_profiles"`
}

// OCSPDelegate is a delegated OCSP signer: the CA member it signs for, and
// its certificate and key files (PEM).
type OCSPDelegate struct {
	Member string `json:"member"`
	Cert   string `json:"cert"`
	Key    string `json:"key"`
}

// DefaultConfig is the single-node development ledger `make run` starts.
func DefaultConfig() Config {
	return Config{
		DataDir: "data", NodeID: "node1",
		HTTPAddr: "127.0.0.1:8080", HTTPSAddr: "127.0.0.1:8443", RaftAddr: "127.0.0.1:8300",
		Voter: true, LogLevel: "info",
	}
}

// Dev reports whether the node runs a generated development network.
func (c *Config) Dev() bool { return c.Genesis == "" }

// NetworkDir is where the development network lives.
func (c *Config) NetworkDir() string {
	if c.Network != "" {
		return c.Network
	}
	return filepath.Join(c.DataDir, "network")
}

// Validate checks the configuration for consistency.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "" || c.NodeID == "":
		return fmt.Errorf("config: data_dir and node_id must be set")
	case c.HTTPSAddr == "" || c.RaftAddr == "":
		return fmt.Errorf("config: https_addr and raft_addr must be set")
	case !c.Dev() && (c.TLSCert == "" || c.TLSKey == ""):
		return fmt.Errorf("config: with a genesis file, tls_cert and tls_key must be set")
	case !c.Dev() && c.RaftCA == "":
		return fmt.Errorf("config: with a genesis file, raft_ca (the CA of node certificates) must be set")
	case !c.Dev() && c.Join != "" && (c.AdminCert == "" || c.AdminKey == ""):
		return fmt.Errorf("config: join needs admin_cert and admin_key")
	case !c.Dev() && (c.OCSPCert == "" || c.OCSPKey == ""):
		return fmt.Errorf("config: with a genesis file, ocsp_cert and ocsp_key must be set")
	case c.Join != "" && c.Bootstrap:
		return fmt.Errorf("config: a node either bootstraps a new cluster or joins one, not both")
	}
	if err := c.RaftTimeouts().Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// RaftTimeouts are the configured Raft timeouts (zero fields: defaults).
func (c *Config) RaftTimeouts() raftstore.RaftTimeouts {
	return raftstore.RaftTimeouts{Heartbeat: c.RaftHeartbeat.D(), Election: c.RaftElection.D(),
		LeaderLease: c.RaftLease.D(), Commit: c.RaftCommit.D()}
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
	fs.StringVar(&c.RaftAdvertise, "raft-advertise", c.RaftAdvertise, "Raft address other nodes dial (default: the Raft listener)")
	fs.StringVar(&c.APIAdvertise, "api-advertise", c.APIAdvertise, "https URL other nodes use for this node's API")
	fs.StringVar(&c.RaftCA, "raft-ca", c.RaftCA, "CA certificate of node certificates (Raft and forwarding mutual TLS)")
	fs.BoolVar(&c.RaftPlain, "raft-plain", c.RaftPlain, "Raft over plain TCP (development only)")
	fs.TextVar(&c.RaftHeartbeat, "raft-heartbeat", c.RaftHeartbeat, "Raft heartbeat timeout: leader silence before a follower starts an election (default 500ms)")
	fs.TextVar(&c.RaftElection, "raft-election", c.RaftElection, "Raft election timeout, at least the heartbeat timeout (default 500ms)")
	fs.TextVar(&c.RaftLease, "raft-lease", c.RaftLease, "Raft leader lease: a leader cut off from a majority this long steps down; at most the heartbeat timeout (default 500ms)")
	fs.TextVar(&c.RaftCommit, "raft-commit", c.RaftCommit, "Raft commit timeout: longest a follower waits to learn of a commit (default 50ms)")
	fs.StringVar(&c.Join, "join", c.Join, "https URL of a running node to join")
	fs.BoolVar(&c.Voter, "voter", c.Voter, "join as a voter (false: a non-voting read replica)")
	fs.StringVar(&c.AdminCert, "admin-cert", c.AdminCert, "admin member client certificate for --join")
	fs.StringVar(&c.AdminKey, "admin-key", c.AdminKey, "admin member client key for --join")
	fs.StringVar(&c.Network, "network", c.Network, "development network directory to share (default: DATA/network)")
	fs.StringVar(&c.OCSPCert, "ocsp-cert", c.OCSPCert, "OCSP responder certificate (PEM)")
	fs.StringVar(&c.OCSPKey, "ocsp-key", c.OCSPKey, "OCSP responder key (PEM)")
	fs.Var((*stringList)(&c.OCSPURLs), "ocsp-url", "the network's OCSP URL for certificates' AIA (repeatable)")
	fs.Var((*delegateList)(&c.OCSPDelegates), "ocsp-delegate", "delegated OCSP signer MEMBER=CERT,KEY (repeatable)")
	fs.TextVar(&c.OCSPValidity, "ocsp-validity", c.OCSPValidity, "OCSP response validity (default 1h)")
	fs.TextVar(&c.OCSPDelegateValidity, "ocsp-delegate-validity", c.OCSPDelegateValidity, "lifetime of the OCSP signers the node issues with the CA keys it holds (default 96h)")
	fs.IntVar(&c.OCSPCache, "ocsp-cache", c.OCSPCache, "cached OCSP responses (default 100000)")
	fs.Float64Var(&c.OCSPNonceRate, "ocsp-nonce-rate", c.OCSPNonceRate, "signatures/s for OCSP nonce requests (default 1000; negative: none)")
	fs.IntVar(&c.MaxPending, "max-pending", c.MaxPending, "transactions waiting for a block before writes get 503 (default 50000)")
	fs.IntVar(&c.MaxPublishes, "max-publishes", c.MaxPublishes, "publish requests handled at once before 429 (default 16)")
	fs.Float64Var(&c.MemberRate, "member-rate", c.MemberRate, "write requests per second per member before 429 (default 50)")
	fs.IntVar(&c.MemberBurst, "member-burst", c.MemberBurst, "burst of write requests per member (default 100)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.ACMECACert, "acme-ca-cert", c.ACMECACert, "ACME issuing CA certificate (PEM) of a CA member")
	fs.StringVar(&c.ACMECAKey, "acme-ca-key", c.ACMECAKey, "ACME issuing CA key (PEM)")
	fs.StringVar(&c.ACMEChain, "acme-chain", c.ACMEChain, "certificates above the ACME issuing CA (PEM)")
	fs.StringVar(&c.ACMEMember, "acme-member", c.ACMEMember, "CA member the ACME server publishes as (development: ca)")
	fs.StringVar(&c.ACMEMemberKey, "acme-member-key", c.ACMEMemberKey, "identity key (PEM) of the ACME CA member, which signs its transactions")
	fs.BoolVar(&c.ACMEOff, "acme-off", c.ACMEOff, "no ACME server")
	fs.StringVar(&c.ACMEURL, "acme-url", c.ACMEURL, "external base URL of the ACME server (default: the API URL)")
	fs.Var((*stringList)(&c.ACMEDomains), "acme-domain", "DNS name (with subdomains) the ACME CA issues for (repeatable)")
	fs.Var((*stringList)(&c.ACMEIPs), "acme-ip", "IP range (CIDR) the ACME CA issues for (repeatable)")
	fs.IntVar(&c.ACMEHTTPPort, "acme-http-port", c.ACMEHTTPPort, "port http-01 validation connects to (default 80)")
	fs.IntVar(&c.ACMETLSPort, "acme-tls-port", c.ACMETLSPort, "port tls-alpn-01 validation connects to (default 443)")
	fs.StringVar(&c.ACMEResolver, "acme-resolver", c.ACMEResolver, "DNS server host:port for ACME validation (default: the system's)")
	fs.StringVar(&c.ACMEEABKeys, "acme-eab-keys", c.ACMEEABKeys, "JSON file of external account binding keys")
	fs.BoolVar(&c.ACMEEABRequired, "acme-eab-required", c.ACMEEABRequired, "refuse ACME accounts without external account binding")
	fs.StringVar(&c.ACMEProfiles, "acme-profiles", c.ACMEProfiles, "JSON file of ACME issuance profiles")
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
		"log_level": &c.LogLevel, "raft_advertise": &c.RaftAdvertise, "api_advertise": &c.APIAdvertise,
		"raft_ca": &c.RaftCA, "join": &c.Join, "admin_cert": &c.AdminCert, "admin_key": &c.AdminKey,
		"network": &c.Network, "ocsp_cert": &c.OCSPCert, "ocsp_key": &c.OCSPKey,
		"acme_ca_cert": &c.ACMECACert, "acme_ca_key": &c.ACMECAKey, "acme_chain": &c.ACMEChain,
		"acme_member": &c.ACMEMember, "acme_member_key": &c.ACMEMemberKey, "acme_url": &c.ACMEURL, "acme_resolver": &c.ACMEResolver,
		"acme_eab_keys": &c.ACMEEABKeys, "acme_profiles": &c.ACMEProfiles,
	}
	for name, p := range strs {
		if v := env("CERTCHAIN_" + strings.ToUpper(name)); v != "" {
			*p = v
		}
	}
	bools := map[string]*bool{"bootstrap": &c.Bootstrap, "raft_plain": &c.RaftPlain, "voter": &c.Voter,
		"acme_off": &c.ACMEOff, "acme_eab_required": &c.ACMEEABRequired}
	for name, p := range bools {
		key := "CERTCHAIN_" + strings.ToUpper(name)
		if v := env(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("config: %s: %w", key, err)
			}
			*p = b
		}
	}
	ints := map[string]*int{"max_pending": &c.MaxPending, "max_publishes": &c.MaxPublishes, "ocsp_cache": &c.OCSPCache,
		"acme_http_port": &c.ACMEHTTPPort, "acme_tls_port": &c.ACMETLSPort, "member_burst": &c.MemberBurst}
	for name, p := range ints {
		key := "CERTCHAIN_" + strings.ToUpper(name)
		if v := env(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("config: %s: %w", key, err)
			}
			*p = n
		}
	}
	durations := map[string]*certchain.Duration{"raft_heartbeat": &c.RaftHeartbeat, "raft_election": &c.RaftElection,
		"raft_lease": &c.RaftLease, "raft_commit": &c.RaftCommit}
	for name, p := range durations {
		key := "CERTCHAIN_" + strings.ToUpper(name)
		if v := env(key); v != "" {
			if err := p.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("config: %s: %w", key, err)
			}
		}
	}
	floats := map[string]*float64{"member_rate": &c.MemberRate, "ocsp_nonce_rate": &c.OCSPNonceRate}
	for name, p := range floats {
		key := "CERTCHAIN_" + strings.ToUpper(name)
		if v := env(key); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("config: %s: %w", key, err)
			}
			*p = f
		}
	}
	return nil
}

// delegateList is the repeatable --ocsp-delegate MEMBER=CERT,KEY flag.
type delegateList []OCSPDelegate

func (d *delegateList) String() string { return fmt.Sprint(*d) }

func (d *delegateList) Set(v string) error {
	member, files, ok := strings.Cut(v, "=")
	cert, key, ok2 := strings.Cut(files, ",")
	if !ok || !ok2 || member == "" || cert == "" || key == "" {
		return fmt.Errorf("want MEMBER=CERT,KEY, got %q", v)
	}
	*d = append(*d, OCSPDelegate{Member: member, Cert: cert, Key: key})
	return nil
}
