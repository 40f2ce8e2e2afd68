package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/certchain/certchain/api"
	apiclient "github.com/certchain/certchain/api/client"
	"github.com/certchain/certchain/certchain"
)

// joinTimeout bounds how long a starting node keeps asking to join.
const joinTimeout = 2 * time.Minute

// join asks the cluster at Config.Join to add this node (as an admin: the
// ledger records membership changes from admins only), retrying while the
// cluster is electing or unreachable. Re-joining with the same addresses
// is recorded as unchanged, so a restarted node may always pass --join.
func (a *App) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	c, err := a.adminClient()
	if err != nil {
		return err
	}
	body, _ := json.Marshal(api.NodeJoin{ID: a.Config.NodeID, Raft: a.Node.RaftAddr(), API: a.APIURL, Replica: !a.Config.Voter})
	tx := certchain.Tx{Type: certchain.TxNodeAdd, Node: a.Config.NodeID, Address: a.Node.RaftAddr(), API: a.APIURL, Replica: !a.Config.Voter}
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		var out map[string]any
		err := a.signAdmin(ctx, c, &tx)
		if err == nil {
			err = c.DoSigned(ctx, http.MethodPost, "/v1/cluster/nodes", "application/json", body, tx, &out)
		}
		if err == nil {
			a.Logger.Info("joined the cluster", "via", a.Config.Join, "voter", a.Config.Voter)
			return nil
		}
		if pe, ok := err.(*apiclient.Error); ok && !pe.Temporary() {
			return fmt.Errorf("join %s refused: %w", a.Config.Join, err) // e.g. not an admin
		}
		a.Logger.Warn("join: retrying", "via", a.Config.Join, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("join %s: %w (last error: %v)", a.Config.Join, ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}

// adminClient is an HTTPS client with the admin credentials that trusts
// the node CA (the cluster's API certificates are node certificates).
// signAdmin makes c sign as the admin (the join's node-add is a signed
// transaction where the network requires signatures) and sets tx.Seen.
func (a *App) signAdmin(ctx context.Context, c *client, tx *certchain.Tx) error {
	if c.Signer == nil {
		key, err := loadSignerKey(a.creds.adminKey)
		if err != nil {
			return fmt.Errorf("join: admin key: %w", err)
		}
		if key == nil {
			return nil // no key: an unsigned join, for networks that allow it
		}
		if c.Signer, err = c.NewTxSigner(ctx, key); err != nil {
			return err
		}
	}
	var err error
	tx.Seen, err = seenOf(ctx, c, *tx)
	return err
}

func (a *App) adminClient() (*client, error) {
	kp, err := tls.LoadX509KeyPair(a.creds.adminCert, a.creds.adminKey)
	if err != nil {
		return nil, fmt.Errorf("join: admin credentials: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: a.creds.nodeCA, MinVersion: tls.VersionTLS12}
	return apiclient.New(a.Config.Join, tc), nil
}
