package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testOptions() DeviceOptions {
	return DeviceOptions{
		NetworkID:    "certchain-test",
		Organization: "Femto Vendor",
		CommonName:   "SC-0000001",
		URI:          "urn:certchain:certchain-test:femto:SC-0000001",
		OCSPURLs:     []string{"http://127.0.0.1:8080/ocsp", "http://127.0.0.2:8080/ocsp"},
		NotBefore:    testNow,
		Validity:     24 * time.Hour,
	}
}

func TestNetworkIDExtension(t *testing.T) {
	tests := []struct {
		name    string
		oid     asn1.ObjectIdentifier
		id      string
		wantErr bool
	}{
		{"ok/ascii", DefaultNetworkIDOID(), "certchain-test", false},
		{"ok/utf8", asn1.ObjectIdentifier{1, 2, 3}, "网络-1", false},
		{"fail/empty-id", DefaultNetworkIDOID(), "", true},
		{"fail/bad-utf8", DefaultNetworkIDOID(), "\xff", true},
		{"fail/short-oid", asn1.ObjectIdentifier{1}, "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext, err := NetworkIDExtension(tt.oid, tt.id)
			if tt.wantErr {
				if !errors.Is(err, certchain.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ext.Critical || !ext.Id.Equal(tt.oid) {
				t.Fatalf("ext = %+v", ext)
			}
			if got := decodeUTF8(t, ext.Value); got != tt.id {
				t.Fatalf("value = %q, want %q", got, tt.id)
			}
		})
	}
}

// decodeUTF8 decodes a DER UTF8String and checks its tag.
func decodeUTF8(t *testing.T, der []byte) string {
	t.Helper()
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &raw); err != nil || len(rest) != 0 {
		t.Fatalf("unmarshal: %v (rest %d)", err, len(rest))
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagUTF8String {
		t.Fatalf("tag = %d/%d, want UTF8String", raw.Class, raw.Tag)
	}
	return string(raw.Bytes)
}

func TestNewDevice(t *testing.T) {
	tests := []struct {
		keyType string
		check   func(any) bool
		ku      x509.KeyUsage
	}{
		{"", isCurve(elliptic.P256()), x509.KeyUsageDigitalSignature},
		{KeyP256, isCurve(elliptic.P256()), x509.KeyUsageDigitalSignature},
		{KeyP384, isCurve(elliptic.P384()), x509.KeyUsageDigitalSignature},
		{KeyEd25519, func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }, x509.KeyUsageDigitalSignature},
		{KeyRSA2048, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 },
			x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
	}
	for _, tt := range tests {
		t.Run("ok/"+cmpOr(tt.keyType, "default"), func(t *testing.T) {
			o := testOptions()
			o.KeyType = tt.keyType
			der, key, err := NewDevice(o)
			if err != nil {
				t.Fatal(err)
			}
			cert := checkDevice(t, der, o)
			if !tt.check(cert.PublicKey) || !KeyMatches(cert, key) {
				t.Fatalf("public key %T does not fit key type %q or the key", cert.PublicKey, tt.keyType)
			}
			if cert.KeyUsage != tt.ku {
				t.Fatalf("key usage = %v, want %v", cert.KeyUsage, tt.ku)
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isCurve(c elliptic.Curve) func(any) bool {
	return func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == c }
}

// checkDevice parses der and checks everything NewDevice promises.
func checkDevice(t *testing.T, der []byte, o DeviceOptions) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// CheckSignatureFrom(cert) refuses any parent that is not a CA, so a
	// self-signed end-entity certificate is checked with its own key.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if err := cert.CheckSignatureFrom(cert); !errors.As(err, new(x509.ConstraintViolationError)) {
		t.Fatalf("CheckSignatureFrom(self) = %v, want a constraint violation (not a CA)", err)
	}
	if got := networkID(t, cert, DefaultNetworkIDOID()); got != o.NetworkID {
		t.Fatalf("network ID = %q, want %q", got, o.NetworkID)
	}
	if !slices.Equal(cert.OCSPServer, o.OCSPURLs) {
		t.Fatalf("OCSP = %v, want %v", cert.OCSPServer, o.OCSPURLs)
	}
	if cert.Subject.CommonName != o.CommonName || len(cert.URIs) != 1 || cert.URIs[0].String() != o.URI {
		t.Fatalf("subject %v URIs %v", cert.Subject, cert.URIs)
	}
	if cert.IsCA || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}) {
		t.Fatalf("IsCA %v EKU %v", cert.IsCA, cert.ExtKeyUsage)
	}
	if !cert.NotBefore.Equal(o.NotBefore) || !cert.NotAfter.Equal(o.NotBefore.Add(o.Validity)) {
		t.Fatalf("validity %v..%v", cert.NotBefore, cert.NotAfter)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Fatalf("serial %v", cert.SerialNumber)
	}
	return cert
}

// networkID returns the value of the non-critical network-ID extension.
func networkID(t *testing.T, cert *x509.Certificate, oid asn1.ObjectIdentifier) string {
	t.Helper()
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			if e.Critical {
				t.Fatal("network-ID extension is critical")
			}
			return decodeUTF8(t, e.Value)
		}
	}
	t.Fatal("no network-ID extension")
	return ""
}

func TestNewDeviceOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*DeviceOptions)
	}{
		{"fail/no-network-id", func(o *DeviceOptions) { o.NetworkID = "" }},
		{"fail/no-common-name", func(o *DeviceOptions) { o.CommonName = "" }},
		{"fail/unknown-key-type", func(o *DeviceOptions) { o.KeyType = "dsa" }},
		{"fail/relative-uri", func(o *DeviceOptions) { o.URI = "SC-1" }},
		{"fail/negative-validity", func(o *DeviceOptions) { o.Validity = -time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			tt.modify(&o)
			if _, _, err := NewDevice(o); !errors.Is(err, certchain.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestNewDeviceDefaults(t *testing.T) {
	o := DeviceOptions{NetworkID: "n", CommonName: "SC-1", OID: asn1.ObjectIdentifier{1, 2, 3, 4}}
	der, _, err := NewDevice(o)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if got := networkID(t, cert, o.OID); got != "n" {
		t.Fatalf("network ID = %q", got)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != DefaultDeviceValidity {
		t.Fatalf("validity = %v", d)
	}
	if len(cert.URIs) != 0 || len(cert.OCSPServer) != 0 || len(cert.Subject.Organization) != 0 {
		t.Fatalf("unexpected optional fields: %v %v %v", cert.URIs, cert.OCSPServer, cert.Subject)
	}
}

func BenchmarkNewDevice(b *testing.B) {
	for _, kt := range []string{KeyP256, KeyP384, KeyEd25519} {
		b.Run(kt, func(b *testing.B) {
			o := testOptions()
			o.KeyType = kt
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := NewDevice(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
