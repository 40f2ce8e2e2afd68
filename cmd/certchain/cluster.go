package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
)

func runCluster(ctx context.Context, e *env, args []string) error {
	usage := errors.New("usage: certchain cluster status | add ID RAFT-ADDR API-URL [--replica] | remove ID")
	if len(args) == 0 {
		return usage
	}
	fs := newFlags(e, "cluster "+args[0])
	var co clientOptions
	co.bind(fs, e.getenv)
	replica := fs.Bool("replica", false, "add as a non-voting read replica")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if args[0] == "status" && fs.NArg() == 0 {
		c, err := co.client()
		if err != nil {
			return err
		}
		return clusterStatus(ctx, e, c)
	}
	c, err := co.writer(ctx)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "add" && fs.NArg() == 3:
		body, _ := json.Marshal(api.NodeJoin{ID: fs.Arg(0), Raft: fs.Arg(1), API: fs.Arg(2), Replica: *replica})
		tx := certchain.Tx{Type: certchain.TxNodeAdd, Node: fs.Arg(0), Address: fs.Arg(1), API: fs.Arg(2), Replica: *replica}
		return clusterChange(ctx, e, c, "POST", "/v1/cluster/nodes", body, tx)
	case args[0] == "remove" && fs.NArg() == 1:
		tx := certchain.Tx{Type: certchain.TxNodeRemove, Node: fs.Arg(0)}
		return clusterChange(ctx, e, c, "DELETE", "/v1/cluster/nodes/"+url.PathEscape(fs.Arg(0)), nil, tx)
	}
	return usage
}

// seenOf is the Seen of a signed change: the height of the last change
// to the node or member tx acts on, as the node reports it.
func seenOf(ctx context.Context, c *client, tx certchain.Tx) (uint64, error) {
	switch tx.Type {
	case certchain.TxNodeAdd, certchain.TxNodeRemove:
		var v api.ClusterView
		if err := c.Do(ctx, "GET", "/v1/cluster", "", nil, &v); err != nil {
			return 0, err
		}
		for _, n := range v.Ledger {
			if n.ID == tx.Node {
				return n.Height, nil
			}
		}
	case certchain.TxMemberSet, certchain.TxMemberRemove:
		m, err := certchain.DecodeMember(tx.Member)
		if err != nil {
			return 0, err
		}
		var resp struct{ Members []certchain.MemberRecord }
		if err := c.Do(ctx, "GET", "/v1/members", "", nil, &resp); err != nil {
			return 0, err
		}
		for _, r := range resp.Members {
			if r.Name == m.Name {
				return r.Height, nil
			}
		}
	}
	return 0, nil
}

// clusterStatus prints the Raft configuration as the asked node sees it,
// with each server's reachability, last contact and applied height as the
// asked node's probe found them, and a summary line naming the
// unreachable ones; exit 2 when any is unreachable.
func clusterStatus(ctx context.Context, e *env, c *client) error {
	var v api.ClusterView
	if err := c.Do(ctx, "GET", "/v1/cluster", "", nil, &v); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "asked node %s at height %d\n", v.Node, v.Height)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tREACHABLE\tLAST-CONTACT\tHEIGHT\tRAFT\tAPI")
	var down []string
	for _, s := range v.Servers {
		role := map[bool]string{true: "voter", false: "replica"}[s.Voter]
		if s.Leader {
			role = "leader"
		}
		reach := "yes"
		if !s.Reachable {
			reach, down = "NO", append(down, fmt.Sprintf("%s (%s)", s.ID, s.Error))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, role, reach, lastContact(s, v), heightOf(s), s.Raft, s.API)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d of %d nodes reachable", len(v.Servers)-len(down), len(v.Servers))
	if len(down) > 0 {
		fmt.Fprintf(e.stdout, "; unreachable: %s\n", strings.Join(down, ", "))
		return exitStatus(2)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// lastContact says when s last answered the asked node: now, a while
// before the view was made, or never.
func lastContact(s api.ServerStatus, v api.ClusterView) string {
	switch {
	case s.ID == v.Node:
		return "self"
	case s.LastContact == nil:
		return "never"
	case s.Reachable:
		return "now"
	}
	return v.Time.Sub(*s.LastContact).Round(100*time.Millisecond).String() + " ago"
}

func heightOf(s api.ServerStatus) string {
	if s.LastContact == nil {
		return "-"
	}
	return fmt.Sprint(s.Height)
}

// clusterChange sends a validator or member change that makes tx, signed
// when the client signs, and prints the outcome.
func clusterChange(ctx context.Context, e *env, c *client, method, path string, body []byte, tx certchain.Tx) error {
	var out struct {
		Height  uint64 `json:"height"`
		Tx      string `json:"tx"`
		Verdict string `json:"verdict"`
		Detail  string `json:"detail"`
	}
	if c.Signer != nil {
		var err error
		if tx.Seen, err = seenOf(ctx, c, tx); err != nil {
			return err
		}
	}
	if err := c.DoSigned(ctx, method, path, "application/json", body, tx, &out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s at height %d (tx %s) %s\n", out.Verdict, out.Height, out.Tx, out.Detail)
	return nil
}

// runCompare prints the head of each node and whether they agree: heads at
// different heights are compared at the lowest common height.
func runCompare(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ledger compare")
	var co clientOptions
	co.bind(fs, e.getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: certchain ledger compare URL...")
	}
	return printCompare(ctx, e, &co, fetchHeads(ctx, &co, fs.Args()))
}

type nodeHead struct {
	url  string
	head *api.BlockView
	err  error
}

func fetchHeads(ctx context.Context, co *clientOptions, urls []string) []nodeHead {
	var out []nodeHead
	for _, u := range urls {
		o := *co
		o.url = u
		_, h, err := fetchHead(ctx, &o)
		out = append(out, nodeHead{url: u, head: h, err: err})
	}
	return out
}

func printCompare(ctx context.Context, e *env, co *clientOptions, heads []nodeHead) error {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHEIGHT\tHASH")
	low := ^uint64(0)
	for _, h := range heads {
		if h.err != nil {
			fmt.Fprintf(tw, "%s\t-\tunreachable: %v\n", h.url, h.err)
			continue
		}
		low = min(low, h.head.Height)
		fmt.Fprintf(tw, "%s\t%d\t%s\n", h.url, h.head.Height, h.head.Hash)
	}
	tw.Flush()
	hashes := map[string][]string{}
	for _, h := range heads {
		if h.err == nil {
			hash, err := blockHashAt(ctx, co, h.url, low)
			if err != nil {
				return err
			}
			hashes[hash] = append(hashes[hash], h.url)
		}
	}
	if len(hashes) > 1 {
		fmt.Fprintf(e.stdout, "DIVERGED at height %d: %v\n", low, hashes)
		return exitStatus(2)
	}
	fmt.Fprintf(e.stdout, "agree up to height %d\n", low)
	if reachable := len(heads) - countErr(heads); reachable < len(heads) {
		return exitStatus(2)
	}
	return nil
}

func countErr(heads []nodeHead) int {
	n := 0
	for _, h := range heads {
		if h.err != nil {
			n++
		}
	}
	return n
}

func blockHashAt(ctx context.Context, co *clientOptions, u string, h uint64) (string, error) {
	o := *co
	o.url = u
	c, err := o.client()
	if err != nil {
		return "", err
	}
	var b api.BlockView
	if err := c.Do(ctx, "GET", fmt.Sprintf("/v1/blocks/%d", h), "", nil, &b); err != nil {
		return "", fmt.Errorf("%s: %w", u, err)
	}
	return strings.ToLower(b.Hash), nil
}
