package acme

import (
	"crypto/x509"
	"testing"
	"time"
)

// BenchmarkIssuerIssue signs one certificate through cfssl as finalize
// does, beside the bare x509.CreateCertificate of the same certificate, so
// the cost of going through cfssl's signer is seen as a ratio.
func BenchmarkIssuerIssue(b *testing.B) {
	ca := newTestCA(b, "bench CA", "ecdsa", 256)
	iss := newTestIssuer(b, issuerConfig(ca))
	csr := newCSR(b, keyES256(), &x509.CertificateRequest{DNSNames: []string{"svc.example.test"}})
	idents := []Identifier{{IdentifierDNS, "svc.example.test"}}
	b.Run("cfssl", func(b *testing.B) {
		for b.Loop() {
			if _, err := iss.Issue(csr, idents, "", time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	der, err := iss.Issue(csr, idents, "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	tmpl, _ := x509.ParseCertificate(der)
	b.Run("bare-x509", func(b *testing.B) {
		for b.Loop() {
			if _, err := x509.CreateCertificate(nil, tmpl, ca.cert, csr.PublicKey, ca.key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
