package acme

import (
	"crypto/ed25519"
	"maps"
	"slices"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// zlintSources are the lint sources run on every issued certificate: the
// RFCs, the CA/Browser Forum TLS Baseline Requirements (which zlint itself
// finds not applicable to a certificate without serverAuth, such as
// tlsclient's), the root programs' policies and zlint's community lints.
// Left out: code signing, S/MIME, EV and ETSI requirements, which do not
// concern what this issuer makes, and RFC 6962, as it does no certificate
// transparency.
var zlintSources = lint.SourceList{
	lint.RFC5280, lint.RFC3279, lint.RFC5480, lint.RFC5891, lint.RFC8813,
	lint.CABFBaselineRequirements, lint.MozillaRootStorePolicy, lint.AppleRootStorePolicy,
	lint.Community,
}

// zlintExcluded are the lints never run, each with why.
var zlintExcluded = map[string]string{
	// BR 7.1.2.7.1 (since SC62): a subscriber commonName is NOT
	// RECOMMENDED, only allowed. The issuer puts the first DNS name there
	// on purpose, for the peers (IPsec, 5G network functions, older TLS
	// stacks) that still match or log the commonName.
	"w_subject_common_name_included": "CN kept for peers that still read it",
	// BR 7.1.2.7.6: subjectKeyIdentifier is NOT RECOMMENDED in subscriber
	// certificates, while RFC 5280 §4.2.1.2 says end-entity certificates
	// SHOULD carry it. cfssl's signer.FillTemplate always adds it, with no
	// setting to turn it off, and it harms nothing.
	"w_ext_subject_key_identifier_not_recommended_subscriber": "cfssl always adds the SKI; RFC 5280 recommends it",
}

// zlintExcludedEd25519 are left out for certificates of Ed25519 keys.
var zlintExcludedEd25519 = map[string]string{
	// BR 7.1.3.1 allows only RSA and ECDSA subject keys, so any other
	// algorithm identifier is "improperly encoded". certchain's CA is a
	// private consortium CA, not publicly trusted, and issues for Ed25519
	// keys (RFC 8410), which its peers support.
	"e_algorithm_identifier_improper_encoding": "BR allows no Ed25519; the consortium CA does",
}

// zlintExcludedInternal are left out for certificates whose identifiers
// are internal names and reserved addresses. Whether those may be issued
// for is the order policy's decision, not the issuer's; a publicly-trusted
// CA must refuse them (BR 4.2.2, 7.1.2.7.12), a consortium CA serving
// private networks issues them.
var zlintExcludedInternal = map[string]string{
	"e_dnsname_not_valid_tld":        "internal names (.test) are for the identifier policy",
	"e_ext_san_contains_reserved_ip": "reserved and private addresses are for the identifier policy",
}

// zlintIdents are publicly resolvable names and public addresses (never
// contacted), so that nothing but the issuer's own work is linted.
var zlintIdents = []Identifier{
	{Type: IdentifierDNS, Value: "www.example.com"},
	{Type: IdentifierIP, Value: "1.1.1.1"},
	{Type: IdentifierDNS, Value: "*.example.com"},
	{Type: IdentifierIP, Value: "2606:4700:4700::1111"},
}

func zlintRegistry(t *testing.T) lint.Registry {
	t.Helper()
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{
		IncludeSources: zlintSources,
		ExcludeNames:   slices.Sorted(maps.Keys(zlintExcluded)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{zlintExcluded, zlintExcludedEd25519, zlintExcludedInternal} {
		for name := range m {
			if lint.GlobalRegistry().CertificateLints().ByName(name) == nil {
				t.Errorf("excluded lint %s does not exist", name)
			}
		}
	}
	if n := len(reg.Names()); n < 200 {
		t.Fatalf("only %d lints selected", n)
	}
	return reg
}

// TestZlintIssued lints what the issuer makes, under every default
// profile, for every key type, from an ECDSA and an RSA CA, for public and
// for internal identifiers, and fails on any warning, error or fatal
// result that is not excluded above.
func TestZlintIssued(t *testing.T) {
	reg := zlintRegistry(t)
	now := time.Now()
	for _, ca := range []struct {
		name string
		ca   func() *testCA
	}{{"ECDSA-CA", caECDSA}, {"RSA-CA", caRSA}} {
		iss := newTestIssuer(t, issuerConfig(ca.ca()))
		for _, profile := range slices.Sorted(maps.Keys(DefaultProfiles())) {
			for _, k := range testKeys {
				for _, ids := range []struct {
					name   string
					idents []Identifier
				}{{"public", zlintIdents}, {"internal", testIdents}} {
					t.Run(ca.name+"/"+profile+"/"+k.name+"/"+ids.name, func(t *testing.T) {
						der, err := iss.Issue(hostileCSR(t, k.key()), ids.idents, profile, now)
						if err != nil {
							t.Fatalf("Issue: %v", err)
						}
						cert, err := zx509.ParseCertificate(der)
						if err != nil {
							t.Fatalf("zcrypto parse: %v", err)
						}
						ignore := map[string]string{}
						if _, ok := k.key().Public().(ed25519.PublicKey); ok {
							maps.Copy(ignore, zlintExcludedEd25519)
						}
						if ids.name == "internal" {
							maps.Copy(ignore, zlintExcludedInternal)
						}
						res := zlint.LintCertificateEx(cert, reg)
						for _, name := range slices.Sorted(maps.Keys(res.Results)) {
							r := res.Results[name]
							if _, ok := ignore[name]; r.Status >= lint.Warn && !ok {
								t.Errorf("%s: %s: %s", name, r.Status, r.Details)
							}
						}
					})
				}
			}
		}
	}
}
