package certreload

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testCA issues the certificates of a test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// leaf describes a certificate to issue; zero fields get defaults (a node
// certificate valid now for an hour, for 127.0.0.1 and node1's URI).
type leaf struct {
	cn        string
	uri       string
	ekus      []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
}

var serials = struct {
	sync.Mutex
	n int64
}{n: 100}

// issue returns the PEM of a new certificate and its key.
func (ca *testCA) issue(t testing.TB, l leaf) (certPEM, keyPEM []byte) {
	t.Helper()
	if l.cn == "" {
		l.cn = "node1"
	}
	if l.uri == "" {
		l.uri = "urn:certchain:node:node1"
	}
	if l.ekus == nil {
		l.ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if l.notBefore.IsZero() {
		l.notBefore, l.notAfter = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	}
	u, _ := url.Parse(l.uri)
	serials.Lock()
	serials.n++
	serial := big.NewInt(serials.n)
	serials.Unlock()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: l.cn},
		NotBefore: l.notBefore, NotAfter: l.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: l.ekus, URIs: []*url.URL{u}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// files are a pair's files in a test directory.
type files struct{ cert, key string }

func newFiles(t testing.TB) files {
	dir := t.TempDir()
	return files{filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")}
}

// write replaces both files (nil: leave that one), each by a rename, as
// an operator should.
func (f files) write(t testing.TB, certPEM, keyPEM []byte) {
	t.Helper()
	for _, w := range []struct {
		path string
		data []byte
	}{{f.cert, certPEM}, {f.key, keyPEM}} {
		if w.data == nil {
			continue
		}
		tmp := w.path + ".tmp"
		if err := os.WriteFile(tmp, w.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, w.path); err != nil {
			t.Fatal(err)
		}
	}
}

// logBuf collects a logger's lines.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuf) lines(substr string) int {
	return strings.Count(l.String(), substr)
}

// harness is a Reloader of one pair with its logs and metrics.
type harness struct {
	f    files
	pair *Pair
	r    *Reloader
	logs *logBuf
	reg  *prometheus.Registry
}

func newHarness(t testing.TB, kind Kind, first [2][]byte) *harness {
	t.Helper()
	h := &harness{f: newFiles(t), logs: &logBuf{}, reg: prometheus.NewRegistry()}
	h.f.write(t, first[0], first[1])
	var err error
	if h.pair, err = Load(kind, h.f.cert, h.f.key, nil); err != nil {
		t.Fatalf("load: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(h.logs, nil))
	if h.r, err = New(logger, h.reg, h.pair); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) count(result string) float64 {
	return testutil.ToFloat64(h.r.m.reloads.WithLabelValues(h.pair.What(), result))
}

func (h *harness) serial() string { return serial(h.pair.Current()) }

func serialOf(t testing.TB, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}
