package acme

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

func init() {
	// cfssl logs every key, CSR and signature at info level.
	cflog.Level = cflog.LevelWarning
}

const (
	testOCSPURL   = "http://ocsp.ca.example.com/"
	testIssuerURL = "http://ca.example.com/issuer.der"
)

// testCA is a CA made by cfssl: certificate and key, PEM.
type testCA struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
	key             crypto.Signer
}

// newTestCA makes a self-signed CA with cfssl's initca, valid for a year
// from five minutes ago. algo is "ecdsa" or "rsa".
func newTestCA(t testing.TB, cn, algo string, size int) *testCA {
	t.Helper()
	certPEM, _, keyPEM, err := initca.New(&csr.CertificateRequest{
		CN:         cn,
		Names:      []csr.Name{{O: "certchain test"}},
		KeyRequest: &csr.KeyRequest{A: algo, S: size},
		CA:         &csr.CAConfig{Expiry: "8760h", Backdate: "5m"},
	})
	if err != nil {
		t.Fatalf("initca %s: %v", cn, err)
	}
	return parseTestCA(t, certPEM, keyPEM)
}

func parseTestCA(t testing.TB, certPEM, keyPEM []byte) *testCA {
	t.Helper()
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{certPEM: certPEM, keyPEM: keyPEM, cert: cert, key: key}
}

// The CAs are made once per test binary.
var (
	caECDSA = sync.OnceValue(func() *testCA { return newTestCA(panicTB{}, "certchain test CA P-256", "ecdsa", 256) })
	caRSA   = sync.OnceValue(func() *testCA { return newTestCA(panicTB{}, "certchain test CA RSA", "rsa", 2048) })
	caOther = sync.OnceValue(func() *testCA { return newTestCA(panicTB{}, "certchain unrelated CA", "ecdsa", 256) })
)

// panicTB is a testing.TB for the sync.OnceValue constructors: Fatal panics.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                           {}
func (panicTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// subCA has parent sign a CA certificate for key with cfssl, with the given
// cfssl usages; it returns the certificate PEM.
func subCA(t *testing.T, parent *testCA, key crypto.Signer, cn string, usages ...string) []byte {
	t.Helper()
	s, err := local.NewSigner(parent.key, parent.cert, signer.DefaultSigAlgo(parent.key), &config.Signing{
		Default: &config.SigningProfile{
			Usage:        usages,
			Expiry:       180 * 24 * time.Hour,
			ExpiryString: "4320h",
			CAConstraint: config.CAConstraint{IsCA: true, MaxPathLenZero: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := csr.Generate(key, &csr.CertificateRequest{CN: cn, CA: &csr.CAConfig{PathLenZero: true}})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := s.Sign(signer.SignRequest{Request: string(csrPEM)})
	if err != nil {
		t.Fatal(err)
	}
	return certPEM
}

func keyPEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// issuerConfig is a valid configuration for ca with the default profiles.
func issuerConfig(ca *testCA) IssuerConfig {
	return IssuerConfig{CertPEM: ca.certPEM, KeyPEM: ca.keyPEM, OCSPURL: testOCSPURL, IssuerURL: testIssuerURL}
}

func newTestIssuer(t testing.TB, cfg IssuerConfig) *Issuer {
	t.Helper()
	iss, err := NewIssuer(cfg)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

// newCSR makes a parsed, signature-checked CSR for key from tmpl.
func newCSR(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("CSR: %v", err)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	return req
}

// testKeys are the subject key types the issuer must handle.
var testKeys = []struct {
	name string
	key  func() crypto.Signer
}{
	{"P-256", keyES256},
	{"P-384", keyES384},
	{"RSA-2048", keyRS2048},
	{"Ed25519", keyEd},
}

var (
	oidDelegationUsage = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 44363, 44}
	oidBasicConstr     = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidTestExt         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// hostileCSR asks for everything the issuer must not copy: a subject,
// other SANs (DNS, IP, email, URI), CA basic constraints, keyCertSign, a
// DelegationUsage extension (which cfssl copies unless told not to) and a
// private extension.
func hostileCSR(t testing.TB, key crypto.Signer) *x509.CertificateRequest {
	t.Helper()
	bc, _ := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true})
	ku, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x06}, BitLength: 7}) // keyCertSign, cRLSign
	return newCSR(t, key, &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName:         "evil.example",
			Organization:       []string{"Evil Corp"},
			OrganizationalUnit: []string{"Ops"},
			Country:            []string{"ZZ"},
			SerialNumber:       "42",
		},
		DNSNames:       []string{"evil.example", "bank.example"},
		IPAddresses:    []net.IP{net.ParseIP("198.51.100.66")},
		EmailAddresses: []string{"evil@evil.example"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "evil.example", Path: "/x"}},
		ExtraExtensions: []pkix.Extension{
			{Id: oidBasicConstr, Critical: true, Value: bc},
			{Id: oidKeyUsage, Critical: true, Value: ku},
			{Id: oidDelegationUsage, Value: []byte{0x05, 0x00}},
			{Id: oidTestExt, Value: []byte{0x05, 0x00}},
		},
	})
}

