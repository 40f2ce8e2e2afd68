package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/certchain/certchain/acme"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
	"github.com/certchain/certchain/validator"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/prometheus/client_golang/prometheus"
)

// Development defaults of the ACME identifier policy: names and addresses
// that can only be local.
var (
	devACMEDomains = []string{"localhost", "test", "internal"}
	devACMEIPs     = []string{"127.0.0.0/8", "::1/128"}
)

// startACME builds the node's ACME server when an issuing CA is
// configured (always in development mode: the "ca" member's CA). It
// returns nil when ACME is off.
func (a *App) startACME(reg prometheus.Registerer) (*acme.Server, error) {
	c := a.Config
	certFile, keyFile, member := c.ACMECACert, c.ACMECAKey, c.ACMEMember
	domains, ips := c.ACMEDomains, c.ACMEIPs
	if a.Network != nil && certFile == "" {
		certFile, keyFile = a.Network.MemberCAFile, a.Network.MemberCAKeyFile
		if member == "" {
			member = "ca"
		}
		if len(domains) == 0 && len(ips) == 0 {
			domains, ips = devACMEDomains, devACMEIPs
		}
	}
	if certFile == "" || c.ACMEOff {
		return nil, nil
	}
	if m, ok := a.creds.genesis.Member(member); !ok || m.Role != certchain.RoleCA {
		return nil, fmt.Errorf("acme: member %q is not a CA member of the network", member)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("acme: issuing CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("acme: issuing CA key: %w", err)
	}
	var chainPEM []byte
	if c.ACMEChain != "" {
		if chainPEM, err = os.ReadFile(c.ACMEChain); err != nil {
			return nil, fmt.Errorf("acme: chain: %w", err)
		}
	}
	base := c.ACMEURL
	if base == "" {
		base = a.APIURL
	}
	// Relying parties fetch the AIA's CA certificate without TLS, like OCSP.
	issuerURL := a.HTTPURL
	if issuerURL == "" {
		issuerURL = base
	}
	issuerCfg := acme.IssuerConfig{CertPEM: certPEM, KeyPEM: keyPEM, ChainPEM: chainPEM,
		OCSPURL: a.ocspURLs()[0], IssuerURL: strings.TrimRight(issuerURL, "/") + "/acme/issuer",
		MaxValidity: a.creds.genesis.Policy.MaxValidity.D()}
	if c.ACMEProfiles != "" {
		b, err := os.ReadFile(c.ACMEProfiles)
		if err != nil {
			return nil, fmt.Errorf("acme: profiles: %w", err)
		}
		if issuerCfg.Profiles, issuerCfg.DefaultProfile, err = acme.LoadProfiles(b); err != nil {
			return nil, fmt.Errorf("acme: profiles %s: %w", c.ACMEProfiles, err)
		}
	}
	issuer, err := acme.NewIssuer(issuerCfg)
	if err != nil {
		return nil, err
	}
	v, err := acme.NewValidator(acme.ValidatorConfig{HTTPPort: c.ACMEHTTPPort, TLSPort: c.ACMETLSPort, Resolver: c.ACMEResolver})
	if err != nil {
		return nil, err
	}
	policy, err := identifierPolicy(domains, ips)
	if err != nil {
		return nil, err
	}
	eab, err := loadEABKeys(c.ACMEEABKeys)
	if err != nil {
		return nil, err
	}
	memberKeyFile := c.ACMEMemberKey
	if memberKeyFile == "" && a.Network != nil {
		_, memberKeyFile = a.Network.MemberCert(member)
	}
	memberKey, err := loadSignerKey(memberKeyFile)
	if err != nil {
		return nil, fmt.Errorf("acme: the CA member's identity key: %w", err)
	}
	ledgerPolicy := a.creds.genesis.Policy
	return acme.NewServer(acme.Config{
		BaseURL: base, Node: c.NodeID, Issuer: issuer, Validator: v, Policy: policy,
		Store:  acmeStore{a.Node},
		Ledger: &acmeLedger{node: a.Node, member: member, network: a.creds.genesis.NetworkID, key: memberKey},
		KeyPolicy: func(pub crypto.PublicKey) error {
			if err := validator.CheckPublicKey(pub, ledgerPolicy); err != nil {
				return err
			}
			return a.keyNotBlocked(pub)
		},
		EABRequired: c.ACMEEABRequired, EABKeys: eab,
		Peers: a.acmePeers, PeerClient: a.nodeClient(),
		Registerer: reg, Logger: a.Logger.With("component", "acme"), Now: a.acmeClock, Leader: a.Node.IsLeader,
	})
}

// keyNotBlocked refuses a public key that was revoked on the ledger
// (certchain revoke-key), as publish and renew do.
func (a *App) keyNotBlocked(pub crypto.PublicKey) error {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	k, err := a.Node.State().BlockedKey(certchain.Sum(spki))
	switch {
	case errors.Is(err, certchain.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("the key was revoked by %q at block %d (%s)", k.By, k.Height, k.Reason)
}

// acmePeers are the nodes of the Raft configuration (the founder
// included, which the ledger's validator set does not record) with the
// API URLs they advertise.
func (a *App) acmePeers() []acme.Peer {
	servers, err := a.Node.Servers()
	if err != nil {
		a.Logger.Warn("acme: reading the cluster configuration", "err", err)
		return nil
	}
	peers := make([]acme.Peer, 0, len(servers))
	for _, s := range servers {
		if s.API != "" {
			peers = append(peers, acme.Peer{Node: s.ID, URL: s.API})
		}
	}
	return peers
}

// loadSignerKey reads a PEM private key; an empty file name means none.
func loadSignerKey(file string) (crypto.Signer, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return helpers.ParsePrivateKeyPEM(b)
}

func identifierPolicy(domains, ips []string) (acme.IdentifierPolicy, error) {
	p := acme.IdentifierPolicy{Domains: domains}
	for _, s := range ips {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("acme: allowed IP range %q: %w", s, err)
		}
		p.IPs = append(p.IPs, pfx.Masked())
	}
	return p, nil
}

// loadEABKeys reads external account keys: a JSON object of key ID to
// base64url HMAC key.
func loadEABKeys(file string) (map[string][]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("acme: EAB keys: %w", err)
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("acme: EAB keys %s: %w", file, err)
	}
	keys := make(map[string][]byte, len(raw))
	for kid, k := range raw {
		if keys[kid], err = base64.RawURLEncoding.DecodeString(k); err != nil || len(keys[kid]) < 32 {
			return nil, fmt.Errorf("acme: EAB key %q: want at least 32 bytes, base64url", kid)
		}
	}
	return keys, nil
}

// acmeStore keeps the ACME server's objects in the node's replicated
// objects (raftstore), so every node sees them and they outlive any one
// node.
type acmeStore struct{ node *raftstore.Node }

// Get implements acme.Store.
func (s acmeStore) Get(_ context.Context, key string) ([]byte, uint64, error) {
	v, ver, err := s.node.State().Object(key)
	if errors.Is(err, certchain.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", acme.ErrNoObject, key)
	}
	return v, ver, err
}

// Put implements acme.Store: versioned writes through Raft.
func (s acmeStore) Put(ctx context.Context, writes []acme.Write) error {
	ws := make([]raftstore.ObjectWrite, len(writes))
	for i, w := range writes {
		ws[i] = raftstore.ObjectWrite{Key: w.Key, Value: w.Value, Version: w.Version}
	}
	_, err := s.node.WriteObjects(ctx, ws)
	if errors.Is(err, certchain.ErrConflict) {
		return fmt.Errorf("%w: %v", acme.ErrVersionConflict, err)
	}
	return err
}

// List implements acme.Store.
func (s acmeStore) List(_ context.Context, prefix string, limit int) ([]string, error) {
	var keys []string
	err := s.node.State().Objects(prefix, func(k string, _ []byte, _ uint64) bool {
		keys = append(keys, k)
		return len(keys) < limit
	})
	return keys, err
}

// acmeLedger publishes and revokes what the ACME CA issued as the CA
// member, through the same path (and the same checks on every node) as
// any member's writes.
type acmeLedger struct {
	node    *raftstore.Node
	member  string
	network string
	key     crypto.Signer // the member's identity key, which signs its transactions; nil: unsigned
}

// Publish implements acme.Ledger.
func (l *acmeLedger) Publish(ctx context.Context, der []byte, chain [][]byte) error {
	_, err := l.submit(ctx, certchain.Tx{Type: certchain.TxPublish, Submitter: l.member, Cert: der, Chain: chain})
	return err
}

// Revoke implements acme.Ledger; Seen is the record's status height.
func (l *acmeLedger) Revoke(ctx context.Context, der []byte, reason int) error {
	id := certchain.Sum(der)
	rec, err := l.node.State().Record(id)
	if errors.Is(err, certchain.ErrNotFound) {
		return acme.ErrMalformed.Errorf("the certificate is not on the ledger")
	} else if err != nil {
		return err
	}
	if rec.Status == certchain.StatusRevoked {
		return acme.ErrAlreadyRevoked.Errorf("the certificate is already revoked")
	}
	v, err := l.submit(ctx, certchain.Tx{Type: certchain.TxRevoke, Submitter: l.member, Target: id, Reason: certchain.Reason(reason), Seen: rec.StatusHeight})
	if err == nil && v.Code == certchain.Unchanged {
		return acme.ErrAlreadyRevoked.Errorf("the certificate is already revoked")
	}
	return err
}

// Revoked implements acme.Ledger.
func (l *acmeLedger) Revoked(_ context.Context, der []byte) (bool, error) {
	rec, err := l.node.State().Record(certchain.Sum(der))
	if err != nil {
		return false, err
	}
	return rec.Status == certchain.StatusRevoked || rec.Status == certchain.StatusSuperseded, nil
}

// submit writes one transaction and turns anything but acceptance (or
// "already in effect") into an error.
func (l *acmeLedger) submit(ctx context.Context, tx certchain.Tx) (certchain.Verdict, error) {
	if l.key != nil {
		if err := validator.SignTx(&tx, l.network, l.key); err != nil {
			return certchain.Verdict{}, err
		}
	}
	res, err := l.node.Submit(ctx, []certchain.Tx{tx})
	if err != nil {
		return certchain.Verdict{}, err
	}
	if res[0].Err != nil {
		return certchain.Verdict{}, res[0].Err
	}
	if v := res[0].Verdict; v.Code == certchain.Rejected {
		return v, fmt.Errorf("%w: the ledger refused the %s: %s", certchain.ErrInvalid, tx.Type, v.Reason)
	}
	return res[0].Verdict, nil
}
