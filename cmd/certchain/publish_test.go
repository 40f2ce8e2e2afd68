package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/certchain/certchain/internal/pki"
)

// mixedDir is a generated input directory and what a correct publish of
// it must report, known from how it was made (not from the CLI's reader).
type mixedDir struct {
	dir         string
	files       int            // certificate files (by name) under dir
	good        int            // entries the node publishes (or already has)
	rejected    map[string]int // rejected entries by file (base name) ...
	rules       map[string]string
	localErrors int // ... of which the CLI refuses itself (status: error)
}

func (m *mixedDir) bad(file, rule string, local bool) {
	m.rejected[file]++
	m.rules[file] = rule
	if local {
		m.localErrors++
	}
}

func (m *mixedDir) badTotal() int {
	n := 0
	for _, k := range m.rejected {
		n += k
	}
	return n
}

// genMixedDir writes a directory tree mixing good device certificates with
// CA:TRUE self-signed ones, malformed files, duplicates, certificates of
// another network, key files and files that are no certificates at all.
func genMixedDir(t *testing.T, r *rand.Rand, networkID, prefix string, onlyGood bool) *mixedDir {
	t.Helper()
	m := &mixedDir{dir: t.TempDir(), rejected: map[string]int{}, rules: map[string]string{}}
	sub := filepath.Join(m.dir, "line-2", "batch")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	place := func(name string, data []byte, certFile bool) {
		d := []string{m.dir, sub}[r.IntN(2)]
		writeFile(t, filepath.Join(d, name), data)
		if certFile {
			m.files++
		}
	}
	var goods [][]byte
	for i := range 2 + r.IntN(6) {
		der, key, err := pki.NewDevice(pki.DeviceOptions{NetworkID: networkID, Organization: "vendor", CommonName: fmt.Sprintf("%s%d", prefix, i)})
		if err != nil {
			t.Fatal(err)
		}
		goods = append(goods, der)
		name := fmt.Sprintf("%s%d", prefix, i)
		if r.IntN(2) == 0 {
			place(name+".der", der, true)
		} else {
			place(name+".pem", pki.EncodeCertPEM(der), true)
		}
		place(name+".key", keyPEM(t, key), false) // not a certificate file: never read
		m.good++
	}
	dup := goods[r.IntN(len(goods))]
	place(prefix+"copy.crt", pki.EncodeCertPEM(dup), true) // the same certificate again
	m.good++
	place("notes.txt", []byte("not read"), false)
	if onlyGood {
		return m
	}
	for i := range 1 + r.IntN(3) {
		name := fmt.Sprintf("%sca-%d.pem", prefix, i)
		ca, _ := selfSignedCA(t, networkID, prefix+"ca-"+strconv.Itoa(i))
		place(name, pki.EncodeCertPEM(ca), true)
		m.bad(name, "ca-cert", false)
	}
	foreign, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "another-consortium", Organization: "vendor", CommonName: prefix + "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	place(prefix+"foreign.pem", pki.EncodeCertPEM(foreign), true)
	m.bad(prefix+"foreign.pem", "network-id", false)
	malformed := map[string][]byte{
		prefix + "truncated.pem": []byte("-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJ\n"),
		prefix + "garbage.der":   []byte("this is no DER"),
		prefix + "empty.crt":     nil,
	}
	for name, data := range malformed {
		if r.IntN(3) > 0 {
			place(name, data, true)
			m.bad(name, "der", true)
		}
	}
	_, lostKey, _ := pki.NewDevice(pki.DeviceOptions{NetworkID: networkID, CommonName: "k"})
	place(prefix+"key-saved-as.pem", keyPEM(t, lostKey), true)
	m.bad(prefix+"key-saved-as.pem", "not-certificate", true)
	both, bothKey, _ := pki.NewDevice(pki.DeviceOptions{NetworkID: networkID, Organization: "vendor", CommonName: prefix + "both"})
	place(prefix+"both.pem", cat(keyPEM(t, bothKey), pki.EncodeCertPEM(both)), true) // the key is reported, the certificate published
	m.bad(prefix+"both.pem", "not-certificate", true)
	m.good++
	if err := os.Symlink(filepath.Join(m.dir, "nowhere"), filepath.Join(m.dir, prefix+"dangling.pem")); err != nil {
		t.Fatal(err)
	}
	m.files++
	m.bad(prefix+"dangling.pem", "unreadable", true)
	return m
}

var summaryRE = regexp.MustCompile(`published (\d+) new, (\d+) already on the ledger, (\d+) rejected(?:, (\d+) without an answer)? \((\d+) entr(?:y|ies) from (\d+) files?\)`)

// publishCounts runs publish and returns its exit code and counts: new,
// already, rejected, unanswered, entries, files.
func publishCounts(t *testing.T, dir string, args ...string) (int, [6]int, string) {
	t.Helper()
	code, out := cli(t, dir, append([]string{"publish", "--quiet"}, args...)...)
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("publish %v: exit %d, no summary:\n%s", args, code, out)
	}
	var n [6]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return code, n, out
}

