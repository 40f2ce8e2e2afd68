package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/certchain/certchain/certchain"
)

// TestSuccessor: a successor names the same device (subject bytes, SANs),
// carries the same network ID and OCSP URLs, and has a new key and serial.
func TestSuccessor(t *testing.T) {
	for _, kt := range []string{KeyP256, KeyP384, KeyEd25519, KeyRSA2048} {
		t.Run("ok/"+kt, func(t *testing.T) {
			o := testOptions()
			o.KeyType = kt
			oldDER, _, err := NewDevice(o)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := x509.ParseCertificate(oldDER)
			later := testNow.Add(time.Hour)
			der, key, err := Successor(old, SuccessorOptions{NotBefore: later})
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			checkSuccessor(t, old, c)
			if !KeyMatches(c, key) || bytes.Equal(c.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo) {
				t.Fatal("successor key: not new, or not the certificate's")
			}
			if c.PublicKeyAlgorithm != old.PublicKeyAlgorithm || !c.NotBefore.Equal(later) || c.NotAfter.Sub(c.NotBefore) != old.NotAfter.Sub(old.NotBefore) {
				t.Fatalf("key %v, validity %v..%v", c.PublicKeyAlgorithm, c.NotBefore, c.NotAfter)
			}
		})
	}
	t.Run("ok/overrides", func(t *testing.T) {
		oldDER, _, err := NewDevice(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		old, _ := x509.ParseCertificate(oldDER)
		der, _, err := Successor(old, SuccessorOptions{KeyType: KeyEd25519, Validity: time.Hour, OCSPURLs: []string{"http://ocsp.test/"}})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		if c.PublicKeyAlgorithm != x509.Ed25519 || c.NotAfter.Sub(c.NotBefore) != time.Hour || !reflect.DeepEqual(c.OCSPServer, []string{"http://ocsp.test/"}) {
			t.Fatalf("overrides not applied: %v %v %v", c.PublicKeyAlgorithm, c.NotAfter.Sub(c.NotBefore), c.OCSPServer)
		}
	})
	t.Run("fail/ca-signed", func(t *testing.T) {
		oldDER, _, err := NewDevice(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		old, _ := x509.ParseCertificate(oldDER)
		old.Signature = append([]byte(nil), old.Signature...)
		old.Signature[len(old.Signature)-1] ^= 1 // no longer verifies with its own key
		if _, _, err := Successor(old, SuccessorOptions{}); !errors.Is(err, certchain.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	})
}

func checkSuccessor(t *testing.T, old, c *x509.Certificate) {
	t.Helper()
	if !bytes.Equal(c.RawSubject, old.RawSubject) || !bytes.Equal(c.RawIssuer, old.RawSubject) {
		t.Fatalf("subject %s issuer %s, want %s", c.Subject, c.Issuer, old.Subject)
	}
	if !reflect.DeepEqual(c.URIs, old.URIs) || !reflect.DeepEqual(c.OCSPServer, old.OCSPServer) || !reflect.DeepEqual(c.ExtKeyUsage, old.ExtKeyUsage) {
		t.Fatalf("SAN %v AIA %v EKU %v, want %v %v %v", c.URIs, c.OCSPServer, c.ExtKeyUsage, old.URIs, old.OCSPServer, old.ExtKeyUsage)
	}
	if c.SerialNumber.Cmp(old.SerialNumber) == 0 || !selfSigned(c) {
		t.Fatal("same serial, or not self-signed")
	}
	oid := DefaultNetworkIDOID()
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) && decodeUTF8(t, e.Value) == "certchain-test" {
			return
		}
	}
	t.Fatal("successor lacks the network-ID extension")
}
