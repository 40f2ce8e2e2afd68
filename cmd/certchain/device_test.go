package main

import (
	"bytes"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certchain/certchain/validator"
)

// TestDeviceRenewThenRenew is the renew step as people run it: `device
// renew` makes the successor of a published device (new key, same
// identity, network ID and OCSP URLs), and `renew OLD NEW` supersedes the
// old certificate with it.
func TestDeviceRenewThenRenew(t *testing.T) {
	dir := t.TempDir()
	startApp(t, dir)
	work := t.TempDir()
	devs, renewed := filepath.Join(work, "devices"), filepath.Join(work, "renewed")
	mustCLI(t, dir, "device", "new", "--count", "2", "--out", devs, "--prefix", "RN-", "--uri", "urn:vendor:rn:", "--quiet")
	mustCLI(t, dir, "publish", "--quiet", devs)
	old := filepath.Join(devs, "RN-0000001.pem")
	out := mustCLI(t, dir, "device", "renew", old, "--out", renewed)
	succ := filepath.Join(renewed, "RN-0000001.pem")
	if !strings.Contains(out, "certchain renew "+old+" "+succ) {
		t.Fatalf("device renew: %s", out)
	}
	o, n := readOne(t, old), readOne(t, succ)
	if validator.Identity(o) != validator.Identity(n) || bytes.Equal(o.RawSubjectPublicKeyInfo, n.RawSubjectPublicKeyInfo) || strings.Join(o.OCSPServer, " ") != strings.Join(n.OCSPServer, " ") {
		t.Fatalf("successor: identity %q→%q, OCSP %v→%v, new key %v", validator.Identity(o), validator.Identity(n), o.OCSPServer, n.OCSPServer, !bytes.Equal(o.RawSubjectPublicKeyInfo, n.RawSubjectPublicKeyInfo))
	}
	if code, out := cli(t, dir, "device", "renew", old, "--out", renewed); code != 1 || !strings.Contains(out, "file exists") {
		t.Fatalf("a second renew into the same place must not overwrite the key: exit %d %s", code, out)
	}
	mustCLI(t, dir, "renew", old, succ)
	if code, out := cli(t, dir, "status", old, succ); code != 2 || !strings.Contains(lineWith(out, old), " superseded superseded ") || !strings.Contains(lineWith(out, succ), " good ") {
		t.Fatalf("after renew: exit %d\n%s", code, out)
	}
}

func readOne(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	it, err := oneCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return it.cert
}

func TestDeviceNewCount(t *testing.T) {
	for _, n := range []string{"0", "-3"} {
		code, out, errOut := runQuiet(t, "device", "new", "--count", n, "--network-id", "x", "--oid", "1.3.6.1.4.1.32473.1.1", "--out", t.TempDir())
		if code != 1 || !strings.Contains(errOut, "--count "+n+": make at least one device") {
			t.Fatalf("--count %s: exit %d %s%s", n, code, out, errOut)
		}
	}
}
