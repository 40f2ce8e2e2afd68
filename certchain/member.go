package certchain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// MemberRecord is a member as the ledger records a change to it: added or
// replaced by member-set, or removed by member-remove. The members of a
// network are the genesis founders with these records applied
// (Genesis.WithMembers).
type MemberRecord struct {
	Member
	Removed bool   `json:"removed,omitempty"`
	Height  uint64 `json:"height"` // block of the change
	By      string `json:"by"`     // the admin who made it
}

// Encode returns the stored form of r (JSON: members are few and change
// rarely).
func (r *MemberRecord) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("certchain: member record cannot be encoded: %v", err)) // plain types only
	}
	return b
}

// DecodeMemberRecord parses what Encode wrote.
func DecodeMemberRecord(b []byte) (*MemberRecord, error) {
	var r MemberRecord
	if err := DecodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("%w: member record: %v", ErrInvalid, err)
	}
	return &r, nil
}

// DecodeMember parses the Member of a member-set or member-remove
// transaction: exactly one JSON object with known fields only.
func DecodeMember(b []byte) (*Member, error) {
	var m Member
	if err := DecodeStrict(b, &m); err != nil {
		return nil, fmt.Errorf("%w: member: %v", ErrInvalid, err)
	}
	return &m, nil
}

// DecodeStrict decodes b as exactly one JSON value into v, refusing
// unknown fields and trailing data: documents a typo must not slip through
// (genesis, members, signed requests).
func DecodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the document")
	}
	return nil
}

// WithMembers returns a copy of g whose members are g's founders with
// records applied: a record replaces the member of its name or adds one
// (added members follow the founders, by name), a removed one drops it.
// Every node derives the same set from the same records.
func (g *Genesis) WithMembers(records []*MemberRecord) *Genesis {
	if len(records) == 0 {
		return g
	}
	byName := make(map[string]*MemberRecord, len(records))
	for _, r := range records {
		byName[r.Name] = r
	}
	out := *g
	out.Members = make([]Member, 0, len(g.Members)+len(records))
	for _, m := range g.Members {
		if r, ok := byName[m.Name]; ok {
			delete(byName, m.Name)
			if r.Removed {
				continue
			}
			m = r.Member
		}
		out.Members = append(out.Members, m)
	}
	added := make([]*MemberRecord, 0, len(byName))
	for _, r := range byName {
		if !r.Removed {
			added = append(added, r)
		}
	}
	slices.SortFunc(added, func(a, b *MemberRecord) int { return strings.Compare(a.Name, b.Name) })
	for _, r := range added {
		out.Members = append(out.Members, r.Member)
	}
	return &out
}
