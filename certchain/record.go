package certchain

import (
	"encoding/binary"
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

// Field tags of the Record encoding (part of the disk format: raftstore
// stores records with it).
const (
	recTagID           = 1
	recTagDER          = 2
	recTagSerial       = 3
	recTagSubject      = 4
	recTagIssuer       = 5
	recTagNotBefore    = 6
	recTagNotAfter     = 7
	recTagSelfSigned   = 8
	recTagIdentity     = 9
	recTagKeyHash      = 10
	recTagCA           = 11
	recTagIssuerKey    = 12
	recTagSubmitter    = 13
	recTagHeight       = 14
	recTagTxID         = 15
	recTagStatus       = 16
	recTagReason       = 17
	recTagStatusTime   = 18
	recTagStatusHeight = 19
	recTagReplaces     = 20
	recTagSupersededBy = 21
)

// recordFixedMax bounds the encoded size of a record's fixed-size fields
// and of the tag and length prefixes of its variable ones.
const recordFixedMax = 5*(2+len(Hash{})) + 3*(2+timeLen) + 2*(2+8) + 3*(2+1) + 8*(1+binary.MaxVarintLen32)

// Encode returns the canonical encoding of r (TLV, see the package doc).
// Times are stored as instants, to the nanosecond, and decode in UTC; they
// must lie in the years 0 to 9999 (as X.509 and block times do).
func (r *Record) Encode() []byte {
	n := recordFixedMax + len(r.DER) + len(r.Serial) + len(r.Subject) + len(r.Issuer) +
		len(r.Identity) + len(r.CA) + len(r.IssuerKey) + len(r.Submitter)
	w := tlvWriter{buf: make([]byte, 0, n)}
	w.hash(recTagID, r.ID)
	w.bytes(recTagDER, r.DER)
	w.str(recTagSerial, r.Serial)
	w.str(recTagSubject, r.Subject)
	w.str(recTagIssuer, r.Issuer)
	w.time(recTagNotBefore, r.NotBefore)
	w.time(recTagNotAfter, r.NotAfter)
	if r.SelfSigned {
		w.u8(recTagSelfSigned, 1)
	}
	w.str(recTagIdentity, r.Identity)
	w.hash(recTagKeyHash, r.KeyHash)
	w.str(recTagCA, r.CA)
	w.bytes(recTagIssuerKey, r.IssuerKey)
	w.str(recTagSubmitter, r.Submitter)
	w.u64(recTagHeight, r.Height)
	w.hash(recTagTxID, r.TxID)
	w.u8(recTagStatus, uint8(r.Status))
	w.u8(recTagReason, uint8(r.Reason))
	w.time(recTagStatusTime, r.StatusTime)
	w.u64(recTagStatusHeight, r.StatusHeight)
	w.hash(recTagReplaces, r.Replaces)
	w.hash(recTagSupersededBy, r.SupersededBy)
	return w.buf
}

// DecodeRecord parses a canonical record encoding. A record needs an ID
// and a stored status (good, suspended, revoked or superseded). Byte
// slices in the result alias b.
func DecodeRecord(b []byte) (*Record, error) {
	var rec Record
	err := decodeFields(b, rec.setField)
	if err == nil && (rec.ID.IsZero() || rec.Status == 0) {
		err = fmt.Errorf("%w: record needs an ID and a status", ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return &rec, nil
}

func (r *Record) setField(tag uint64, v []byte) (err error) {
	var x uint8
	switch tag {
	case recTagID:
		r.ID, err = decodeHash(tag, v)
	case recTagDER:
		r.DER, err = decodeBytes(tag, v)
	case recTagSerial:
		r.Serial, err = decodeStr(tag, v)
	case recTagSubject:
		r.Subject, err = decodeStr(tag, v)
	case recTagIssuer:
		r.Issuer, err = decodeStr(tag, v)
	case recTagNotBefore:
		r.NotBefore, err = decodeTime(tag, v)
	case recTagNotAfter:
		r.NotAfter, err = decodeTime(tag, v)
	case recTagSelfSigned:
		r.SelfSigned, err = decodeTrue(tag, v)
	case recTagIdentity:
		r.Identity, err = decodeStr(tag, v)
	case recTagKeyHash:
		r.KeyHash, err = decodeHash(tag, v)
	case recTagCA:
		r.CA, err = decodeStr(tag, v)
	case recTagIssuerKey:
		r.IssuerKey, err = decodeBytes(tag, v)
	case recTagSubmitter:
		r.Submitter, err = decodeStr(tag, v)
	case recTagHeight:
		r.Height, err = decodeU64(tag, v)
	case recTagTxID:
		r.TxID, err = decodeHash(tag, v)
	case recTagStatus:
		x, err = decodeU8(tag, v)
		r.Status = Status(x)
		if err == nil && (r.Status < StatusGood || r.Status > StatusSuperseded) {
			err = fmt.Errorf("%w: field %d: %s is not a stored status", ErrInvalid, tag, r.Status)
		}
	case recTagReason:
		x, err = decodeU8(tag, v)
		r.Reason = Reason(x)
	case recTagStatusTime:
		r.StatusTime, err = decodeTime(tag, v)
	case recTagStatusHeight:
		r.StatusHeight, err = decodeU64(tag, v)
	case recTagReplaces:
		r.Replaces, err = decodeHash(tag, v)
	case recTagSupersededBy:
		r.SupersededBy, err = decodeHash(tag, v)
	default:
		err = fmt.Errorf("%w: unknown field %d", ErrInvalid, tag)
	}
	return err
}

// timeLen is the length of an encoded time: Unix seconds (int64, two's
// complement) and nanoseconds within the second (uint32), big-endian.
// Seconds rather than Unix nanoseconds, which end in 2262, because
// certificates may be valid until 9999 (RFC 5280 §4.1.2.5).
const timeLen = 12

// The years 0 to 9999 hold every time X.509 can express, and every block
// time; a decoded time outside them is refused.
var (
	minTimeSec = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxTimeSec = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// time writes t as an instant; the zero time is omitted.
func (w *tlvWriter) time(tag uint64, t time.Time) {
	if t.IsZero() {
		return
	}
	var v [timeLen]byte
	binary.BigEndian.PutUint64(v[:8], uint64(t.Unix()))
	binary.BigEndian.PutUint32(v[8:], uint32(t.Nanosecond()))
	w.bytes(tag, v[:])
}

func decodeTime(tag uint64, v []byte) (time.Time, error) {
	if len(v) != timeLen {
		return time.Time{}, fmt.Errorf("%w: field %d: want %d bytes, got %d", ErrInvalid, tag, timeLen, len(v))
	}
	sec, nsec := int64(binary.BigEndian.Uint64(v[:8])), binary.BigEndian.Uint32(v[8:])
	if nsec >= 1e9 || sec < minTimeSec || sec > maxTimeSec {
		return time.Time{}, fmt.Errorf("%w: field %d: time out of range", ErrInvalid, tag)
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		return time.Time{}, fmt.Errorf("%w: field %d: zero value must be omitted", ErrInvalid, tag)
	}
	return t, nil
}

func decodeBytes(tag uint64, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: field %d: empty value must be omitted", ErrInvalid, tag)
	}
	return v[:len(v):len(v)], nil
}

// decodeTrue decodes a boolean field, written as 1 when true and omitted
// when false.
func decodeTrue(tag uint64, v []byte) (bool, error) {
	if x, err := decodeU8(tag, v); err != nil || x != 1 {
		return false, fmt.Errorf("%w: field %d must be 1", ErrInvalid, tag)
	}
	return true, nil
}
