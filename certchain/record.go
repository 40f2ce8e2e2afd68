package certchain

import (
	"fmt"
	"time"
)

// Status is the ledger status of a certificate.
type Status uint8

// Stored statuses, plus two that are only ever derived when answering:
// StatusExpired (good on the ledger but past NotAfter at the time asked) and
// StatusUnknown (not on the ledger).
const (
	StatusGood       Status = 1
	StatusSuspended  Status = 2
	StatusRevoked    Status = 3
	StatusSuperseded Status = 4
	StatusExpired    Status = 5
	StatusUnknown    Status = 6
)

var statusNames = map[Status]string{
	StatusGood: "good", StatusSuspended: "suspended", StatusRevoked: "revoked",
	StatusSuperseded: "superseded", StatusExpired: "expired", StatusUnknown: "unknown",
}

// String returns the lowercase API name of s.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	for k, n := range statusNames {
		if n == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("%w: unknown status %q", ErrInvalid, b)
}

// Record is a certificate on the ledger with its current status.
type Record struct {
	ID         Hash      `json:"id"` // SHA-256 of DER
	DER        []byte    `json:"der"`
	Serial     string    `json:"serial"` // lowercase hex, big-endian
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SelfSigned bool      `json:"self_signed"`
	// Identity names the device or service the certificate is for (see
	// validator.Identity); a self-signed identity has one current
	// certificate at a time.
	Identity string `json:"identity"`
	KeyHash  Hash   `json:"key_sha256"` // SHA-256 of SubjectPublicKeyInfo
	// CA is the member whose CA certificate the certificate chains to
	// (empty for self-signed certificates).
	CA string `json:"ca,omitempty"`
	// IssuerKey is the subjectPublicKey BIT STRING of the certificate's
	// issuer (its own for self-signed): OCSP looks certificates up by its
	// hash and the serial number.
	IssuerKey []byte `json:"issuer_key"`
	// Submitter is the member that published the certificate.
	Submitter string `json:"submitter"`
	Height    uint64 `json:"height"` // block that published it
	TxID      Hash   `json:"tx"`

	Status       Status    `json:"status"`
	Reason       Reason    `json:"reason"`
	StatusTime   time.Time `json:"status_time"` // block time of the last change
	StatusHeight uint64    `json:"status_height"`
	Replaces     Hash      `json:"replaces,omitzero"`
	SupersededBy Hash      `json:"superseded_by,omitzero"`
}

// StatusAt returns the status a relying party should see at time now:
// a good certificate past its NotAfter is expired.
func (r *Record) StatusAt(now time.Time) Status {
	if r.Status == StatusGood && now.After(r.NotAfter) {
		return StatusExpired
	}
	return r.Status
}

// Revoke moves r to revoked (terminal). A superseded certificate may still
// be revoked, so that a later key compromise is reported as such.
func (r *Record) Revoke(reason Reason, at time.Time, height uint64) error {
	if !reason.ValidForRevoke() {
		return fmt.Errorf("%w: %s is not a revocation reason (use suspend/resume)", ErrInvalid, reason)
	}
	if r.Status == StatusRevoked {
		return fmt.Errorf("%w: certificate is already revoked (%s)", ErrConflict, r.Reason)
	}
	r.set(StatusRevoked, reason, at, height)
	return nil
}

// Suspend puts a good certificate on hold.
func (r *Record) Suspend(at time.Time, height uint64) error {
	if r.Status != StatusGood {
		return fmt.Errorf("%w: only a good certificate can be suspended; it is %s", ErrConflict, r.Status)
	}
	r.set(StatusSuspended, ReasonCertificateHold, at, height)
	return nil
}

// Resume returns a suspended certificate to good.
func (r *Record) Resume(at time.Time, height uint64) error {
	if r.Status != StatusSuspended {
		return fmt.Errorf("%w: only a suspended certificate can be resumed; it is %s", ErrConflict, r.Status)
	}
	r.set(StatusGood, ReasonUnspecified, at, height)
	return nil
}

// Supersede marks r as replaced by the certificate next. Only a good
// certificate can be renewed: renewing a suspended one would let its owner
// walk out of a suspension (resume it first).
func (r *Record) Supersede(next Hash, at time.Time, height uint64) error {
	if r.Status != StatusGood {
		return fmt.Errorf("%w: only a good certificate can be renewed; it is %s", ErrConflict, r.Status)
	}
	r.set(StatusSuperseded, ReasonSuperseded, at, height)
	r.SupersededBy = next
	return nil
}

func (r *Record) set(s Status, reason Reason, at time.Time, height uint64) {
	r.Status, r.Reason, r.StatusTime, r.StatusHeight = s, reason, at, height
}
