package acme

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// identServer is a Server with only what identifier and CSR checks use:
// the policy ("test" names, 127.0.0.0/8) and the key policy.
func identServer() *Server {
	return &Server{cfg: Config{KeyPolicy: CheckAccountKey, Policy: IdentifierPolicy{
		Domains: []string{"test"}, IPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}
}

func dnsIDs(names ...string) []Identifier {
	ids := make([]Identifier, len(names))
	for i, n := range names {
		ids[i] = Identifier{IdentifierDNS, n}
	}
	return ids
}

// TestCheckIdentifiers: an order keeps each identifier as the client spelled
// it (lego compares), while policy and duplicates ignore case.
func TestCheckIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Identifier
		want []Identifier
		fail ProblemType
	}{
		{name: "ok/mixed-case-kept", in: dnsIDs("Svc.Example.TEST"), want: dnsIDs("Svc.Example.TEST")},
		{name: "ok/wildcard-mixed-case-kept", in: dnsIDs("*.Wild.TEST"), want: dnsIDs("*.Wild.TEST")},
		{name: "ok/sorted-ignoring-case", in: dnsIDs("b.test", "A.test", "c.TEST"), want: dnsIDs("A.test", "b.test", "c.TEST")},
		{name: "ok/second-spelling-dropped", in: dnsIDs("Svc.Example.TEST", "svc.example.test"), want: dnsIDs("Svc.Example.TEST")},
		{name: "ok/ip-as-sent", in: []Identifier{{IdentifierIP, "127.0.0.1"}, {IdentifierIP, "::ffff:127.0.0.1"}},
			want: []Identifier{{IdentifierIP, "127.0.0.1"}}},
		{name: "fail/policy-ignores-case-only", in: dnsIDs("Svc.Example.COM"), fail: ErrRejectedIdentifier},
		{name: "fail/malformed", in: dnsIDs("Svc_Example.TEST"), fail: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := identServer().checkIdentifiers(tc.in)
			wantProblem(t, err, tc.fail)
			if tc.fail == "" && !slices.Equal(got, tc.want) {
				t.Errorf("identifiers %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCheckCSRIgnoresCase: a CSR matches the order's identifiers whatever
// the case of either; a different name still does not.
func TestCheckCSRIgnoresCase(t *testing.T) {
	order := append(dnsIDs("Svc.Example.TEST", "*.Wild.TEST"), Identifier{IdentifierIP, "127.0.0.1"})
	for _, tc := range []struct {
		name  string
		cn    string
		names []string
		fail  ProblemType
	}{
		{name: "ok/same-spelling", cn: "Svc.Example.TEST", names: []string{"Svc.Example.TEST", "*.Wild.TEST"}},
		{name: "ok/lower-case", cn: "svc.example.test", names: []string{"svc.example.test", "*.wild.test"}},
		{name: "ok/upper-case-no-cn", names: []string{"SVC.EXAMPLE.TEST", "*.WILD.TEST"}},
		{name: "fail/other-name", cn: "svc.example.test", names: []string{"svc.example.test", "*.other.test"}, fail: ErrBadCSR},
		{name: "fail/missing-name", names: []string{"Svc.Example.TEST"}, fail: ErrBadCSR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := newCSR(t, keyES256(), &x509.CertificateRequest{Subject: pkix.Name{CommonName: tc.cn},
				DNSNames: tc.names, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
			_, err := identServer().checkCSR(base64.RawURLEncoding.EncodeToString(csr.Raw), order)
			wantProblem(t, err, tc.fail)
		})
	}
}

// FuzzCheckIdentifiers feeds newOrder identifiers (two, of any type and
// value) to checkIdentifiers: an accepted order holds only identifiers
// sent exactly so, within the policy, no two of them alike in any case.
func FuzzCheckIdentifiers(f *testing.F) {
	f.Add("dns", "Svc.Example.TEST", "dns", "svc.example.test")
	f.Add("dns", "*.Wild.TEST", "ip", "::ffff:127.0.0.1")
	f.Add("ip", "127.0.0.1", "dns", "evil.example")
	f.Add("email", "a@b", "dns", "a..b")
	s := identServer()
	f.Fuzz(func(t *testing.T, t1, v1, t2, v2 string) {
		in := []Identifier{{t1, v1}, {t2, v2}}
		out, err := s.checkIdentifiers(in)
		if err != nil {
			if ProblemOf(err).Type == ErrServerInternal {
				t.Fatalf("internal error for client input: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, id := range out {
			if !slices.Contains(in, id) {
				t.Fatalf("order holds %v, which was not sent", id)
			}
			k, err := identifierKey(id)
			if err != nil || seen[k] {
				t.Fatalf("order holds %v: key %q, error %v, duplicate %v", id, k, err, seen[k])
			}
			seen[k] = true
			if !inTestPolicy(k) {
				t.Fatalf("order holds %v, outside the policy", id)
			}
		}
	})
}

// inTestPolicy restates identServer's policy for a canonical key.
func inTestPolicy(key string) bool {
	if v, ok := strings.CutPrefix(key, "ip:"); ok {
		a, err := netip.ParseAddr(v)
		return err == nil && netip.MustParsePrefix("127.0.0.0/8").Contains(a)
	}
	name := strings.TrimPrefix(strings.TrimPrefix(key, "dns:"), "*.")
	return name == "test" || strings.HasSuffix(name, ".test")
}
