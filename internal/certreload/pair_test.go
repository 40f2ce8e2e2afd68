package certreload

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

// both is a certificate and key file content.
func both(certPEM, keyPEM []byte) [2][]byte { return [2][]byte{certPEM, keyPEM} }

// TestReloadRefusesBadPairs: each bad replacement leaves the current pair
// in use, is logged at error level with its reason, and is counted.
func TestReloadRefusesBadPairs(t *testing.T) {
	ca := newTestCA(t)
	errHook := errors.New("peers would refuse it")
	good, goodKey := ca.issue(t, leaf{})
	_, otherKey := ca.issue(t, leaf{})
	ocspEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	cases := []struct {
		name   string
		kind   Kind
		files  [2][]byte
		hook   error
		want   error
		reason string // in the log line
	}{
		{name: "fail/key-of-another-certificate", files: both(good, otherKey), want: ErrBadPair, reason: "does not match"},
		{name: "fail/garbage-certificate", files: both([]byte("not a certificate\n"), goodKey), want: ErrBadPair, reason: "failed to find any PEM data"},
		{name: "fail/garbage-key", files: both(good, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), want: ErrBadPair, reason: "private key"},
		{name: "fail/truncated-certificate", files: both(good[:len(good)/2], goodKey), want: ErrBadPair, reason: "PEM"},
		{name: "fail/truncated-key", files: both(good, goodKey[:len(goodKey)-40]), want: ErrBadPair, reason: "PEM"},
		{name: "fail/empty-key", files: both(good, []byte{}), want: ErrBadPair, reason: "PEM"},
		{name: "fail/expired", want: ErrNotValidNow, reason: "expired",
			files: both(ca.issue(t, leaf{notBefore: time.Now().Add(-2 * time.Hour), notAfter: time.Now().Add(-time.Hour)}))},
		{name: "fail/not-yet-valid", want: ErrNotValidNow, reason: "valid only from",
			files: both(ca.issue(t, leaf{notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(2 * time.Hour)}))},
		{name: "fail/client-only-node-certificate", want: ErrUsage, reason: "serverAuth",
			files: both(ca.issue(t, leaf{ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}))},
		{name: "fail/another-node-identity", want: ErrIdentity, reason: "urn:certchain:node:node2",
			files: both(ca.issue(t, leaf{uri: "urn:certchain:node:node2"}))},
		{name: "fail/ocsp-responder-without-ocsp-signing", kind: OCSPResponder, want: ErrUsage, reason: "OCSPSigning",
			files: both(ca.issue(t, leaf{ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}))},
		{name: "fail/ocsp-responder-without-eku", kind: OCSPResponder, want: ErrUsage, reason: "OCSPSigning",
			files: both(ca.issue(t, leaf{ekus: []x509.ExtKeyUsage{}}))},
		{name: "fail/hook-refuses", files: both(ca.issue(t, leaf{})), hook: errHook, want: errHook, reason: "peers would refuse it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, first := NodeTLS, both(good, goodKey)
			if tc.kind.What != "" {
				kind, first = tc.kind, both(ca.issue(t, leaf{ekus: ocspEKU}))
			}
			h := newHarness(t, kind, first)
			h.pair.OnReload(func(*Cert) error { return tc.hook })
			before := h.serial()
			h.f.write(t, tc.files[0], tc.files[1])
			err := h.r.ReloadAll("test")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if h.serial() != before {
				t.Fatalf("serial %s in use, want the old %s", h.serial(), before)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "certificate reload refused") || !strings.Contains(logs, tc.reason) {
				t.Fatalf("log does not say why (%q):\n%s", tc.reason, logs)
			}
			if h.count(ResultError) != 1 || h.count(ResultOK) != 0 {
				t.Fatalf("reloads: error %v ok %v, want 1 and 0", h.count(ResultError), h.count(ResultOK))
			}
		})
	}
}

// TestReloadAccepts: a new valid pair becomes current (and the hook sees
// it first); the same files again change nothing.
func TestReloadAccepts(t *testing.T) {
	ca := newTestCA(t)
	h := newHarness(t, NodeTLS, both(ca.issue(t, leaf{})))
	next, nextKey := ca.issue(t, leaf{})
	var seen string
	h.pair.OnReload(func(c *Cert) error { seen = serial(c); return nil })
	h.f.write(t, next, nextKey)
	cases := []struct {
		name   string
		result string
	}{
		{"ok/new-pair", ResultOK},
		{"ok/same-files-again", ResultUnchanged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.r.ReloadAll("test"); err != nil {
				t.Fatal(err)
			}
			if h.serial() != serialOf(t, next) || seen != serialOf(t, next) {
				t.Fatalf("serial %s in use (hook saw %s), want %s", h.serial(), seen, serialOf(t, next))
			}
			if h.count(tc.result) != 1 {
				t.Fatalf("%s count %v, want 1", tc.result, h.count(tc.result))
			}
		})
	}
	if !strings.Contains(h.logs.String(), "certificate reloaded") {
		t.Fatalf("no reload logged:\n%s", h.logs)
	}
}

// TestLoadRefusesBadFirstPair: a node does not start with a pair it would
// refuse on reload.
func TestLoadRefusesBadFirstPair(t *testing.T) {
	ca := newTestCA(t)
	good, _ := ca.issue(t, leaf{})
	_, otherKey := ca.issue(t, leaf{})
	f := newFiles(t)
	f.write(t, good, otherKey)
	if _, err := Load(NodeTLS, f.cert, f.key, nil); !errors.Is(err, ErrBadPair) {
		t.Fatalf("err = %v, want ErrBadPair", err)
	}
}
