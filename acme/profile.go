package acme

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"
)

// Names of the built-in profiles (DefaultProfiles).
const (
	ProfileTLSServer  = "tlsserver"
	ProfileShortLived = "shortlived"
	ProfileTLSClient  = "tlsclient"
)

// PolicyDomainValidated is the CA/Browser Forum's domain-validated
// certificate policy (2.23.140.1.2.1), which the built-in TLS server
// profiles assert: an ACME order's identifiers are validated by control of
// the domain or address.
const PolicyDomainValidated = "2.23.140.1.2.1"

// issueBackdate is how far before the issuance time a certificate's validity
// starts, so that relying parties whose clocks lag accept it at once.
const issueBackdate = time.Minute

// Profile is one issuance profile (ACME profiles,
// draft-ietf-acme-profiles): what a certificate issued under it looks like.
//
// A profile chooses the extended key usages; the key usage follows from
// them and the certificate's key: digitalSignature always, and
// keyEncipherment too for an RSA key under a profile with server
// authentication or email protection (RSA key transport, as in TLS 1.2;
// RFC 5280 §4.2.1.12 finds keyEncipherment inconsistent with client
// authentication), never for an ECDSA or Ed25519 key.
type Profile struct {
	// Description is shown in the directory's meta.profiles.
	Description string
	// Validity is notAfter - notBefore. It must exceed the one minute by
	// which notBefore is backdated, or certificates would be born expired.
	Validity time.Duration
	// Usages are cfssl usage names (config.KeyUsage and config.ExtKeyUsage),
	// e.g. "digital signature", "server auth". At least one extended key
	// usage is required; "any" and "ocsp signing" (which would make the
	// subscriber a delegated OCSP responder for the CA) are refused. Of the
	// key usages only "digital signature" ("signing") and "key
	// encipherment" are accepted, and they change nothing: key usage is set
	// per key type as described above.
	Usages []string
	// Policies are certificate policy OIDs, dotted (e.g. "2.23.140.1.2.1").
	Policies []string
}

// clone returns a deep copy of p, so callers cannot reach an issuer's state.
func (p Profile) clone() Profile {
	p.Usages = slices.Clone(p.Usages)
	p.Policies = slices.Clone(p.Policies)
	return p
}

// DefaultProfiles returns the built-in profiles:
//
//	tlsserver   the default: 90 days, TLS server authentication
//	shortlived  7 days, TLS server authentication (no need to revoke much)
//	tlsclient   90 days, TLS client authentication, for peers in mutual TLS
//	            (IPsec/IKEv2 and 5G network functions authenticating
//	            to one another)
//
// The server profiles carry the serverAuth extended key usage only (as the
// browsers' root programs now ask of TLS server hierarchies) and assert
// PolicyDomainValidated; the client profile carries clientAuth only and no
// policy, since the Baseline Requirements govern server certificates.
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		ProfileTLSServer: {
			Description: "TLS server certificate, valid for 90 days",
			Validity:    90 * 24 * time.Hour,
			Usages:      []string{"digital signature", "server auth"},
			Policies:    []string{PolicyDomainValidated},
		},
		ProfileShortLived: {
			Description: "Short-lived TLS server certificate, valid for 7 days",
			Validity:    7 * 24 * time.Hour,
			Usages:      []string{"digital signature", "server auth"},
			Policies:    []string{PolicyDomainValidated},
		},
		ProfileTLSClient: {
			Description: "TLS client certificate for mutual TLS between peers, valid for 90 days",
			Validity:    90 * 24 * time.Hour,
			Usages:      []string{"digital signature", "client auth"},
		},
	}
}

// profilesFile is LoadProfiles' JSON document.
type profilesFile struct {
	Default  string                 `json:"default"`
	Profiles map[string]profileJSON `json:"profiles"`
}

// profileJSON is one profile in a profilesFile.
type profileJSON struct {
	Description string   `json:"description"`
	Validity    string   `json:"validity"`
	Usages      []string `json:"usages"`
	Policies    []string `json:"policies"`
}

