package certchain

import (
	"bytes"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultNetworkIDOID is the OID of the network-ID extension unless the
// genesis names another (an arc reserved for documentation, RFC 5612).
const DefaultNetworkIDOID = "1.3.6.1.4.1.32473.1.1"

// Role is what a member may do on the ledger.
type Role string

// Member roles.
const (
	RoleAdmin     Role = "admin"     // governs membership, may revoke anything
	RoleVendor    Role = "vendor"    // publishes self-signed device certificates
	RoleOperator  Role = "operator"  // admits, suspends and resumes devices
	RoleCA        Role = "ca"        // publishes certificates its CA signed
	RoleValidator Role = "validator" // runs a node; no certificate rights
)

var roles = map[Role]bool{RoleAdmin: true, RoleVendor: true, RoleOperator: true, RoleCA: true, RoleValidator: true}

// Member is a consortium member as the genesis (later: the ledger) names it.
type Member struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Cert is the member's identity certificate (PEM). A client presenting
	// this exact certificate over mutual TLS acts as the member.
	Cert string `json:"cert"`
	// CACerts (role ca) are the member's CA certificates (PEM): trust
	// anchors for the certificates it publishes.
	CACerts []string `json:"ca_certs,omitempty"`
	// OCSPSigners (role ca) are delegated OCSP responder certificates
	// (PEM, id-kp-OCSPSigning) its CA issued to the ledger: nodes holding
	// their keys sign the OCSP responses for the member's certificates, so
	// relying parties that trust only that CA accept them.
	OCSPSigners []string `json:"ocsp_signers,omitempty"`
	// Namespace (roles vendor, ca and operator) is what the member may act
	// on: what a vendor or CA publishes, which devices an operator may
	// suspend and resume. Nil: a vendor or CA publishes any subject (a
	// founding member the consortium trusts with everything), an operator
	// suspends nothing.
	Namespace *Namespace `json:"namespace,omitempty"`
	// Org is the organisation the member belongs to (networks with
	// organisations): its identity certificate chains to that
	// organisation's CA.
	Org string `json:"org,omitempty"`
}

// Policy is the network's certificate and block policy. A zero field takes
// the value of DefaultPolicy.
type Policy struct {
	// MaxValidity bounds NotAfter - NotBefore of published certificates.
	MaxValidity Duration `json:"max_validity"`
	// ClockSkew is how far in the future NotBefore may lie at block time
	// (factory clocks drift).
	ClockSkew Duration `json:"clock_skew"`
	// MinRSABits is the smallest RSA modulus accepted.
	MinRSABits int `json:"min_rsa_bits"`
	// BlockMaxTxs bounds the transactions in one block.
	BlockMaxTxs int `json:"block_max_txs"`
	// BlockMaxDelay bounds how long the leader holds a transaction before
	// proposing the block that carries it.
	BlockMaxDelay Duration `json:"block_max_delay"`
	// RequireSignatures makes every member transaction carry its
	// submitter's signature (Tx.Sig); without it a signature is checked
	// when present.
	RequireSignatures bool `json:"require_signatures,omitempty"`
}

// DefaultPolicy returns the policy used for zero fields.
func DefaultPolicy() Policy {
	return Policy{
		MaxValidity:   Duration(20 * 365 * 24 * time.Hour), // device lifetime
		ClockSkew:     Duration(24 * time.Hour),
		MinRSABits:    2048,
		BlockMaxTxs:   2000,
		BlockMaxDelay: Duration(20 * time.Millisecond),
	}
}

// Genesis is the founding document of a network. Every node of a network
// starts from the same genesis; its hash is block 0's tx root.
type Genesis struct {
	NetworkID    string    `json:"network_id"`
	NetworkIDOID string    `json:"network_id_oid"`
	Time         time.Time `json:"time"`
	Policy       Policy    `json:"policy"`
	Members      []Member  `json:"members"`
	// Organizations are the founding organisations of a network made by
	// the founding ceremony; empty in the development network (see
	// HasOrgs).
	Organizations []Organization `json:"organizations,omitempty"`
	// Validators are the founding validator nodes (networks with
	// organisations).
	Validators []Validator `json:"validators,omitempty"`
}

