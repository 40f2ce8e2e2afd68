package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/raftstore"
)

func runLedger(ctx context.Context, e *env, args []string) error {
	switch first(args) {
	case "audit":
		return runAudit(ctx, e, args[1:])
	case "head":
		return runHead(ctx, e, args[1:])
	case "compare":
		return runCompare(ctx, e, args[1:])
	}
	return usagef("ledger", "unknown ledger command %q", first(args))
}

// runAudit recomputes the hash chain, offline from a stopped node's data
// directory, or over the API from the canonical block encodings (trusting
// nothing the node computed).
func runAudit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ledger audit")
	var co clientOptions
	co.bind(fs, e.getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("ledger audit", "unexpected arguments %q", fs.Args())
	}
	overAPI := false
	fs.Visit(func(f *flag.Flag) { overAPI = overAPI || f.Name == "url" })
	if overAPI {
		return auditAPI(ctx, e, &co)
	}
	return auditDir(e, co.data)
}

func auditDir(e *env, dir string) error {
	db, err := raftstore.OpenBadgerReadOnly(filepath.Join(dir, "ledger"))
	if err != nil {
		return fmt.Errorf("open %s (a running node holds it; stop it or use --url): %w", dir, err)
	}
	defer db.Close()
	rep, err := raftstore.Audit(db)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "genesis %s\nhead    %d %s\n", rep.GenesisHash, rep.Head, rep.HeadHash)
	return auditVerdict(e, rep.Blocks, rep.Problem)
}

func auditVerdict(e *env, blocks uint64, problem *certchain.ChainProblem) error {
	if problem != nil {
		fmt.Fprintf(e.stdout, "FAIL: first bad block is %d: %v\n", problem.Height, problem.Err)
		return exitStatus(2)
	}
	fmt.Fprintf(e.stdout, "OK: %d blocks verified (hash chain, Merkle roots, head)\n", blocks)
	return nil
}

// fetchHead connects to the node and reads its head block.
func fetchHead(ctx context.Context, co *clientOptions) (*client, *api.BlockView, error) {
	c, err := co.client()
	if err != nil {
		return nil, nil, err
	}
	var head api.BlockView
	if err := c.Do(ctx, "GET", "/v1/blocks/head", "", nil, &head); err != nil {
		return nil, nil, explain(err)
	}
	return c, &head, nil
}

func auditAPI(ctx context.Context, e *env, co *clientOptions) error {
	c, head, err := fetchHead(ctx, co)
	if err != nil {
		return err
	}
	headBlk, err := fetchRaw(ctx, c, head.Height)
	if err != nil {
		return err
	}
	blocks, err := certchain.VerifyChain(func(h uint64) (*certchain.Block, error) { return fetchRaw(ctx, c, h) }, &headBlk.Header)
	var problem *certchain.ChainProblem
	if errors.As(err, &problem) {
		err = nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "head    %d %s\n", head.Height, headBlk.Header.Hash())
	return auditVerdict(e, blocks, problem)
}

func fetchRaw(ctx context.Context, c *client, h uint64) (*certchain.Block, error) {
	var raw []byte
	if err := c.Do(ctx, "GET", "/v1/blocks/"+strconv.FormatUint(h, 10)+"/raw", "", nil, &raw); err != nil {
		return nil, err
	}
	blk, err := certchain.DecodeBlock(raw)
	return &blk, err
}

func runHead(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ledger head")
	var co clientOptions
	co.bind(fs, e.getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("ledger head", "unexpected arguments %q", fs.Args())
	}
	_, head, err := fetchHead(ctx, &co)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d %s %s\n", head.Height, head.Hash, head.Time.Format("2006-01-02T15:04:05.000Z"))
	return nil
}
