// Command certchain is the certchain validator node and the tool people and
// factory lines use to talk to it. Run `certchain help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	cflog "github.com/cloudflare/cfssl/log"
)

// env carries what a command reads from its surroundings, so tests can run
// commands in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name, usage string
	run         func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"node", "run a validator node (no flags: a development ledger in ./data)", runNode},
		{"init", "init --dir DIR: create a network (genesis, CAs, node, OCSP and member credentials, ACME CA)", runInit},
		{"device", "device new --count N --out DIR: make device keys and self-signed certificates", runDevice},
		{"publish", "publish FILE|DIR...: publish certificates in batches (safe to re-run)", runPublish},
		{"status", "status ID|FILE...: print the ledger status (exit 0 good, 2 not good)", runStatus},
		{"revoke", "revoke ID|FILE [--reason R]: revoke for good", statusCommand("revoke")},
		{"suspend", "suspend ID|FILE: put on hold (OCSP: certificateHold)", statusCommand("suspend")},
		{"resume", "resume ID|FILE: take off hold", statusCommand("resume")},
		{"renew", "renew OLD NEW: publish NEW as the successor of OLD", runRenew},
		{"revoke-key", "revoke-key KEYHASH|FILE [--reason R]: revoke every certificate with a key and block the key", runRevokeKey},
		{"ledger", "ledger audit [--data DIR | --url URL] | head | compare URL...: check the chain, compare nodes", runLedger},
		{"member", "member list | add NAME --role R --identity FILE [namespace flags] | remove NAME: the members (admin)", runMember},
		{"cluster", "cluster status | add ID RAFT API [--replica] | remove ID: the validator set (admin)", runCluster},
		{"ocsp", "ocsp delegate --ca-cert FILE --ca-key FILE [--validity D] [--node URL]... | signers: delegated OCSP signing (ca)", runOCSP},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cflog.Level = cflog.LevelWarning // cfssl logs every key and signature at info
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// exitCoder lets a command choose its exit status (status: 2 = not good).
type exitCoder interface{ ExitCode() int }

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ec exitCoder
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ec):
			return ec.ExitCode()
		}
		fmt.Fprintf(e.stderr, "certchain %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(e.stderr, "certchain: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: certchain COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun `certchain COMMAND -h` for a command's flags.")
}