var testIdents = []Identifier{
	{Type: IdentifierDNS, Value: "www.example.test"},
	{Type: IdentifierIP, Value: "192.0.2.1"},
	{Type: IdentifierDNS, Value: "*.example.test"},
	{Type: IdentifierIP, Value: "2001:db8::1"},
}

// allowedLeafExts are the extensions an issued certificate may carry.
var allowedLeafExts = map[string]bool{
	"2.5.29.15":         true, // key usage
	"2.5.29.37":         true, // extended key usage
	"2.5.29.19":         true, // basic constraints
	"2.5.29.14":         true, // subject key identifier
	"2.5.29.35":         true, // authority key identifier
	"2.5.29.17":         true, // subject alternative name
	"2.5.29.32":         true, // certificate policies
	"1.3.6.1.5.5.7.1.1": true, // authority information access
}

func TestIssuerIssue(t *testing.T) {
	now := time.Now()
	for _, ca := range []struct {
		name string
		ca   func() *testCA
	}{{"ECDSA-CA", caECDSA}, {"RSA-CA", caRSA}} {
		iss := newTestIssuer(t, issuerConfig(ca.ca()))
		roots := x509.NewCertPool()
		roots.AddCert(ca.ca().cert)
		serials := map[string]bool{}
		for name, prof := range DefaultProfiles() {
			wantEKU := map[string][]x509.ExtKeyUsage{
				ProfileTLSServer:  {x509.ExtKeyUsageServerAuth},
				ProfileShortLived: {x509.ExtKeyUsageServerAuth},
				ProfileTLSClient:  {x509.ExtKeyUsageClientAuth},
			}[name]
			for _, k := range testKeys {
				t.Run(ca.name+"/"+name+"/"+k.name, func(t *testing.T) {
					der, err := iss.Issue(hostileCSR(t, k.key()), testIdents, name, now)
					if err != nil {
						t.Fatalf("Issue: %v", err)
					}
					cert, err := x509.ParseCertificate(der)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(cert.DNSNames, []string{"www.example.test", "*.example.test"}) {
						t.Errorf("DNS names %q", cert.DNSNames)
					}
					if want := []net.IP{net.ParseIP("192.0.2.1").To4(), net.ParseIP("2001:db8::1")}; !slices.EqualFunc(cert.IPAddresses, want, net.IP.Equal) {
						t.Errorf("IP addresses %v, want %v", cert.IPAddresses, want)
					}
					if len(cert.EmailAddresses) != 0 || len(cert.URIs) != 0 {
						t.Errorf("CSR SANs copied: %v %v", cert.EmailAddresses, cert.URIs)
					}
					if len(cert.Subject.Names) != 1 || cert.Subject.CommonName != "www.example.test" {
						t.Errorf("subject %v (%d attributes), want CN=www.example.test only", cert.Subject, len(cert.Subject.Names))
					}
					wantNB := now.UTC().Truncate(time.Second).Add(-time.Minute)
					if !cert.NotBefore.Equal(wantNB) || cert.NotAfter.Sub(cert.NotBefore) != prof.Validity {
						t.Errorf("validity %v to %v, want %v for %v", cert.NotBefore, cert.NotAfter, wantNB, prof.Validity)
					}
					if !slices.Equal(cert.OCSPServer, []string{testOCSPURL}) || !slices.Equal(cert.IssuingCertificateURL, []string{testIssuerURL}) {
						t.Errorf("AIA OCSP %q caIssuers %q", cert.OCSPServer, cert.IssuingCertificateURL)
					}
					wantKU := x509.KeyUsageDigitalSignature
					if _, ok := k.key().Public().(*rsa.PublicKey); ok && name != ProfileTLSClient {
						wantKU |= x509.KeyUsageKeyEncipherment
					}
					if cert.KeyUsage != wantKU {
						t.Errorf("key usage %09b, want %09b", int(cert.KeyUsage), int(wantKU))
					}
					if !slices.Equal(cert.ExtKeyUsage, wantEKU) || len(cert.UnknownExtKeyUsage) != 0 {
						t.Errorf("extended key usage %v %v, want %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage, wantEKU)
					}
					var policies []string
					for _, p := range cert.PolicyIdentifiers {
						policies = append(policies, p.String())
					}
					if !slices.Equal(policies, prof.Policies) {
						t.Errorf("policies %q, want %q", policies, prof.Policies)
					}
					if !cert.BasicConstraintsValid || cert.IsCA {
						t.Errorf("basic constraints valid %v cA %v", cert.BasicConstraintsValid, cert.IsCA)
					}
					if len(cert.AuthorityKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, ca.ca().cert.SubjectKeyId) {
						t.Errorf("authority key identifier %x, want %x", cert.AuthorityKeyId, ca.ca().cert.SubjectKeyId)
					}
					if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 || cert.SerialNumber.BitLen() > 159 {
						t.Errorf("serial %x", cert.SerialNumber)
					}
					if serials[cert.SerialNumber.String()] {
						t.Errorf("serial %x repeated", cert.SerialNumber)
					}
					serials[cert.SerialNumber.String()] = true
					if cert.SignatureAlgorithm != signer.DefaultSigAlgo(ca.ca().key) {
						t.Errorf("signature algorithm %v", cert.SignatureAlgorithm)
					}
					for _, ext := range cert.Extensions {
						if !allowedLeafExts[ext.Id.String()] {
							t.Errorf("unexpected extension %v", ext.Id)
						}
					}
					for _, host := range []string{"www.example.test", "a.example.test", "192.0.2.1", "2001:db8::1"} {
						if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: wantEKU, CurrentTime: now}); err != nil {
							t.Errorf("verify for %s: %v", host, err)
						}
					}
					if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "evil.example", CurrentTime: now}); err == nil {
						t.Error("certificate valid for the CSR's evil.example")
					}
				})
			}
		}
	}
}