// ParseGenesis decodes a genesis document (JSON), fills defaults and
// validates it. Unknown fields are an error so a typo is not ignored.
func ParseGenesis(data []byte) (*Genesis, error) {
	var g Genesis
	if err := DecodeStrict(data, &g); err != nil {
		return nil, fmt.Errorf("%w: genesis: %v", ErrInvalid, err)
	}
	g.fillDefaults()
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

func (g *Genesis) fillDefaults() {
	if g.NetworkIDOID == "" {
		g.NetworkIDOID = DefaultNetworkIDOID
	}
	d := DefaultPolicy()
	p := &g.Policy
	for _, f := range []struct{ v, def *Duration }{
		{&p.MaxValidity, &d.MaxValidity}, {&p.ClockSkew, &d.ClockSkew}, {&p.BlockMaxDelay, &d.BlockMaxDelay},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if p.MinRSABits == 0 {
		p.MinRSABits = d.MinRSABits
	}
	if p.BlockMaxTxs == 0 {
		p.BlockMaxTxs = d.BlockMaxTxs
	}
}

// Validate checks the document for consistency.
func (g *Genesis) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: genesis: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(g.NetworkID) == "" {
		return bad("network_id is empty")
	}
	if _, err := ParseOID(g.NetworkIDOID); err != nil {
		return bad("network_id_oid: %v", err)
	}
	if g.Time.IsZero() {
		return bad("time is not set")
	}
	if g.Policy.MaxValidity <= 0 || g.Policy.ClockSkew < 0 || g.Policy.BlockMaxDelay <= 0 ||
		g.Policy.BlockMaxTxs < 1 || g.Policy.MinRSABits < 1024 {
		return bad("policy has a negative or too small limit")
	}
	seen := map[string]bool{}
	for i, m := range g.Members {
		if seen[m.Name] {
			return bad("member %d: name %q repeated", i, m.Name)
		}
		seen[m.Name] = true
		if err := m.Validate(); err != nil {
			return fmt.Errorf("%w: genesis: member %d: %v", ErrInvalid, i, err)
		}
	}
	return g.validateOrgs()
}

// Validate checks one member: name, role, certificates (which must be PEM;
// the validator parses them), what only some roles have, and the
// namespace.
func (m *Member) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("member %q: %s", m.Name, fmt.Sprintf(format, a...))
	}
	if err := validName(m.Name); err != nil {
		return bad("%v", err)
	}
	if !roles[m.Role] {
		return bad("unknown role %q", m.Role)
	}
	if _, err := CertPEM(m.Cert); err != nil {
		return bad("cert: %v", err)
	}
	if (m.Role == RoleCA) != (len(m.CACerts) > 0) {
		return bad("ca_certs are required for role ca and only for it")
	}
	if len(m.OCSPSigners) > 0 && m.Role != RoleCA {
		return bad("only a ca member delegates OCSP signing")
	}
	if m.Namespace != nil {
		if m.Role != RoleVendor && m.Role != RoleCA && m.Role != RoleOperator {
			return bad("only vendor, ca and operator members have a namespace")
		}
		if err := m.Namespace.validate(); err != nil {
			return bad("%v", err)
		}
	}
	for _, c := range append(append([]string{}, m.CACerts...), m.OCSPSigners...) {
		if _, err := CertPEM(c); err != nil {
			return bad("ca_certs/ocsp_signers: %v", err)
		}
	}
	return nil
}

// Encode returns the canonical JSON of g (as json.Marshal writes it).
func (g *Genesis) Encode() []byte {
	b, err := json.Marshal(g)
	if err != nil {
		panic(fmt.Sprintf("certchain: genesis cannot be encoded: %v", err)) // only plain types inside
	}
	return b
}

// Hash returns the SHA-256 of the canonical JSON.
func (g *Genesis) Hash() Hash { return Sum(g.Encode()) }

// Header returns block 0: height 0, the genesis time, and the genesis hash
// in place of a tx root.
func (g *Genesis) Header() Header {
	return Header{Time: g.Time.UnixNano(), Proposer: "genesis", TxRoot: g.Hash(), ResultRoot: MerkleRoot(nil)}
}

// Member returns the member named name.
func (g *Genesis) Member(name string) (*Member, bool) {
	for i := range g.Members {
		if g.Members[i].Name == name {
			return &g.Members[i], true
		}
	}
	return nil, false
}

// CertPEM returns the DER of exactly one PEM "CERTIFICATE" block. It does
// not parse the certificate (that is the validator's job: crypto/x509
// would bring file system access into the domain).
func CertPEM(s string) ([]byte, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrInvalid)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrInvalid)
	}
	return block.Bytes, nil
}

// ParseOID parses a dotted-decimal object identifier.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%w: OID %q needs at least two arcs", ErrInvalid, s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: OID %q: bad arc %q", ErrInvalid, s, p)
		}
		oid[i] = n
	}
	return oid, nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("8760h", "20ms").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration: %v", ErrInvalid, err)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
