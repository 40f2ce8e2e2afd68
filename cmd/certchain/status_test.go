package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/internal/pki"
)

// TestStatusOfDirectory: status takes directories like publish does and
// prints each certificate's ID, status, file and device identity, then a
// summary line; the exit code is 0 all good, 2 any not good, 1 an entry
// that is no certificate. Flags may follow the arguments.
func TestStatusOfDirectory(t *testing.T) {
	dir := t.TempDir()
	startApp(t, dir)
	devs := filepath.Join(t.TempDir(), "devs")
	mustCLI(t, dir, "device", "new", "--out", devs, "--count", "5", "--prefix", "ST-", "--uri", "urn:vendor:st:", "--quiet")
	mustCLI(t, dir, "publish", devs, "--quiet")
	file := func(i int) string { return filepath.Join(devs, fmt.Sprintf("ST-%07d.pem", i)) }
	mustCLI(t, dir, "suspend", file(2))
	mustCLI(t, dir, "revoke", file(4), "--reason", "keyCompromise") // flags after the file
	code, out := cli(t, dir, "status", devs)
	if code != 2 || !strings.Contains(out, "5 certificates: 3 good, 1 suspended, 1 revoked\n") {
		t.Fatalf("status of the directory: exit %d\n%s", code, out)
	}
	for i, want := range map[int]string{1: " good  ", 2: " suspended certificateHold since ", 4: " revoked keyCompromise since "} {
		line := lineWith(out, file(i))
		if !strings.Contains(line, want) || !strings.HasSuffix(line, fmt.Sprintf("  %s  urn:vendor:st:ST-%07d", file(i), i)) {
			t.Fatalf("line for %s: %q, want %q and the file and URI identity", file(i), line, want)
		}
	}
	code, out = cli(t, dir, "status", file(1))
	if code != 0 || !strings.Contains(out, "1 certificate: 1 good\n") {
		t.Fatalf("one good: exit %d\n%s", code, out)
	}
	der, _ := os.ReadFile(file(3))
	id := idOfPEM(t, der)
	code, out = cli(t, dir, "status", id, "--json")
	var st statusLine
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &st) != nil || st.ID != id || st.Status != "good" || st.Identity != "urn:vendor:st:ST-0000003" || st.File != "-" {
		t.Fatalf("status by ID as JSON: exit %d %+v\n%s", code, st, out)
	}
	if !strings.Contains(out, `{"summary":{"good":1}}`) {
		t.Fatalf("JSON summary missing:\n%s", out)
	}
	if code, out := cli(t, dir, "status", t.TempDir()); code != 1 || !strings.Contains(out, "no certificate files") {
		t.Fatalf("status of an empty directory: exit %d\n%s", code, out)
	}
	writeFile(t, filepath.Join(devs, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n"))
	code, out = cli(t, dir, "status", devs)
	if code != 1 || !strings.Contains(out, "6 certificates: 3 good, 1 suspended, 1 revoked, 1 error\n") || !strings.Contains(out, "- error (der: PEM block 1: malformed PEM)  "+filepath.Join(devs, "broken.pem")) {
		t.Fatalf("status with a broken file: exit %d\n%s", code, out)
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func idOfPEM(t *testing.T, b []byte) string {
	t.Helper()
	items := certEntries("x.pem", b)
	if len(items) != 1 || items[0].err != nil {
		t.Fatalf("not one certificate: %+v", items)
	}
	return certchain.Sum(items[0].der).String()
}

// TestNoNodeAtURL: every command that talks to a node says, when none
// runs there, which URL it tried and what to start.
func TestNoNodeAtURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	devs := t.TempDir()
	der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "n", CommonName: "nn-1"})
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(devs, "nn-1.pem")
	writeFile(t, cert, pki.EncodeCertPEM(der))
	id := certchain.Sum(der).String()
	for _, args := range [][]string{
		{"publish", devs}, {"status", devs}, {"status", id}, {"revoke", id}, {"suspend", cert}, {"resume", id},
		{"renew", id, cert}, {"revoke-key", cert}, {"ledger", "head"}, {"ledger", "audit", "--url", url}, {"ledger", "compare", url},
		{"device", "new", "--out", t.TempDir()}, {"member", "list"}, {"member", "remove", "x"},
		{"member", "add", "x", "--role", "vendor", "--identity", cert}, {"cluster", "status"}, {"cluster", "remove", "n2"},
	} {
		t.Run(strings.Join(args[:min(2, len(args))], "-"), func(t *testing.T) {
			code, out := cli(t, t.TempDir(), append(args, "--url", url)...)
			want := "no node at " + url + " (is `certchain node` running?)"
			if args[1] == "compare" {
				code, want = code-1, "unreachable: "+want // a table of nodes: exit 2
			}
			if code != 1 || !strings.Contains(out, want) {
				t.Fatalf("certchain %s: exit %d, want 1 and %q:\n%s", strings.Join(args, " "), code, want, out)
			}
		})
	}
}
