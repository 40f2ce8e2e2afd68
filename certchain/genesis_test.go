package certchain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const testCertPEM = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"

func TestParseGenesis(t *testing.T) {
	member := `{"name":"admin","role":"admin","cert":` + quote(testCertPEM) + `}`
	cases := []struct {
		name, doc string
		ok        bool
	}{
		{"ok/minimal", `{"network_id":"n","time":"2026-01-01T00:00:00Z","members":[` + member + `]}`, true},
		{"fail/no-network-id", `{"time":"2026-01-01T00:00:00Z"}`, false},
		{"fail/no-time", `{"network_id":"n"}`, false},
		{"fail/unknown-field", `{"network_id":"n","time":"2026-01-01T00:00:00Z","x":1}`, false},
		{"fail/trailing", `{"network_id":"n","time":"2026-01-01T00:00:00Z"}{}`, false},
		{"fail/bad-oid", `{"network_id":"n","network_id_oid":"1.x","time":"2026-01-01T00:00:00Z"}`, false},
		{"fail/unknown-role", `{"network_id":"n","time":"2026-01-01T00:00:00Z","members":[` + strings.Replace(member, `"admin","cert"`, `"king","cert"`, 1) + `]}`, false},
		{"fail/duplicate-member", `{"network_id":"n","time":"2026-01-01T00:00:00Z","members":[` + member + `,` + member + `]}`, false},
		{"fail/ca-without-ca-certs", `{"network_id":"n","time":"2026-01-01T00:00:00Z","members":[` + strings.Replace(member, `"role":"admin"`, `"role":"ca"`, 1) + `]}`, false},
		{"fail/negative-skew", `{"network_id":"n","time":"2026-01-01T00:00:00Z","policy":{"clock_skew":"-1h"}}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGenesis([]byte(tc.doc))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("err %v", err)
			}
			if tc.ok && (g.NetworkIDOID != DefaultNetworkIDOID || g.Policy.BlockMaxTxs != DefaultPolicy().BlockMaxTxs) {
				t.Fatalf("defaults not filled: %+v", g)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }

// FuzzParseGenesis: any document either parses into a valid genesis whose
// canonical form parses to the same hash, or is refused as ErrInvalid.
func FuzzParseGenesis(f *testing.F) {
	f.Add([]byte(`{"network_id":"n","time":"2026-01-01T00:00:00Z","members":[{"name":"a","role":"admin","cert":` + quote(testCertPEM) + `}]}`))
	f.Add([]byte(`{"network_id":"n","time":"2026-01-01T00:00:00Z","policy":{"max_validity":"1h"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		g, err := ParseGenesis(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		again, err := ParseGenesis(g.Encode())
		if err != nil || again.Hash() != g.Hash() {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
	})
}

// FuzzDecodeMember feeds arbitrary member-set bodies to the member
// decoder and checks: nothing panics, and what decodes and validates
// encodes and decodes again to the same member.
func FuzzDecodeMember(f *testing.F) {
	f.Add([]byte(`{"name":"femto-b","role":"vendor","cert":"x","namespace":{"organizations":["Femto B"]}}`))
	f.Add([]byte(`{"name":"@owner"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMember(b)
		if err != nil || m.Validate() != nil {
			return
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if m2, err := DecodeMember(again); err != nil || m2.Name != m.Name || m2.Role != m.Role {
			t.Fatalf("round trip: %+v %v", m2, err)
		}
	})
}
