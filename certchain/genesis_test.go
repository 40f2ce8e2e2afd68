package certchain

import (
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
