package devnet

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
	cfsslog "github.com/cloudflare/cfssl/log"
)

func TestMain(m *testing.M) {
	cfsslog.Level = cfsslog.LevelError // cfssl logs every key, CSR and signature at info
	os.Exit(m.Run())
}

var testNow = time.Date(2025, 6, 1, 8, 30, 15, 999, time.UTC)

func testOptions() Options {
	return Options{NetworkID: "certchain-test", OCSPURLs: []string{"http://127.0.0.1:8080/ocsp"}, Now: testNow}
}

// create makes a network in a fresh directory.
func create(t *testing.T) *Network {
	t.Helper()
	n, err := Create(filepath.Join(t.TempDir(), "devnet"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateLoad(t *testing.T) {
	n := create(t)
	l, err := Load(n.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Genesis.Hash() != n.Genesis.Hash() {
		t.Fatal("Load gives another genesis than Create")
	}
	g := l.Genesis
	if g.NetworkID != "certchain-test" || !g.Time.Equal(testNow.Truncate(time.Second)) ||
		g.NetworkIDOID != certchain.DefaultNetworkIDOID || g.Policy != certchain.DefaultPolicy() {
		t.Fatalf("genesis header: %+v", g)
	}
	if got := l.MemberNames(); !slices.Equal(got, []string{"admin", "vendor", "ca", "operator"}) {
		t.Fatalf("members %v", got)
	}
	if !slices.Equal(l.OCSPURLs, testOptions().OCSPURLs) || !slices.Equal(l.Hosts, DefaultHosts) {
		t.Fatalf("meta: hosts %v ocsp %v", l.Hosts, l.OCSPURLs)
	}
	checkRoles(t, l)
	checkModes(t, l.Dir)
}

func checkRoles(t *testing.T, n *Network) {
	t.Helper()
	memberCA, err := os.ReadFile(n.MemberCAFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]certchain.Role{"admin": certchain.RoleAdmin, "vendor": certchain.RoleVendor, "ca": certchain.RoleCA, "operator": certchain.RoleOperator}
	for _, m := range n.Genesis.Members {
		if m.Role != want[m.Name] {
			t.Errorf("%s: role %s", m.Name, m.Role)
		}
		cert := parsePEM(t, []byte(m.Cert))
		if cert.Subject.CommonName != m.Name || !slices.Equal(cert.Subject.Organization, []string{m.Name}) {
			t.Errorf("%s: subject %v", m.Name, cert.Subject)
		}
		if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("%s: EKU %v", m.Name, cert.ExtKeyUsage)
		}
		if (m.Name == "ca") != (len(m.CACerts) == 1 && m.CACerts[0] == string(memberCA)) {
			t.Errorf("%s: ca_certs %d", m.Name, len(m.CACerts))
		}
	}
}

// checkModes checks 0700 directories and 0600 keys.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		switch {
		case d.IsDir() && perm != 0o700:
			t.Errorf("%s: mode %v", path, perm)
		case filepath.Ext(path) == ".pem" && bytes.HasSuffix([]byte(path), []byte("-key.pem")) && perm != 0o600:
			t.Errorf("%s: mode %v", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func parsePEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	der, err := certchain.CertPEM(string(b))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateDefaults(t *testing.T) {
	n, err := Create(filepath.Join(t.TempDir(), "d"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^certchain-dev-[0-9a-f]{8}$`).MatchString(n.Genesis.NetworkID) {
		t.Fatalf("network ID %q", n.Genesis.NetworkID)
	}
	if d := time.Since(n.Genesis.Time); d < 0 || d > time.Minute {
		t.Fatalf("genesis time %v is not now", n.Genesis.Time)
	}
	if len(n.OCSPURLs) != 0 || n.NodeCert.DNSNames[0] != "localhost" || len(n.NodeCert.IPAddresses) != 2 {
		t.Fatalf("ocsp %v, node SANs %v %v", n.OCSPURLs, n.NodeCert.DNSNames, n.NodeCert.IPAddresses)
	}
}

func TestCreateValidity(t *testing.T) {
	n := create(t)
	start := testNow.Truncate(time.Second).Add(-backdate)
	for name, c := range map[string]*x509.Certificate{"ca": n.CA, "member-ca": n.MemberCA} {
		if d := c.NotBefore.Sub(start); d < -time.Minute || d > time.Minute {
			t.Errorf("%s starts %v, want about %v", name, c.NotBefore, start)
		}
	}
	for name, c := range map[string]*x509.Certificate{"node": n.NodeCert, "ocsp": n.OCSPCert} {
		if !c.NotBefore.Equal(start) || !c.NotAfter.Equal(start.Add(InfraValidity)) || c.NotAfter.After(n.CA.NotAfter) {
			t.Errorf("%s: %v..%v (CA until %v)", name, c.NotBefore, c.NotAfter, n.CA.NotAfter)
		}
	}
	if !n.CA.MaxPathLenZero || n.MemberCA.MaxPathLen != -1 {
		t.Errorf("path lengths: network CA zero=%v, member CA %d", n.CA.MaxPathLenZero, n.MemberCA.MaxPathLen)
	}
}

func TestNodeCert(t *testing.T) {
	n := create(t)
	for _, host := range DefaultHosts {
		for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			opts := x509.VerifyOptions{Roots: n.CAPool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{eku}}
			if _, err := n.NodeCert.Verify(opts); err != nil {
				t.Errorf("%s/%v: %v", host, eku, err)
			}
		}
	}
}

func TestOCSPCert(t *testing.T) {
	n := create(t)
	c := n.OCSPCert
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || c.IsCA {
		t.Fatalf("EKU %v IsCA %v", c.ExtKeyUsage, c.IsCA)
	}
	opts := x509.VerifyOptions{Roots: n.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}
	if _, err := c.Verify(opts); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSignatureFrom(n.CA); err != nil {
		t.Fatal(err)
	}
	nocheck := []int{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	if !slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(nocheck) && !e.Critical }) {
		t.Fatal("no id-pkix-ocsp-nocheck extension")
	}
}
