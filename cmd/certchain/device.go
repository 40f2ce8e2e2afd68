package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/certchain/certchain/api"
	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runDevice(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "new" {
		return errors.New("usage: certchain device new --count N --out DIR [flags]")
	}
	fs := flag.NewFlagSet("device new", flag.ContinueOnError)
	var co clientOptions
	co.bind(fs, e.getenv)
	count := fs.Int("count", 1, "number of devices")
	out := fs.String("out", "devices", "output directory (CN.pem certificate, CN.key private key)")
	prefix := fs.String("prefix", "DEV-", "device serial prefix (CN = prefix + number)")
	org := fs.String("org", "", "subject organization (default: the acting member's name)")
	uri := fs.String("uri", "", "SAN URI prefix; the device serial is appended (e.g. urn:vendor:sc:)")
	keyType := fs.String("key-type", "p256", "key type: p256, p384, ed25519, rsa2048")
	validity := fs.Duration("validity", 10*365*24*time.Hour, "certificate lifetime")
	networkID := fs.String("network-id", "", "network ID (default: asked from the node)")
	oid := fs.String("oid", "", "network-ID extension OID (default: asked from the node)")
	var ocsp stringList
	fs.Var(&ocsp, "ocsp-url", "OCSP URL for the AIA extension (repeatable; default: the network's, from the node)")
	workers := fs.Int("workers", 0, "parallel key generators (0: all cores)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	o, err := deviceOptions(ctx, &co, *networkID, *oid, len(ocsp) == 0)
	if err != nil {
		return err
	}
	if len(ocsp) == 0 {
		ocsp = o.OCSPURLs
	}
	o.Organization, o.CommonName, o.URI, o.KeyType = *org, *prefix, *uri, *keyType
	o.OCSPURLs, o.Validity, o.NotBefore = ocsp, *validity, time.Now().Add(-time.Minute).UTC()
	if o.Organization == "" {
		o.Organization = co.member
	}
	bar := newProgress(e.stderr, *count, false)
	bar.unitLabel = "devices"
	if err := pki.MakeDevices(ctx, *count, *out, o, *workers, func(int) { bar.add(1) }); err != nil {
		return err
	}
	bar.done()
	fmt.Fprintf(e.stdout, "%d devices in %s (network %s)\n", *count, *out, o.NetworkID)
	return nil
}

// deviceOptions learns the network ID, extension OID and (when wantOCSP)
// the network's OCSP URLs from the flags or, when missing, from the node's
// /v1/network.
func deviceOptions(ctx context.Context, co *clientOptions, networkID, oid string, wantOCSP bool) (pki.DeviceOptions, error) {
	var o pki.DeviceOptions
	if networkID == "" || oid == "" || wantOCSP {
		nv, err := fetchNetwork(ctx, co)
		if err != nil && (networkID == "" || oid == "") {
			return o, fmt.Errorf("pass --network-id and --oid, or reach a node: %w", err)
		}
		if err == nil {
			networkID, oid = cmp.Or(networkID, nv.NetworkID), cmp.Or(oid, nv.NetworkIDOID)
			o.OCSPURLs = nv.OCSPURLs
		}
	}
	parsed, err := certchain.ParseOID(oid)
	if err != nil {
		return o, err
	}
	o.NetworkID, o.OID = networkID, parsed
	return o, nil
}

func fetchNetwork(ctx context.Context, co *clientOptions) (*api.NetworkView, error) {
	c, err := co.client()
	if err != nil {
		return nil, err
	}
	var nv api.NetworkView
	return &nv, c.Do(ctx, "GET", "/v1/network", "", nil, &nv)
}
