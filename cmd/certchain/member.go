package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/certchain/certchain/certchain"
)

// runMember changes or lists the consortium's members (admins change).
func runMember(ctx context.Context, e *env, args []string) error {
	usage := errors.New("usage: certchain member list | add NAME --role ROLE --identity FILE [--ca-cert FILE]... [--org O]... [--uri-prefix P]... [--dns-suffix D]... | remove NAME")
	if len(args) == 0 {
		return usage
	}
	fs := flag.NewFlagSet("member "+args[0], flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	role := fs.String("role", "", "vendor, operator, ca, admin or validator")
	certFile := fs.String("identity", "", "the new member's identity certificate (PEM): its client certificate for mutual TLS")
	var caCerts, orgs, uris, dns stringList
	fs.Var(&caCerts, "ca-cert", "a CA certificate of a ca member (PEM file; repeatable)")
	fs.Var(&orgs, "org", "namespace: subject organization (repeatable)")
	fs.Var(&uris, "uri-prefix", "namespace: SAN URI prefix (repeatable)")
	fs.Var(&dns, "dns-suffix", "namespace: SAN DNS suffix (repeatable)")
	// The name may come before the flags (member add NAME --role …).
	var pos []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	var c *client
	var err error
	if args[0] == "list" {
		c, err = co.client()
	} else {
		c, err = co.writer(ctx)
	}
	if err != nil {
		return err
	}
	switch {
	case args[0] == "list" && len(pos) == 0:
		var resp struct{ Members []certchain.MemberRecord }
		if err := c.Do(ctx, "GET", "/v1/members", "", nil, &resp); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tNAMESPACE")
		for _, m := range resp.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, m.Role, namespaceText(m.Namespace))
		}
		return tw.Flush()
	case args[0] == "add" && len(pos) == 1:
		m := certchain.Member{Name: pos[0], Role: certchain.Role(*role)}
		b, err := os.ReadFile(*certFile)
		if err != nil {
			return fmt.Errorf("--identity: %w", err)
		}
		m.Cert = string(b)
		for _, f := range caCerts {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("--ca-cert: %w", err)
			}
			m.CACerts = append(m.CACerts, string(b))
		}
		if len(orgs)+len(uris)+len(dns) > 0 {
			m.Namespace = &certchain.Namespace{Organizations: orgs, URIPrefixes: uris, DNSSuffixes: dns}
		}
		body, _ := json.Marshal(m)
		return clusterChange(ctx, e, c, "POST", "/v1/members", body, certchain.Tx{Type: certchain.TxMemberSet, Member: body})
	case args[0] == "remove" && len(pos) == 1:
		b, _ := json.Marshal(map[string]string{"name": pos[0]}) // as the node makes it
		return clusterChange(ctx, e, c, "DELETE", "/v1/members/"+url.PathEscape(pos[0]), nil, certchain.Tx{Type: certchain.TxMemberRemove, Member: b})
	}
	return usage
}

func namespaceText(n *certchain.Namespace) string {
	if n.Empty() {
		return "-"
	}
	var parts []string
	for _, x := range []struct {
		label string
		vals  []string
	}{{"org", n.Organizations}, {"uri", n.URIPrefixes}, {"dns", n.DNSSuffixes}} {
		for _, v := range x.vals {
			parts = append(parts, x.label+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
