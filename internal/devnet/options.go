package devnet

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// DefaultHosts are the node certificate's SANs when Options.Hosts is empty.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// Options shape a new development network. Every zero value means
// something documented.
type Options struct {
	// NetworkID names the network; empty means "certchain-dev-" and 8
	// random hex digits.
	NetworkID string
	// Hosts are the DNS names and IP addresses in the node certificate;
	// empty means DefaultHosts.
	Hosts []string
	// OCSPURLs are the network's OCSP responder URLs. They are recorded in
	// devnet.json (Network.OCSPURLs, e.g. for device certificates) and the
	// first one goes into the AIA of leaves SignWithMemberCA issues (a
	// cfssl profile carries one OCSP URL). Empty means none.
	OCSPURLs []string
	// RequireSignatures makes the network require its members' signatures
	// on every transaction (policy require_signatures).
	RequireSignatures bool
	// Now is the genesis time and the start of every certificate's
	// validity (less cfssl's five-minute backdate); zero means the wall
	// clock. It is truncated to the second, in UTC.
	Now time.Time
}

func (o Options) withDefaults() Options {
	if o.NetworkID == "" {
		o.NetworkID = "certchain-dev-" + randomHex(4)
	}
	if len(o.Hosts) == 0 {
		o.Hosts = DefaultHosts
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}