// subjectCSR asks for a subject and a DelegationUsage extension, both of
// which cfssl copies unless told not to, without the CA basic constraints
// that make cfssl refuse the CSR outright.
func subjectCSR(t testing.TB) *x509.CertificateRequest {
	return newCSR(t, keyES256(), &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "evil.example", Organization: []string{"Evil Corp"}, Locality: []string{"Nowhere"}},
		DNSNames:        []string{"evil.example"},
		ExtraExtensions: []pkix.Extension{{Id: oidDelegationUsage, Value: []byte{0x05, 0x00}}},
	})
}

func TestIssuerSubject(t *testing.T) {
	iss := newTestIssuer(t, issuerConfig(caECDSA()))
	long := strings.Repeat("a", 50) + "." + strings.Repeat("b", 20) + ".test" // 76 characters
	for _, tc := range []struct {
		name   string
		idents []Identifier
		cn     string
	}{
		{"dns", []Identifier{{IdentifierDNS, "Host.Example.TEST"}}, "host.example.test"},
		{"ip first", []Identifier{{IdentifierIP, "192.0.2.7"}, {IdentifierDNS, "b.example.test"}, {IdentifierDNS, "a.example.test"}}, "b.example.test"},
		{"ip only", []Identifier{{IdentifierIP, "192.0.2.7"}}, ""},
		{"first dns too long", []Identifier{{IdentifierDNS, long}, {IdentifierDNS, "short.example.test"}}, ""},
		{"64 characters", []Identifier{{IdentifierDNS, strings.Repeat("c", 59) + ".test"}}, strings.Repeat("c", 59) + ".test"},
		{"wildcard", []Identifier{{IdentifierDNS, "*.example.test"}}, "*.example.test"},
		{"mapped ip", []Identifier{{IdentifierIP, "::ffff:192.0.2.9"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := iss.Issue(subjectCSR(t), tc.idents, "", time.Now())
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			cert := must(x509.ParseCertificate(der))
			if cert.Subject.CommonName != tc.cn {
				t.Errorf("CN %q, want %q", cert.Subject.CommonName, tc.cn)
			}
			wantNames := 1
			if tc.cn == "" {
				wantNames = 0
			}
			if len(cert.Subject.Names) != wantNames {
				t.Errorf("subject %v", cert.Subject)
			}
			var san pkix.Extension
			for _, ext := range cert.Extensions {
				if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
					san = ext
				}
			}
			for _, ext := range cert.Extensions {
				if !allowedLeafExts[ext.Id.String()] {
					t.Errorf("unexpected extension %v", ext.Id)
				}
			}
			if san.Critical != (tc.cn == "") { // RFC 5280 §4.2.1.6: critical when the subject is empty
				t.Errorf("SAN critical %v with subject %q", san.Critical, cert.Subject)
			}
			n := 0
			for _, id := range tc.idents {
				if id.Type == IdentifierIP {
					ip := net.ParseIP(id.Value)
					if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
						t.Errorf("IP %s missing from %v", ip, cert.IPAddresses)
					}
				} else if !slices.Contains(cert.DNSNames, strings.ToLower(id.Value)) {
					t.Errorf("DNS name %s missing from %q", id.Value, cert.DNSNames)
				}
				n++
			}
			if len(cert.DNSNames)+len(cert.IPAddresses) != n {
				t.Errorf("SANs %q %v, want %v", cert.DNSNames, cert.IPAddresses, tc.idents)
			}
		})
	}
}