// TestPublishAccountsForEveryEntry publishes generated mixed directories
// to a node: published + already on the ledger + rejected equals the
// entries of the input, each rejection names its rule and file, and the
// exit code says whether anything was rejected. Publishing again changes
// nothing; status accounts for every entry too.
func TestPublishAccountsForEveryEntry(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	nid := a.Network.Genesis.NetworkID
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 13))
	for round := range 4 {
		onlyGood := round == 0
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			m := genMixedDir(t, r, nid, fmt.Sprintf("R%d-", round), onlyGood)
			entries := m.good + m.badTotal()
			report := filepath.Join(t.TempDir(), "rejected.tsv")
			code, n, out := publishCounts(t, dir, m.dir, "--report", report)
			wantCode := map[bool]int{true: 0, false: 2}[onlyGood]
			if code != wantCode || n[0]+n[1] != m.good || n[2] != m.badTotal() || n[3] != 0 || n[4] != entries || n[5] != m.files {
				t.Fatalf("exit %d (want %d), counts %v; want %d good, %d rejected, %d entries from %d files\n%s", code, wantCode, n, m.good, m.badTotal(), entries, m.files, out)
			}
			if !onlyGood {
				checkReport(t, report, m)
			}
			code2, n2, out := publishCounts(t, dir, "--report", report, m.dir) // flags after the directory as well
			if code2 != wantCode || n2[0] != 0 || n2[1] != m.good || n2[2] != m.badTotal() || n2[4] != entries {
				t.Fatalf("second publish: exit %d counts %v\n%s", code2, n2, out)
			}
			checkStatusSummary(t, dir, m)
		})
	}
}

// checkReport: one line per rejected entry, naming its file and rule.
func checkReport(t *testing.T, report string, m *mixedDir) {
	t.Helper()
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "file\tid\treason" || len(lines)-1 != m.badTotal() {
		t.Fatalf("report has %d lines, want a header and %d:\n%s", len(lines), m.badTotal(), b)
	}
	seen := map[string]int{}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("report line %q", l)
		}
		base := filepath.Base(f[0])
		if rule := m.rules[base]; rule == "" || !strings.HasPrefix(f[2], rule+": ") {
			t.Fatalf("report line %q: want rule %q for %s", l, m.rules[base], base)
		}
		seen[base]++
	}
	for file, n := range m.rejected {
		if seen[file] != n {
			t.Fatalf("%s: %d report lines, want %d\n%s", file, seen[file], n, b)
		}
	}
}

var statusSummaryRE = regexp.MustCompile(`(\d+) certificates?: (.*)\n`)

// checkStatusSummary: status of the same directory has a line per entry
// and counts every one.
func checkStatusSummary(t *testing.T, dir string, m *mixedDir) {
	t.Helper()
	code, out := cli(t, dir, "status", m.dir)
	sm := statusSummaryRE.FindStringSubmatch(out)
	entries := m.good + m.badTotal()
	if sm == nil || sm[1] != strconv.Itoa(entries) {
		t.Fatalf("status: want %d entries counted:\n%s", entries, out)
	}
	want := fmt.Sprintf("%d good", m.good)
	if unknown := m.badTotal() - m.localErrors; unknown > 0 {
		want += fmt.Sprintf(", %d unknown", unknown)
	}
	if m.localErrors > 0 {
		want += fmt.Sprintf(", %d %s", m.localErrors, plural(m.localErrors, "error", "errors"))
	}
	wantCode := map[bool]int{true: 0, false: 1}[m.badTotal() == 0]
	if sm[2] != want || code != wantCode {
		t.Fatalf("status summary %q exit %d, want %q exit %d\n%s", sm[2], code, want, wantCode, out)
	}
}

// TestPublishOpenSSLSelfSignedCA is the case that was lost: a certificate
// made by `openssl req -x509` with its defaults (CA:TRUE) is rejected with
// rule ca-cert, reported, and status answers for it.
func TestPublishOpenSSLSelfSignedCA(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	devs := t.TempDir()
	cmd := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(devs, "SC-1.key"), "-out", filepath.Join(devs, "SC-1.pem"), "-days", "365", "-subj", "/O=vendor/CN=SC-1",
		"-addext", "1.3.6.1.4.1.32473.1.1=ASN1:UTF8String:"+a.Network.Genesis.NetworkID)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl (make tools installs it): %v\n%s", err, out)
	}
	report := filepath.Join(t.TempDir(), "r.tsv")
	code, n, out := publishCounts(t, dir, devs, "--report", report)
	if code != 2 || n != [6]int{0, 0, 1, 0, 1, 1} {
		t.Fatalf("exit %d counts %v\n%s", code, n, out)
	}
	if rep, _ := os.ReadFile(report); !strings.Contains(string(rep), "SC-1.pem") || !strings.Contains(string(rep), "\tca-cert: ") {
		t.Fatalf("report: %s", rep)
	}
	code, out = cli(t, dir, "status", filepath.Join(devs, "SC-1.pem"))
	if code != 2 || !strings.Contains(out, " unknown  ") || !strings.Contains(out, "SC-1.pem  CN=SC-1,O=vendor") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
}
