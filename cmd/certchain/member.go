package main

import (
	"context"
	"encoding/json"

	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/certchain/certchain/certchain"
)

// runMember changes or lists the consortium's members (admins change).
func runMember(ctx context.Context, e *env, args []string) error {
	sub := first(args)
	if sub != "list" && sub != "add" && sub != "remove" {
		return usagef("member", "unknown member command %q", sub)
	}
	fs := newFlags(e, "member "+sub)
	var co clientOptions
	co.bind(fs, e.getenv)
	var role, certFile string
	var caCerts, orgs, uris, dns stringList
	if sub == "add" {
		fs.StringVar(&role, "role", "", "vendor, operator, ca, admin or validator")
		fs.StringVar(&certFile, "identity", "", "the new member's identity certificate (PEM): its client certificate for mutual TLS")
		fs.Var(&caCerts, "ca-cert", "a CA certificate of a ca member (PEM file; repeatable)")
		fs.Var(&orgs, "org", "namespace: subject organization (repeatable)")
		fs.Var(&uris, "uri-prefix", "namespace: SAN URI prefix (repeatable)")
		fs.Var(&dns, "dns-suffix", "namespace: SAN DNS suffix (repeatable)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	pos := fs.Args()
	if want := map[string]int{"list": 0, "add": 1, "remove": 1}[sub]; len(pos) != want {
		return usagef("member "+sub, "want %d arguments, got %d", want, len(pos))
	}
	var c *client
	var err error
	if sub == "list" {
		c, err = co.client()
	} else {
		c, err = co.writer(ctx)
	}
	if err != nil {
		return err
	}
	switch sub {
	case "list":
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
	case "add":
		m := certchain.Member{Name: pos[0], Role: certchain.Role(role)}
		b, err := os.ReadFile(certFile)
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
	default: // remove
		b, _ := json.Marshal(map[string]string{"name": pos[0]}) // as the node makes it
		return clusterChange(ctx, e, c, "DELETE", "/v1/members/"+url.PathEscape(pos[0]), nil, certchain.Tx{Type: certchain.TxMemberRemove, Member: b})
	}
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