func TestIssuerIssueErrors(t *testing.T) {
	ca := caECDSA()
	iss := newTestIssuer(t, issuerConfig(ca))
	now := time.Now()
	good := []Identifier{{IdentifierDNS, "example.test"}}
	p256 := newCSR(t, keyES256(), nil)
	for _, tc := range []struct {
		name    string
		csr     *x509.CertificateRequest
		idents  []Identifier
		profile string
		now     time.Time
		want    error // nil: any error
	}{
		{"unknown profile", p256, good, "nosuch", now, ErrInvalidProfile},
		{"profile case", p256, good, "TLSServer", now, ErrInvalidProfile},
		{"no csr", nil, good, "", now, ErrBadCSR},
		{"RSA-1024", newCSR(t, keyRS1024(), nil), good, "", now, ErrBadCSR},
		{"P-521", newCSR(t, keyES521(), nil), good, "", now, ErrBadCSR},
		{"CA key", newCSR(t, ca.key, nil), good, "", now, ErrBadCSR},
		{"no identifiers", p256, nil, "", now, ErrMalformed},
		{"email identifier", p256, []Identifier{{"email", "a@example.test"}}, "", now, ErrUnsupportedIdentifier},
		{"bad dns", p256, []Identifier{{IdentifierDNS, "a..example.test"}}, "", now, ErrMalformed},
		{"dns is an ip", p256, []Identifier{{IdentifierDNS, "192.0.2.1"}}, "", now, ErrMalformed},
		{"url as dns", p256, []Identifier{{IdentifierDNS, "http://example.test/"}}, "", now, ErrMalformed},
		{"email as dns", p256, []Identifier{{IdentifierDNS, "a@example.test"}}, "", now, ErrMalformed},
		{"bad ip", p256, []Identifier{{IdentifierIP, "192.0.2.256"}}, "", now, ErrMalformed},
		{"ip zone", p256, []Identifier{{IdentifierIP, "fe80::1%eth0"}}, "", now, ErrMalformed},
		{"duplicate", p256, []Identifier{{IdentifierDNS, "example.test"}, {IdentifierDNS, "EXAMPLE.test"}}, "", now, ErrMalformed},
		{"duplicate ip", p256, []Identifier{{IdentifierIP, "192.0.2.1"}, {IdentifierIP, "::ffff:192.0.2.1"}}, "", now, ErrMalformed},
		{"outlives CA", p256, good, "", ca.cert.NotAfter.Add(-30 * 24 * time.Hour), nil},
		{"before CA", p256, good, "", ca.cert.NotBefore.Add(-time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := iss.Issue(tc.csr, tc.idents, tc.profile, tc.now)
			if err == nil {
				t.Fatalf("issued %d bytes", len(der))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	// Short-lived still fits where tlsserver does not.
	if _, err := iss.Issue(p256, good, ProfileShortLived, ca.cert.NotAfter.Add(-30*24*time.Hour)); err != nil {
		t.Errorf("short-lived near the CA's end: %v", err)
	}
}

func TestIssuerProfiles(t *testing.T) {
	iss := newTestIssuer(t, issuerConfig(caECDSA()))
	if got := iss.DefaultProfile(); got != ProfileTLSServer {
		t.Errorf("default %q", got)
	}
	descs := iss.Profiles()
	if len(descs) != 3 {
		t.Errorf("profiles %v", descs)
	}
	for name, p := range DefaultProfiles() {
		if descs[name] != p.Description || p.Description == "" {
			t.Errorf("%s: description %q", name, descs[name])
		}
		got, ok := iss.Profile(name)
		if !ok || got.Validity != p.Validity || !slices.Equal(got.Usages, p.Usages) || !slices.Equal(got.Policies, p.Policies) {
			t.Errorf("Profile(%q) = %+v, %v", name, got, ok)
		}
	}
	if _, ok := iss.Profile("nosuch"); ok {
		t.Error("Profile(nosuch) found")
	}
	// Callers get copies.
	p, _ := iss.Profile(ProfileTLSServer)
	p.Usages[1] = "client auth"
	p.Policies[0] = "1.2.3"
	descs[ProfileTLSServer] = "changed"
	if q, _ := iss.Profile(ProfileTLSServer); q.Usages[1] != "server auth" || q.Policies[0] != PolicyDomainValidated || iss.Profiles()[ProfileTLSServer] == "changed" {
		t.Error("issuer state reachable through its results")
	}

	// A configured set, with its own default; the config's map is copied.
	cfg := issuerConfig(caECDSA())
	cfg.Profiles = map[string]Profile{
		"peer":   {Description: "peer", Validity: 48 * time.Hour, Usages: []string{"server auth", "client auth", "key encipherment"}, Policies: []string{"1.3.6.1.4.1.99999.1.2"}},
		"web":    {Validity: 24 * time.Hour, Usages: []string{"server auth"}},
		"client": {Validity: 24 * time.Hour, Usages: []string{"client auth", "key encipherment"}},
	}
	cfg.DefaultProfile = "peer"
	cfg.MaxValidity = 48 * time.Hour // a profile of exactly the maximum is fine
	iss = newTestIssuer(t, cfg)
	cfg.Profiles["peer"].Usages[0] = "code signing"
	der, err := iss.Issue(newCSR(t, keyEd(), nil), []Identifier{{IdentifierDNS, "peer.example.test"}}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := must(x509.ParseCertificate(der))
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) ||
		cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.NotAfter.Sub(cert.NotBefore) != 48*time.Hour ||
		len(cert.PolicyIdentifiers) != 1 || cert.PolicyIdentifiers[0].String() != "1.3.6.1.4.1.99999.1.2" {
		t.Errorf("peer certificate: EKU %v KU %09b validity %v policies %v", cert.ExtKeyUsage, int(cert.KeyUsage), cert.NotAfter.Sub(cert.NotBefore), cert.PolicyIdentifiers)
	}
	// An RSA key gets keyEncipherment with server auth, not without.
	for prof, want := range map[string]x509.KeyUsage{
		"peer":   x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		"client": x509.KeyUsageDigitalSignature,
	} {
		der, err := iss.Issue(newCSR(t, keyRS2048(), nil), []Identifier{{IdentifierDNS, "peer.example.test"}}, prof, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := must(x509.ParseCertificate(der)).KeyUsage; got != want {
			t.Errorf("%s, RSA: key usage %09b, want %09b", prof, int(got), int(want))
		}
	}
	if _, err := iss.Issue(newCSR(t, keyES256(), nil), []Identifier{{IdentifierDNS, "a.example.test"}}, ProfileTLSServer, time.Now()); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("built-in profile on a configured issuer: %v", err)
	}
}

func TestIssuerChain(t *testing.T) {
	root := caECDSA()
	interKey := keyES384()
	interPEM := subCA(t, root, interKey, "certchain test intermediate", "cert sign", "crl sign")
	cfg := IssuerConfig{CertPEM: interPEM, KeyPEM: keyPEM(t, interKey), ChainPEM: root.certPEM, OCSPURL: testOCSPURL}
	iss := newTestIssuer(t, cfg)
	chain := iss.Chain()
	inter := must(helpers.ParseCertificatePEM(interPEM))
	if len(chain) != 2 || !bytes.Equal(chain[0], inter.Raw) || !bytes.Equal(chain[1], root.cert.Raw) {
		t.Fatalf("chain of %d certificates, want intermediate then root", len(chain))
	}
	if !bytes.Equal(iss.Certificate().Raw, inter.Raw) {
		t.Error("Certificate is not the intermediate")
	}
	chain[0][0] ^= 0xff
	if !bytes.Equal(iss.Chain()[0], inter.Raw) {
		t.Error("Chain shares its buffers")
	}

	der, err := iss.Issue(newCSR(t, keyRS2048(), nil), []Identifier{{IdentifierDNS, "leaf.example.test"}}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf := must(x509.ParseCertificate(der))
	if len(leaf.IssuingCertificateURL) != 0 {
		t.Errorf("caIssuers %q without an IssuerURL", leaf.IssuingCertificateURL)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.cert)
	for _, c := range iss.Chain()[:1] {
		inters.AddCert(must(x509.ParseCertificate(c)))
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "leaf.example.test"}); err != nil {
		t.Errorf("verify through the intermediate: %v", err)
	}

	if got := newTestIssuer(t, issuerConfig(root)).Chain(); len(got) != 1 || !bytes.Equal(got[0], root.cert.Raw) {
		t.Error("chain without ChainPEM is not just the issuer")
	}
}

func TestNewIssuerRefuses(t *testing.T) {
	ca := caECDSA()
	leafKey := keyES256()
	leafDER, err := newTestIssuer(t, issuerConfig(ca)).Issue(newCSR(t, leafKey, nil), []Identifier{{IdentifierDNS, "leaf.example.test"}}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	noCertSignKey := keyES384()
	noCertSign := subCA(t, ca, noCertSignKey, "CA without keyCertSign", "digital signature", "crl sign")

	for _, tc := range []struct {
		name string
		edit func(*IssuerConfig)
	}{
		{"no certificate", func(c *IssuerConfig) { c.CertPEM = nil }},
		{"garbage certificate", func(c *IssuerConfig) {
			c.CertPEM = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}},
		{"not a CA", func(c *IssuerConfig) { c.CertPEM, c.KeyPEM = leafPEM, keyPEM(t, leafKey) }},
		{"no keyCertSign", func(c *IssuerConfig) { c.CertPEM, c.KeyPEM = noCertSign, keyPEM(t, noCertSignKey) }},
		{"no key", func(c *IssuerConfig) { c.KeyPEM = nil }},
		{"mismatched key", func(c *IssuerConfig) { c.KeyPEM = caOther().keyPEM }},
		{"mismatched key type", func(c *IssuerConfig) { c.KeyPEM = caRSA().keyPEM }},
		{"chain not above issuer", func(c *IssuerConfig) { c.ChainPEM = caOther().certPEM }},
		{"chain garbage", func(c *IssuerConfig) { c.ChainPEM = []byte("not PEM") }},
		{"no OCSP URL", func(c *IssuerConfig) { c.OCSPURL = "" }},
		{"relative OCSP URL", func(c *IssuerConfig) { c.OCSPURL = "/ocsp" }},
		{"ldap OCSP URL", func(c *IssuerConfig) { c.OCSPURL = "ldap://ocsp.example.test/" }},
		{"bad issuer URL", func(c *IssuerConfig) { c.IssuerURL = "ca.example.test/issuer" }},
		{"profile over MaxValidity", func(c *IssuerConfig) { c.MaxValidity = 30 * 24 * time.Hour }},
		{"unknown default", func(c *IssuerConfig) { c.DefaultProfile = "nosuch" }},
		{"no tlsserver for the default", func(c *IssuerConfig) {
			c.Profiles = map[string]Profile{"web": {Validity: time.Hour, Usages: []string{"server auth"}}}
		}},
		{"empty profiles", func(c *IssuerConfig) { c.Profiles = map[string]Profile{} }},
		{"invalid profile", func(c *IssuerConfig) {
			c.Profiles = DefaultProfiles()
			c.Profiles["bad"] = Profile{Validity: time.Hour, Usages: []string{"cert sign", "server auth"}}
		}},
		{"zero validity", func(c *IssuerConfig) {
			c.Profiles = map[string]Profile{ProfileTLSServer: {Usages: []string{"server auth"}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := issuerConfig(ca)
			tc.edit(&cfg)
			if iss, err := NewIssuer(cfg); err == nil {
				t.Fatalf("NewIssuer accepted it: %v", iss.Profiles())
			}
		})
	}
	// The same with a correct chain and the RSA CA is fine.
	cfg := issuerConfig(caRSA())
	cfg.MaxValidity = 90 * 24 * time.Hour
	newTestIssuer(t, cfg)
}

func TestLoadProfiles(t *testing.T) {
	const full = `{
	  "default": "peer",
	  "profiles": {
	    "peer": {"description": "IPsec and 5G peers", "validity": "720h", "usages": ["digital signature", "server auth", "client auth"], "policies": ["1.3.6.1.4.1.99999.1", "2.23.140.1.2.1"]},
	    "web-short": {"validity": "168h", "usages": ["server auth"]}
	  }
	}`
	profiles, def, err := LoadProfiles([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Profile{
		"peer":      {Description: "IPsec and 5G peers", Validity: 720 * time.Hour, Usages: []string{"digital signature", "server auth", "client auth"}, Policies: []string{"1.3.6.1.4.1.99999.1", "2.23.140.1.2.1"}},
		"web-short": {Validity: 168 * time.Hour, Usages: []string{"server auth"}},
	}
	if def != "peer" || len(profiles) != len(want) {
		t.Fatalf("default %q, profiles %+v", def, profiles)
	}
	for name, w := range want {
		g := profiles[name]
		if g.Description != w.Description || g.Validity != w.Validity || !slices.Equal(g.Usages, w.Usages) || !slices.Equal(g.Policies, w.Policies) {
			t.Errorf("%s: %+v, want %+v", name, g, w)
		}
	}
	cfg := issuerConfig(caECDSA())
	cfg.Profiles, cfg.DefaultProfile = profiles, def
	newTestIssuer(t, cfg)

	_, def, err = LoadProfiles([]byte(`{"profiles": {"tlsserver": {"validity": "2160h", "usages": ["server auth"]}}}`))
	if err != nil || def != ProfileTLSServer {
		t.Errorf("default omitted: %q, %v", def, err)
	}

	bad := map[string]string{
		"not JSON":           `{"profiles":`,
		"trailing data":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"]}}} {}`,
		"unknown member":     `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "expiry": "1h"}}}`,
		"unknown top":        `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"]}}, "signing": {}}`,
		"no profiles":        `{"default": "x", "profiles": {}}`,
		"default unknown":    `{"default": "x", "profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"]}}}`,
		"default omitted":    `{"profiles": {"web": {"validity": "1h", "usages": ["server auth"]}}}`,
		"no validity":        `{"profiles": {"tlsserver": {"usages": ["server auth"]}}}`,
		"days":               `{"profiles": {"tlsserver": {"validity": "90d", "usages": ["server auth"]}}}`,
		"validity number":    `{"profiles": {"tlsserver": {"validity": 3600, "usages": ["server auth"]}}}`,
		"negative":           `{"profiles": {"tlsserver": {"validity": "-1h", "usages": ["server auth"]}}}`,
		"zero":               `{"profiles": {"tlsserver": {"validity": "0s", "usages": ["server auth"]}}}`,
		"under the backdate": `{"profiles": {"tlsserver": {"validity": "59s", "usages": ["server auth"]}}}`,
		"unknown usage":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server-auth"]}}}`,
		"no usages":          `{"profiles": {"tlsserver": {"validity": "1h"}}}`,
		"no EKU":             `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["digital signature", "key encipherment"]}}}`,
		"cert sign":          `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth", "cert sign"]}}}`,
		"key agreement":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth", "key agreement"]}}}`,
		"any":                `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["any"]}}}`,
		"ocsp signing":       `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth", "ocsp signing"]}}}`,
		"OID letters":        `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["2.23.x.1"]}}}`,
		"OID one arc":        `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["2"]}}}`,
		"OID first arc":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["3.1"]}}}`,
		"OID second arc":     `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["1.40"]}}}`,
		"OID leading zero":   `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["2.023.140"]}}}`,
		"OID empty arc":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["2..1"]}}}`,
		"OID sign":           `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["2.+23"]}}}`,
		"OID duplicate":      `{"profiles": {"tlsserver": {"validity": "1h", "usages": ["server auth"], "policies": ["1.2.3", "1.2.3"]}}}`,
		"bad name":           `{"default": "tls server", "profiles": {"tls server": {"validity": "1h", "usages": ["server auth"]}}}`,
		"empty name":         `{"default": "", "profiles": {"": {"validity": "1h", "usages": ["server auth"]}}}`,
	}
	for name, doc := range bad {
		t.Run(name, func(t *testing.T) {
			if p, d, err := LoadProfiles([]byte(doc)); err == nil {
				t.Errorf("accepted: %q %+v", d, p)
			}
		})
	}
}

