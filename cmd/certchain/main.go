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
	"strings"
	"syscall"

	cflog "github.com/cloudflare/cfssl/log"
)

// env carries what a command reads from its surroundings, so tests can run
// commands in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one command of the binary; a command with subcommands
// (device, ledger, member, cluster) has a form per subcommand.
type command struct {
	name  string
	forms []form
	run   func(ctx context.Context, e *env, args []string) error
}

// form is a synopsis (after "certchain ") and what it does: `certchain
// help` lists them all, and `certchain CMD [SUB] -h` prints its own.
type form struct{ syn, what string }

// path is the (sub)command a form is for: its leading lowercase words
// ("device new" of "device new --count N ...").
func (f form) path() string {
	var words []string
	for _, w := range strings.Fields(f.syn) {
		if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz-") != "" || strings.HasPrefix(w, "-") {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

func commands() []command {
	return []command{
		{"node", []form{{"node [flags]", "run a validator node (no flags: a development ledger in ./data)"}}, runNode},
		{"init", []form{{"init [--dir DIR] [flags]", "create a network: genesis, CAs, node, OCSP and member credentials, ACME CA"}}, runInit},
		{"device", []form{
			{"device new --count N [--out DIR] [--prefix P] [flags]", "make device keys and self-signed certificates"},
			{"device renew OLD.pem... [--out DIR] [flags]", "make a new key and certificate for the same device (successor for `certchain renew`)"},
		}, runDevice},
		{"publish", []form{{"publish FILE|DIR... [--report FILE] [flags]", "publish certificates in one stream (safe to re-run; exit 2: some rejected)"}}, runPublish},
		{"status", []form{{"status ID|FILE|DIR... [--json] [flags]", "print the ledger status of certificates (exit 0 all good, 2 any not good)"}}, runStatus},
		{"revoke", []form{{"revoke ID|FILE [--reason R] [flags]", "revoke for good"}}, statusCommand("revoke")},
		{"suspend", []form{{"suspend ID|FILE [flags]", "put on hold (OCSP: revoked, certificateHold)"}}, statusCommand("suspend")},
		{"resume", []form{{"resume ID|FILE [flags]", "take off hold"}}, statusCommand("resume")},
		{"renew", []form{{"renew OLD(ID|FILE) NEW(FILE) [--owner-key OLDKEY] [flags]", "publish NEW as the successor of OLD (OLD becomes superseded)"}}, runRenew},
		{"revoke-key", []form{{"revoke-key KEYHASH|FILE [--reason R] [flags]", "revoke every certificate with a key and block the key"}}, runRevokeKey},
		{"ledger", []form{
			{"ledger audit [--data DIR | --url URL] [flags]", "recompute the hash chain (offline, or over the API)"},
			{"ledger head [flags]", "print the node's head block"},
			{"ledger compare URL... [flags]", "compare the heads of nodes (exit 2: diverged or unreachable)"},
		}, runLedger},
		{"member", []form{
			{"member list [flags]", "list the members"},
			{"member add NAME --role R --identity FILE [--ca-cert FILE]... [--org O]... [--uri-prefix P]... [--dns-suffix D]... [flags]", "add or replace a member (admin)"},
			{"member remove NAME [flags]", "remove a member (admin)"},
		}, runMember},
		{"cluster", []form{
			{"cluster status [flags]", "show every node: role, reachable, last contact, height (exit 2: one is unreachable)"},
			{"cluster add ID RAFT-ADDR API-URL [--replica] [flags]", "add a validator (admin)"},
			{"cluster remove ID [flags]", "remove a validator (admin)"},
		}, runCluster},
		{"ocsp", []form{
			{"ocsp delegate --ca-cert FILE --ca-key FILE [--validity D] [--node URL]... [--wait D] [flags]", "issue and register delegated OCSP signers for every node (ca member)"},
			{"ocsp signers [--node URL]... [flags]", "list the OCSP signers each node uses"},
		}, runOCSP},
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
	if len(args) == 0 || isHelp(args[0]) || (len(args) == 1 && args[0] == "help") {
		usage(e.stdout)
		return 0
	}
	if args[0] == "help" { // help COMMAND [SUB] is COMMAND [SUB] -h
		args = append(args[1:], "-h")
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		switch {
		case len(c.forms) > 1 && len(args) == 1: // a command with subcommands
			fmt.Fprintf(e.stderr, "certchain %s: which one?\n", c.name)
			printForms(e.stderr, c.forms)
			return 1
		case len(c.forms) > 1 && isHelp(args[1]):
			printForms(e.stdout, c.forms)
			return 0
		}
		return exitCode(e, c.name, c.run(ctx, e, args[1:]))
	}
	fmt.Fprintf(e.stderr, "certchain: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 1
}

// exitCode prints err (if it needs printing) and returns the exit status.
func exitCode(e *env, name string, err error) int {
	var ec exitCoder
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	var ue *usageError
	if errors.As(err, &ue) {
		name = ue.name
	}
	fmt.Fprintf(e.stderr, "certchain %s: %v\n", name, explain(err))
	return 1
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "--help", "-help", "--h":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: certchain COMMAND [ARGUMENTS] [FLAGS]")
	fmt.Fprintln(w, "Flags may come before or after the arguments; -- ends them.\n\ncommands:")
	for _, c := range commands() {
		printForms(w, c.forms)
	}
	fmt.Fprintln(w, "\nRun `certchain COMMAND -h` (or `certchain help COMMAND`) for a command's flags.")
}

func printForms(w io.Writer, forms []form) {
	for _, f := range forms {
		fmt.Fprintf(w, "  certchain %s\n        %s\n", f.syn, f.what)
	}
}
