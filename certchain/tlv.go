package certchain

import (
	"encoding/binary"
	"fmt"
)

// maxField bounds one TLV value; larger values are refused on decode so a
// hostile length cannot make us allocate without limit.
const maxField = 16 << 20

// tlvWriter appends canonical TLV fields (see the package doc).
type tlvWriter struct{ buf []byte }

func (w *tlvWriter) bytes(tag uint64, v []byte) {
	if len(v) == 0 {
		return
	}
	w.buf = binary.AppendUvarint(w.buf, tag)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(v)))
	w.buf = append(w.buf, v...)
}

// repeated writes v even when empty, so that list positions survive.
func (w *tlvWriter) repeated(tag uint64, v []byte) {
	w.buf = binary.AppendUvarint(w.buf, tag)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(v)))
	w.buf = append(w.buf, v...)
}

func (w *tlvWriter) str(tag uint64, s string) { w.bytes(tag, []byte(s)) }

func (w *tlvWriter) u64(tag uint64, v uint64) {
	if v == 0 {
		return
	}
	w.bytes(tag, binary.BigEndian.AppendUint64(nil, v))
}

func (w *tlvWriter) hash(tag uint64, h Hash) {
	if h.IsZero() {
		return
	}
	w.bytes(tag, h[:])
}

// tlvReader walks canonical TLV fields, enforcing ascending tag order.
type tlvReader struct {
	buf     []byte
	lastTag uint64
	started bool
	dup     bool // the field just read repeats the previous tag
}

// single rejects a second occurrence of a non-repeated field.
func (r *tlvReader) single(tag uint64) error {
	if r.dup {
		return fmt.Errorf("%w: field %d repeated", ErrInvalid, tag)
	}
	return nil
}

// next returns the next field, or ok=false at the end. Tags must not
// decrease; a tag equal to the previous one is allowed only for repeated
// fields, which the caller checks with dup.
func (r *tlvReader) next() (tag uint64, val []byte, ok bool, err error) {
	if len(r.buf) == 0 {
		return 0, nil, false, nil
	}
	tag, n := binary.Uvarint(r.buf)
	if n <= 0 || n != uvarintLen(tag) {
		return 0, nil, false, fmt.Errorf("%w: bad field tag", ErrInvalid)
	}
	r.buf = r.buf[n:]
	l, n := binary.Uvarint(r.buf)
	if n <= 0 || n != uvarintLen(l) || l > maxField || l > uint64(len(r.buf)-n) {
		return 0, nil, false, fmt.Errorf("%w: bad length for field %d", ErrInvalid, tag)
	}
	val = r.buf[n : n+int(l)]
	r.buf = r.buf[n+int(l):]
	if r.started && tag < r.lastTag {
		return 0, nil, false, fmt.Errorf("%w: field %d out of order", ErrInvalid, tag)
	}
	r.dup = r.started && tag == r.lastTag
	r.started, r.lastTag = true, tag
	return tag, val, true, nil
}

func decodeU64(tag uint64, v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: field %d: want 8 bytes, got %d", ErrInvalid, tag, len(v))
	}
	x := binary.BigEndian.Uint64(v)
	if x == 0 {
		return 0, fmt.Errorf("%w: field %d: zero value must be omitted", ErrInvalid, tag)
	}
	return x, nil
}

func decodeHash(tag uint64, v []byte) (Hash, error) {
	var h Hash
	if len(v) != len(h) {
		return h, fmt.Errorf("%w: field %d: want %d bytes, got %d", ErrInvalid, tag, len(h), len(v))
	}
	copy(h[:], v)
	if h.IsZero() {
		return h, fmt.Errorf("%w: field %d: zero value must be omitted", ErrInvalid, tag)
	}
	return h, nil
}

func decodeStr(tag uint64, v []byte) (string, error) {
	if len(v) == 0 {
		return "", fmt.Errorf("%w: field %d: empty value must be omitted", ErrInvalid, tag)
	}
	return string(v), nil
}

func (w *tlvWriter) u8(tag uint64, v uint8) {
	if v == 0 {
		return
	}
	w.bytes(tag, []byte{v})
}

func decodeU8(tag uint64, v []byte) (uint8, error) {
	if len(v) != 1 || v[0] == 0 {
		return 0, fmt.Errorf("%w: field %d: want one non-zero byte", ErrInvalid, tag)
	}
	return v[0], nil
}

// uvarintLen is the length of the minimal uvarint encoding of x; longer
// (overlong) encodings are not canonical and are refused.
func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// decodeFields hands every field of b to set, in order, refusing a tag
// that appears twice (for records, whose fields are never repeated).
func decodeFields(b []byte, set func(tag uint64, v []byte) error) error {
	r := tlvReader{buf: b}
	for {
		tag, v, ok, err := r.next()
		if err == nil && ok {
			err = r.single(tag)
		}
		if err == nil && ok {
			err = set(tag, v)
		}
		if err != nil || !ok {
			return err
		}
	}
}