// LoadProfiles reads issuance profiles from a JSON document and validates
// them (see Profile). The format is
//
//	{
//	  "default": "tlsserver",
//	  "profiles": {
//	    "tlsserver": {
//	      "description": "TLS server certificate",
//	      "validity": "2160h",
//	      "usages": ["digital signature", "server auth"],
//	      "policies": ["2.23.140.1.2.1"]
//	    }
//	  }
//	}
//
// "validity" is a Go duration (time.ParseDuration: "2160h", "168h30m"); it
// must be more than one minute. "usages" are cfssl usage names, with at
// least one extended key usage; "description" and "policies" (dotted OIDs)
// may be left out. "default" names one of the profiles; left out it means
// "tlsserver". Unknown members, and anything after the document, are
// errors. def is the default profile's name.
func LoadProfiles(data []byte) (profiles map[string]Profile, def string, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f profilesFile
	if err := dec.Decode(&f); err != nil {
		return nil, "", fmt.Errorf("acme: profiles: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", errors.New("acme: profiles: data after the JSON document")
	}
	profiles = make(map[string]Profile, len(f.Profiles))
	for name, pj := range f.Profiles {
		if pj.Validity == "" {
			return nil, "", fmt.Errorf("acme: profile %q: no validity", name)
		}
		validity, err := time.ParseDuration(pj.Validity)
		if err != nil {
			return nil, "", fmt.Errorf("acme: profile %q: validity: %w", name, err)
		}
		profiles[name] = Profile{
			Description: pj.Description,
			Validity:    validity,
			Usages:      pj.Usages,
			Policies:    pj.Policies,
		}
	}
	def = f.Default
	if def == "" {
		def = ProfileTLSServer
	}
	if err := checkProfiles(profiles, def); err != nil {
		return nil, "", err
	}
	return profiles, def, nil
}

// checkProfiles validates a set of profiles and its default.
func checkProfiles(profiles map[string]Profile, def string) error {
	if len(profiles) == 0 {
		return errors.New("acme: no profiles")
	}
	for _, name := range slices.Sorted(maps.Keys(profiles)) {
		if err := checkProfile(name, profiles[name]); err != nil {
			return err
		}
	}
	if _, ok := profiles[def]; !ok {
		return fmt.Errorf("acme: default profile %q: %w", def, ErrInvalidProfile)
	}
	return nil
}

// checkProfile validates one profile (see Profile).
func checkProfile(name string, p Profile) error {
	if !validProfileName(name) {
		return fmt.Errorf("acme: invalid profile name %q", name)
	}
	if p.Validity <= issueBackdate {
		return fmt.Errorf("acme: profile %q: validity %v must be more than %v", name, p.Validity, issueBackdate)
	}
	if _, err := profileEKUs(p.Usages); err != nil {
		return fmt.Errorf("acme: profile %q: %w", name, err)
	}
	if _, err := profilePolicies(p.Policies); err != nil {
		return fmt.Errorf("acme: profile %q: %w", name, err)
	}
	return nil
}

// validProfileName reports whether name is a usable profile name: 1 to 64
// characters of letters, digits, '-', '_' and '.'.
func validProfileName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Key usage names (cfssl's) the issuer sets itself, per key type.
const (
	usageDigitalSignature = "digital signature"
	usageKeyEncipherment  = "key encipherment"
)

// profileEKUs checks usages and returns the cfssl names of their extended
// key usages, one name per distinct usage ("s/mime" and "email protection"
// are the same), in order.
func profileEKUs(usages []string) ([]string, error) {
	var names []string
	var seen []x509.ExtKeyUsage
	for _, u := range usages {
		if ku, ok := config.KeyUsage[u]; ok {
			if ku != x509.KeyUsageDigitalSignature && ku != x509.KeyUsageKeyEncipherment {
				return nil, fmt.Errorf("key usage %q is not for subscriber certificates (key usage follows the key type)", u)
			}
			continue
		}
		eku, ok := config.ExtKeyUsage[u]
		if !ok {
			return nil, fmt.Errorf("unknown usage %q", u)
		}
		switch eku {
		case x509.ExtKeyUsageAny:
			return nil, fmt.Errorf("extended key usage %q is not allowed", u)
		case x509.ExtKeyUsageOCSPSigning:
			return nil, fmt.Errorf("extended key usage %q is not allowed: it would make the subscriber an OCSP responder for the CA", u)
		}
		if !slices.Contains(seen, eku) {
			seen = append(seen, eku)
			names = append(names, u)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no extended key usage")
	}
	return names, nil
}

// profilePolicies parses dotted policy OIDs into cfssl's form, refusing
// duplicates.
func profilePolicies(oids []string) ([]config.CertificatePolicy, error) {
	var policies []config.CertificatePolicy
	for i, s := range oids {
		oid, err := parsePolicyOID(s)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", s, err)
		}
		if slices.Contains(oids[:i], s) {
			return nil, fmt.Errorf("policy %q: duplicate", s)
		}
		policies = append(policies, config.CertificatePolicy{ID: config.OID(oid)})
	}
	return policies, nil
}

// parsePolicyOID parses a dotted object identifier in canonical form (no
// leading zeros, no empty arcs) that DER can encode.
func parsePolicyOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, errors.New("an OID has at least two arcs")
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		if part == "" || len(part) > 1 && part[0] == '0' || strings.TrimLeft(part, "0123456789") != "" {
			return nil, fmt.Errorf("arc %q is not a canonical decimal number", part)
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("arc %q: %w", part, err)
		}
		oid[i] = n
	}
	if oid[0] > 2 || oid[0] < 2 && oid[1] >= 40 {
		return nil, errors.New("invalid first arcs")
	}
	if _, err := asn1.Marshal(oid); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return oid, nil
}
