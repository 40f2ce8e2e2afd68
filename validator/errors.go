package validator

import (
	"strings"

	"github.com/certchain/certchain/certchain"
)

// Rule slugs: the stable names of the rules, used as RuleError.Rule, as
// the first word of a rejected verdict's reason, and as a metrics label.
// They are part of the ledger's content (verdicts are hashed into blocks):
// never rename one.
const (
	// Certificate rules (Check); errors.Is(err, certchain.ErrInvalid).
	RuleDER                = "der"
	RuleKeyAlgorithm       = "key-algorithm"
	RuleSignatureAlgorithm = "signature-algorithm"
	RuleValidity           = "validity"
	RuleExpired            = "expired"
	RuleNotYetValid        = "not-yet-valid"
	RuleValidityTooLong    = "validity-too-long"
	RuleCriticalExtension  = "critical-extension"
	RuleNetworkID          = "network-id"
	RuleCACert             = "ca-cert"
	RuleIdentity           = "identity"
	RuleSelfSignature      = "self-signature"
	RuleChain              = "chain"

	// Transaction rules (Decide).
	RuleTxType            = "tx-type"            // ErrInvalid
	RuleNode              = "node"               // ErrInvalid; also an Unchanged node-add
	RuleReason            = "reason"             // ErrInvalid
	RuleNotMember         = "not-member"         // ErrUnauthorized
	RuleRole              = "role"               // ErrUnauthorized
	RuleUnauthorized      = "unauthorized"       // ErrUnauthorized
	RuleNotFound          = "not-found"          // ErrNotFound
	RuleAlreadyPublished  = "already-published"  // ErrConflict
	RuleDuplicateIdentity = "duplicate-identity" // ErrConflict
	RuleIdentityMismatch  = "identity-mismatch"  // ErrConflict
	RuleCAMismatch        = "ca-mismatch"        // ErrConflict
	RuleState             = "state"              // ErrConflict
	RuleKeyBlocked        = "key-blocked"        // ErrConflict
	RuleNamespace         = "namespace"          // ErrUnauthorized
	RuleOwnerProof        = "owner-proof"        // ErrUnauthorized
	RuleReplay            = "replay"             // ErrConflict
	RuleMember            = "member"             // ErrInvalid
	RuleSignature         = "signature"          // ErrUnauthorized
	RuleTooMany           = "too-many"           // ErrInvalid
	RuleOCSPDelegate      = "ocsp-delegate"      // ErrInvalid
)

// ruleKinds maps the slugs that are not certchain.ErrInvalid to their kind.
var ruleKinds = map[string]error{
	RuleNotMember:         certchain.ErrUnauthorized,
	RuleRole:              certchain.ErrUnauthorized,
	RuleUnauthorized:      certchain.ErrUnauthorized,
	RuleNotFound:          certchain.ErrNotFound,
	RuleAlreadyPublished:  certchain.ErrConflict,
	RuleDuplicateIdentity: certchain.ErrConflict,
	RuleIdentityMismatch:  certchain.ErrConflict,
	RuleCAMismatch:        certchain.ErrConflict,
	RuleState:             certchain.ErrConflict,
	RuleKeyBlocked:        certchain.ErrConflict,
	RuleNamespace:         certchain.ErrUnauthorized,
	RuleOwnerProof:        certchain.ErrUnauthorized,
	RuleReplay:            certchain.ErrConflict,
	RuleSignature:         certchain.ErrUnauthorized,
}

// RuleError is a rejection by one named rule.
//
// Rule and Detail are produced by this package only and depend on nothing
// but the inputs, so every node words a verdict identically (the verdict's
// reason is hashed into the block). Cause, when set, is the underlying
// library error (crypto/x509's wording may change between Go versions): it
// is for people and logs, never part of a verdict.
type RuleError struct {
	Rule   string // stable slug, one of the Rule* constants
	Detail string // what exactly is wrong, for people
	Cause  error  // optional underlying error; not part of Reason
}

func ruleErr(rule, detail string) *RuleError { return &RuleError{Rule: rule, Detail: detail} }

// Reason returns "rule: detail", the deterministic form recorded in verdicts.
func (e *RuleError) Reason() string { return e.Rule + ": " + e.Detail }

// Verdict returns the rejection as a block records it (Reason, never
// Error, which may carry library text that differs between Go versions).
func (e *RuleError) Verdict() certchain.Verdict {
	return certchain.Verdict{Code: certchain.Rejected, Reason: e.Reason()}
}

// Error returns "rule: detail", followed by ": cause" when there is one.
func (e *RuleError) Error() string {
	if e.Cause != nil {
		return e.Reason() + ": " + e.Cause.Error()
	}
	return e.Reason()
}

// Unwrap returns the underlying library error, if any.
func (e *RuleError) Unwrap() error { return e.Cause }

// Kind returns the certchain error kind of the rule: ErrUnauthorized,
// ErrNotFound, ErrConflict, or ErrInvalid for all the others.
func (e *RuleError) Kind() error {
	if k, ok := ruleKinds[e.Rule]; ok {
		return k
	}
	return certchain.ErrInvalid
}

// Is reports whether target is the rule's kind (see Kind), so callers
// branch with errors.Is(err, certchain.ErrInvalid) and friends.
func (e *RuleError) Is(target error) bool { return target == e.Kind() }

// KindOf returns the error kind (certchain.ErrInvalid, ErrUnauthorized,
// ErrNotFound or ErrConflict) of a rejected verdict's reason, so an edge
// can answer with the right status without re-running the rules.
func KindOf(reason string) error {
	rule, _, _ := strings.Cut(reason, ":")
	if k, ok := ruleKinds[rule]; ok {
		return k
	}
	return certchain.ErrInvalid
}
