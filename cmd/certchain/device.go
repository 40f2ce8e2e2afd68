package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	switch first(args) {
	case "new":
		return runDeviceNew(ctx, e, args[1:])
	case "renew":
		return runDeviceRenew(e, args[1:])
	}
	return usagef("device", "unknown device command %q", first(args))
}

func runDeviceNew(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "device new")
	var co clientOptions
	co.bind(fs, e.getenv)
	count := fs.Int("count", 1, "number of devices (at least 1)")
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
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usagef("device new", "unexpected arguments %q", fs.Args())
	case *count < 1:
		return usagef("device new", "--count %d: make at least one device", *count)
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
	bar := newProgress(e.stderr, *count, *quiet)
	bar.unit = "devices"
	if err := pki.MakeDevices(ctx, *count, *out, o, *workers, func(int) { bar.add(1) }); err != nil {
		return err
	}
	bar.done()
	fmt.Fprintf(e.stdout, "%d devices in %s (network %s)\n", *count, *out, o.NetworkID)
	return nil
}

// runDeviceRenew makes, for each old certificate, a new key and a
// self-signed certificate for the same device (pki.Successor), written to
// the output directory under the old file's name: the NEW of `certchain
// renew OLD NEW`.
func runDeviceRenew(e *env, args []string) error {
	fs := newFlags(e, "device renew")
	out := fs.String("out", "renewed", "output directory (NAME.pem certificate and NAME.key key, NAME as the old file's)")
	keyType := fs.String("key-type", "", "key type: p256, p384, ed25519, rsa2048 (default: the old key's)")
	validity := fs.Duration("validity", 0, "certificate lifetime (default: the old certificate's)")
	var ocsp stringList
	fs.Var(&ocsp, "ocsp-url", "OCSP URL for the AIA extension (repeatable; default: the old certificate's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("device renew", "no old certificate named")
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	o := pki.SuccessorOptions{KeyType: *keyType, Validity: *validity, OCSPURLs: ocsp, NotBefore: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
	for _, old := range fs.Args() {
		certFile, err := renewDevice(old, *out, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: successor %s (key beside it); publish it with: certchain renew %s %s\n", old, certFile, old, certFile)
	}
	return nil
}

// renewDevice writes the successor of the certificate in file old into
// dir and returns the certificate's file.
func renewDevice(old, dir string, o pki.SuccessorOptions) (string, error) {
	it, err := oneCert(old)
	if err != nil {
		return "", err
	}
	der, key, err := pki.Successor(it.cert, o)
	if err != nil {
		return "", fmt.Errorf("%s: %w", old, err)
	}
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		return "", err
	}
	base := filepath.Join(dir, strings.TrimSuffix(filepath.Base(old), filepath.Ext(old)))
	if err := writeNew(base+".key", keyPEM, 0o600); err != nil {
		return "", err
	}
	return base + ".pem", writeNew(base+".pem", pki.EncodeCertPEM(der), 0o644)
}

// writeNew writes a file that must not exist yet (a key may be in use).
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// deviceOptions learns the network ID, extension OID and (when wantOCSP)
// the network's OCSP URLs from the flags or, when missing, from the node's
// /v1/network.
func deviceOptions(ctx context.Context, co *clientOptions, networkID, oid string, wantOCSP bool) (pki.DeviceOptions, error) {
	var o pki.DeviceOptions
	if networkID == "" || oid == "" || wantOCSP {
		nv, err := fetchNetwork(ctx, co)
		if err != nil && (networkID == "" || oid == "") {
			return o, fmt.Errorf("%w (or pass --network-id and --oid)", explain(err))
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
