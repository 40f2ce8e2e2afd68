package certchain

import "errors"

// Error kinds callers branch on with errors.Is. Each edge (REST, OCSP, ACME)
// maps them to its own status codes in one table.
var (
	// ErrNotFound: the thing asked for is not on the ledger.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the current ledger state
	// (e.g. resuming a certificate that is not suspended).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input itself is malformed or breaks a rule.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthorized: the submitter may not do this.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotLeader: this node cannot order writes right now.
	ErrNotLeader = errors.New("not leader")
	// ErrBusy: the node is overloaded; retry later.
	ErrBusy = errors.New("busy")
)
