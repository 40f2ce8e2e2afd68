package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/internal/pki"
)

// selfSignedCA is what `openssl req -x509` makes by default: a
// self-signed certificate with basicConstraints CA:TRUE, here with the
// network-ID extension a factory line adds.
func selfSignedCA(t testing.TB, networkID, cn string) ([]byte, crypto.Signer) {
	t.Helper()
	key, err := pki.GenerateKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pki.NetworkIDExtension(pki.DefaultNetworkIDOID(), networkID)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{Organization: []string{"vendor"}, CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// signedBy is an end-entity certificate issued by the CA (caDER, caKey).
func signedBy(t testing.TB, caDER []byte, caKey crypto.Signer, cn string) []byte {
	der, _ := issue(t, caDER, caKey, cn, false)
	return der
}

// issue makes a certificate (a CA one if isCA) issued by (caDER, caKey).
func issue(t testing.TB, caDER []byte, caKey crypto.Signer, cn string, isCA bool) ([]byte, crypto.Signer) {
	t.Helper()
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := pki.GenerateKey(pki.KeyP256)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: isCA, IsCA: isCA}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func keyPEM(t testing.TB, key crypto.Signer) []byte {
	b, err := pki.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadCertFile(t *testing.T) {
	dev, devKey, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "n", CommonName: "d-1"})
	if err != nil {
		t.Fatal(err)
	}
	ca, caKey := selfSignedCA(t, "n", "ca-1")
	leaf := signedBy(t, ca, caKey, "leaf-1")
	other, otherKey := selfSignedCA(t, "n", "ca-2")
	inter, interKey := issue(t, ca, caKey, "inter-1", true)
	deep := signedBy(t, inter, interKey, "deep-1")
	otherLeaf := signedBy(t, other, otherKey, "leaf-2")
	certPEM := pki.EncodeCertPEM
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2}})
	broken := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n") // no END line
	tests := []struct {
		name, file string
		data       []byte
		want       []string // per entry: "cert" or the rule, in order
		chained    int      // chain certificates of the certificate entries
	}{
		{"ok/pem", "a.pem", certPEM(dev), []string{"cert"}, 0},
		{"ok/der-named-crt", "a.crt", dev, []string{"cert"}, 0},
		{"ok/pem-named-crt", "a.crt", certPEM(dev), []string{"cert"}, 0},
		{"ok/text-around-blocks", "a.pem", append(append([]byte("subject=CN = d-1\n"), certPEM(dev)...), "trailer\n"...), []string{"cert"}, 0},
		{"ok/self-signed-ca-alone-is-an-entry", "ca.pem", certPEM(ca), []string{"cert"}, 0},
		{"ok/ca-that-issued-a-leaf-is-chain", "bundle.pem", cat(certPEM(leaf), certPEM(ca)), []string{"cert"}, 1},
		{"ok/ca-that-issued-nothing-is-an-entry", "two.pem", cat(certPEM(leaf), certPEM(other)), []string{"cert", "cert"}, 0},
		{"ok/leaf-intermediate-root", "deep.pem", cat(certPEM(ca), certPEM(deep), certPEM(inter)), []string{"cert"}, 2},
		{"ok/two-leaves-two-cas", "pair.pem", cat(certPEM(leaf), certPEM(otherLeaf), certPEM(other), certPEM(ca)), []string{"cert", "cert"}, 1},
		{"ok/two-devices", "two.pem", cat(certPEM(dev), certPEM(ca)), []string{"cert", "cert"}, 0},
		{"bad/key-beside-cert", "both.pem", cat(keyPEM(t, devKey), certPEM(dev)), []string{"not-certificate", "cert"}, 0},
		{"bad/key-only", "k.pem", keyPEM(t, devKey), []string{"not-certificate"}, 0},
		{"bad/csr", "r.pem", csr, []string{"not-certificate"}, 0},
		{"bad/truncated-pem", "t.pem", broken, []string{"der"}, 0},
		{"bad/broken-block-then-good", "bg.pem", cat(broken, certPEM(dev)), []string{"der", "cert"}, 0},
		{"bad/garbage-der", "g.der", []byte("hello"), []string{"der"}, 0},
		{"bad/garbage-pem-name", "g.pem", []byte("hello"), []string{"der"}, 0},
		{"bad/empty", "e.crt", nil, []string{"der"}, 0},
		{"bad/bad-der-in-pem", "b.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 1, 2}}), []string{"der"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			writeFile(t, path, tt.data)
			items := readCertFile(path)
			var got []string
			for _, it := range items {
				if it.path != path {
					t.Fatalf("entry names %q, want %q", it.path, path)
				}
				if it.err == nil {
					got = append(got, "cert")
					if len(it.chain) != tt.chained {
						t.Fatalf("chain of %d, want %d", len(it.chain), tt.chained)
					}
					continue
				}
				rule, _, _ := strings.Cut(it.err.Error(), ":")
				got = append(got, rule)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("entries %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("bad/unreadable", func(t *testing.T) {
		items := readCertFile(filepath.Join(t.TempDir(), "missing.pem"))
		if len(items) != 1 || !strings.HasPrefix(items[0].err.Error(), "unreadable: ") {
			t.Fatalf("entries %+v", items)
		}
	})
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// FuzzReadCertFile: whatever a file holds, reading it neither panics nor
// loses anything: every entry is a parsed certificate or names its rule.
func FuzzReadCertFile(f *testing.F) {
	dev, _, _ := pki.NewDevice(pki.DeviceOptions{NetworkID: "n", CommonName: "d-1"})
	f.Add(pki.EncodeCertPEM(dev), true)
	f.Add(dev, false)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----BEGIN X-----\n"), true)
	f.Add(cat(pki.EncodeCertPEM(dev), []byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n")), true)
	f.Fuzz(func(t *testing.T, data []byte, asPEM bool) {
		items := certEntries(map[bool]string{true: "f.pem", false: "f.der"}[asPEM], data)
		if len(items) == 0 {
			t.Fatal("a file gave no entry")
		}
		for _, it := range items {
			if (it.err == nil) == (it.cert == nil) || (it.err != nil && !strings.Contains(it.err.Error(), ": ")) {
				t.Fatalf("entry neither a certificate nor a named rejection: %+v", it)
			}
		}
	})
}
