package main

import (
	"context"

	"fmt"
	"time"

	"github.com/certchain/certchain/internal/devnet"
)

// runInit creates a network directory: genesis, network CA, node and OCSP
// responder certificates, the founding members' identities, and the "ca"
// member's CA, which is the issuing CA of the nodes' ACME servers. A node
// started with `--network DIR` uses it as it is; for production use its
// files are what the --genesis, --tls-*, --ocsp-* and --acme-ca-* flags
// name.
func runInit(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "init")
	dir := fs.String("dir", "network", "directory to create (must not hold a network yet)")
	id := fs.String("network-id", "", "network ID (default: certchain-dev- and random digits)")
	var hosts, ocsp stringList
	fs.Var(&hosts, "host", "DNS name or IP address of the node certificate (repeatable; default localhost, 127.0.0.1, ::1)")
	fs.Var(&ocsp, "ocsp-url", "the network's OCSP URL (repeatable)")
	signed := fs.Bool("require-signatures", true, "every member transaction must carry the member's signature (the CLI, the Go client and the ACME server sign); false: checked only when present")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("init", "unexpected arguments %q", fs.Args())
	}
	n, err := devnet.Create(*dir, devnet.Options{NetworkID: *id, Hosts: hosts, OCSPURLs: ocsp, Now: time.Now(), RequireSignatures: *signed})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "network %s in %s\n", n.Genesis.NetworkID, n.Dir)
	for _, f := range []struct{ what, file string }{
		{"genesis", n.GenesisFile},
		{"network CA (node certificates, OCSP responder)", n.CAFile},
		{"node certificate", n.NodeCertFile},
		{"OCSP responder", n.OCSPCertFile},
		{"ACME issuing CA (member \"ca\")", n.MemberCAFile},
	} {
		fmt.Fprintf(e.stdout, "  %-48s %s\n", f.what, f.file)
	}
	fmt.Fprintf(e.stdout, "start a node on it: certchain node --network %s\n", n.Dir)
	return nil
}