func TestDefaultProfilesValid(t *testing.T) {
	profiles := DefaultProfiles()
	if err := checkProfiles(profiles, ProfileTLSServer); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{ProfileTLSServer: 90 * 24 * time.Hour, ProfileShortLived: 7 * 24 * time.Hour, ProfileTLSClient: 90 * 24 * time.Hour} {
		if profiles[name].Validity != want {
			t.Errorf("%s: validity %v, want %v", name, profiles[name].Validity, want)
		}
	}
	// Each call returns fresh slices.
	profiles[ProfileTLSServer].Usages[0] = "x"
	if DefaultProfiles()[ProfileTLSServer].Usages[0] == "x" {
		t.Error("DefaultProfiles shares its slices")
	}
}

// TestIssuerSerialEntropy checks serial numbers look random: across many
// certificates, issued concurrently (the Issuer is safe for that), every
// one of the 159 bits below the sign takes both values.
func TestIssuerSerialEntropy(t *testing.T) {
	iss := newTestIssuer(t, issuerConfig(caECDSA()))
	req := newCSR(t, keyES256(), nil)
	serials := make([]*big.Int, 64)
	var wg sync.WaitGroup
	for n := range serials {
		wg.Go(func() {
			der, err := iss.Issue(req, []Identifier{{IdentifierDNS, "example.test"}}, "", time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			serials[n] = must(x509.ParseCertificate(der)).SerialNumber
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	all := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	or, and := new(big.Int), new(big.Int).Set(all)
	for _, s := range serials {
		or.Or(or, s)
		and.And(and, s)
	}
	if or.Cmp(all) != 0 || and.Sign() != 0 {
		t.Errorf("serial bits: or %x and %x", or, and)
	}
}
