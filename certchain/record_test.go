package certchain

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRecordTransitions(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		op      string
		wantErr error
		want    Status
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"ok/suspend-resume", []step{{"suspend", nil, StatusSuspended}, {"resume", nil, StatusGood}}},
		{"ok/suspend-revoke", []step{{"suspend", nil, StatusSuspended}, {"revoke", nil, StatusRevoked}}},
		{"ok/superseded-then-revoked", []step{{"supersede", nil, StatusSuperseded}, {"revoke", nil, StatusRevoked}}},
		{"fail/suspended-renewed", []step{{"suspend", nil, StatusSuspended}, {"supersede", ErrConflict, StatusSuspended}}},
		{"fail/revoked-is-terminal", []step{{"revoke", nil, StatusRevoked}, {"resume", ErrConflict, StatusRevoked},
			{"suspend", ErrConflict, StatusRevoked}, {"revoke", ErrConflict, StatusRevoked}, {"supersede", ErrConflict, StatusRevoked}}},
		{"fail/resume-good", []step{{"resume", ErrConflict, StatusGood}}},
		{"fail/suspend-twice", []step{{"suspend", nil, StatusSuspended}, {"suspend", ErrConflict, StatusSuspended}}},
		{"fail/suspend-superseded", []step{{"supersede", nil, StatusSuperseded}, {"suspend", ErrConflict, StatusSuperseded}}},
		{"fail/renew-superseded", []step{{"supersede", nil, StatusSuperseded}, {"supersede", ErrConflict, StatusSuperseded}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Record{Status: StatusGood}
			for i, s := range tc.steps {
				var err error
				switch s.op {
				case "suspend":
					err = r.Suspend(at, uint64(i+1))
				case "resume":
					err = r.Resume(at, uint64(i+1))
				case "revoke":
					err = r.Revoke(ReasonKeyCompromise, at, uint64(i+1))
				case "supersede":
					err = r.Supersede(Sum([]byte("next")), at, uint64(i+1))
				}
				if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
					t.Fatalf("step %d %s: err %v, want %v", i, s.op, err, s.wantErr)
				}
				if r.Status != s.want {
					t.Fatalf("step %d %s: status %s, want %s", i, s.op, r.Status, s.want)
				}
			}
		})
	}
}

func TestRevokeReasons(t *testing.T) {
	for _, reason := range []Reason{ReasonCertificateHold, ReasonRemoveFromCRL, 7, 11} {
		r := &Record{Status: StatusGood}
		if err := r.Revoke(reason, time.Time{}, 1); !errors.Is(err, ErrInvalid) || r.Status != StatusGood {
			t.Errorf("reason %d: err %v status %s", reason, err, r.Status)
		}
	}
	if got, err := ParseReason("key-compromise"); err != nil || got != ReasonKeyCompromise {
		t.Fatalf("ParseReason: %v %v", got, err)
	}
	if got, err := ParseReason("5"); err != nil || got != ReasonCessationOfOperation {
		t.Fatalf("ParseReason(5): %v %v", got, err)
	}
}

func TestStatusAt(t *testing.T) {
	na := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Record{Status: StatusGood, NotAfter: na}
	if r.StatusAt(na) != StatusGood || r.StatusAt(na.Add(time.Second)) != StatusExpired {
		t.Fatal("expiry not derived")
	}
	r.Status = StatusRevoked
	if r.StatusAt(na.Add(time.Hour)) != StatusRevoked {
		t.Fatal("revoked must stay revoked after expiry")
	}
}

func TestTextRoundTrips(t *testing.T) {
	for c := range verdictNames {
		b, _ := c.MarshalText()
		var got VerdictCode
		if err := got.UnmarshalText(b); err != nil || got != c {
			t.Errorf("verdict %s: %v %v", c, got, err)
		}
	}
	for s := range statusNames {
		b, _ := s.MarshalText()
		var got Status
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("status %s: %v %v", s, got, err)
		}
	}
}

// sampleRecords covers every field of Record: a self-signed device
// certificate valid until 9999 (RFC 5280 §4.1.2.5), a CA-signed renewal
// that was later revoked, and a superseded one with an old NotBefore.
func sampleRecords() map[string]*Record {
	nb := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := time.Unix(0, 1_772_000_000_123_456_789).UTC()
	return map[string]*Record{
		"self-signed-good": {
			ID: Sum([]byte("c1")), DER: []byte{0x30, 0x03, 0x02, 0x01, 0x01}, Serial: "5f3a09c1",
			Subject: "CN=SC-1,O=vendor", Issuer: "CN=SC-1,O=vendor",
			NotBefore: nb, NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), SelfSigned: true,
			Identity: "CN=SC-1,O=vendor", KeyHash: Sum([]byte("k1")), IssuerKey: []byte{0x04, 0x01, 0x02},
			Submitter: "vendor", Height: 7, TxID: Sum([]byte("t1")),
			Status: StatusGood, StatusTime: at, StatusHeight: 7,
		},
		"ca-signed-revoked-renewal": {
			ID: Sum([]byte("c2")), DER: []byte{0x30, 0x00}, Serial: "-1", Subject: "CN=gw.example",
			Issuer: "CN=Member CA,O=ca", NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0),
			Identity: "spiffe://example/gw", KeyHash: Sum([]byte("k2")), CA: "ca", IssuerKey: []byte{0x04},
			Submitter: "ca", Height: 1 << 40, TxID: Sum([]byte("t2")),
			Status: StatusRevoked, Reason: ReasonKeyCompromise, StatusTime: at, StatusHeight: 1<<40 + 1,
			Replaces: Sum([]byte("c0")),
		},
		"superseded-minimal": {
			ID: Sum([]byte("c3")), NotBefore: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC),
			Status: StatusSuperseded, Reason: ReasonSuperseded, SupersededBy: Sum([]byte("c4")),
		},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, rec := range sampleRecords() {
		t.Run("ok/"+name, func(t *testing.T) {
			enc := rec.Encode()
			got, err := DecodeRecord(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, rec) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, rec)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

// TestRecordEncodingGolden pins the stored record format: raftstore keeps
// every record in it, so a change here needs a migration.
func TestRecordEncodingGolden(t *testing.T) {
	golden(t, "record.hex", hex.EncodeToString(sampleRecords()["ca-signed-revoked-renewal"].Encode())+"\n")
	n := NodeRecord{ID: "node2", Address: "10.0.0.2:8300", API: "https://10.0.0.2:8443", Replica: true, Removed: true, Height: 12, By: "admin"}
	golden(t, "noderecord.hex", hex.EncodeToString(n.Encode())+"\n")
}

func TestRecordTimesDecodeAsUTC(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 5, time.FixedZone("CET", 3600))
	rec := &Record{ID: Sum([]byte("c")), Status: StatusGood, StatusTime: at}
	got, err := DecodeRecord(rec.Encode())
	if err != nil || !got.StatusTime.Equal(at) || got.StatusTime.Location() != time.UTC {
		t.Fatalf("got %v (%v), want %v in UTC", got.StatusTime, err, at)
	}
}

func TestNodeRecordRoundTrip(t *testing.T) {
	for _, n := range []NodeRecord{
		{ID: "node1", Address: "127.0.0.1:8300", API: "https://127.0.0.1:8443", Height: 1, By: "admin"},
		{ID: "node2", Address: "10.0.0.2:8300", API: "https://10.0.0.2:8443", Replica: true, Removed: true, Height: 12, By: "admin"},
		{ID: "n"},
	} {
		got, err := DecodeNodeRecord(n.Encode())
		if err != nil || !reflect.DeepEqual(*got, n) {
			t.Errorf("%s: got %+v %v", n.ID, got, err)
		}
	}
}

func TestDecodeRecordRejectsNonCanonical(t *testing.T) {
	valid := sampleRecords()["self-signed-good"].Encode()
	id := Sum([]byte("c"))
	minimal := append([]byte{recTagID, 32}, id[:]...) // + status
	with := func(fields ...byte) []byte { return append(append([]byte{}, minimal...), fields...) }
	tm := func(tag byte, sec uint64, nsec uint32) []byte {
		b := binary.BigEndian.AppendUint64([]byte{tag, timeLen}, sec)
		return binary.BigEndian.AppendUint32(b, nsec)
	}
	cases := map[string][]byte{
		"fail/empty":              {},
		"fail/trailing-byte":      append(append([]byte{}, valid...), 0x00),
		"fail/unknown-field":      with(recTagStatus, 1, 1, 99, 1, 0),
		"fail/out-of-order":       append([]byte{recTagDER, 1, 0x30}, minimal...),
		"fail/repeated-field":     with(recTagSerial, 1, 'a', recTagSerial, 1, 'b', recTagStatus, 1, 1),
		"fail/truncated":          valid[:len(valid)-1],
		"fail/huge-length":        {recTagID, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"fail/overlong-length":    append([]byte{recTagID, 0xa0, 0x00}, id[:]...),
		"fail/short-id":           {recTagID, 2, 1, 2, recTagStatus, 1, 1},
		"fail/zero-id":            append(append([]byte{recTagID, 32}, make([]byte, 32)...), recTagStatus, 1, 1),
		"fail/no-id":              {recTagStatus, 1, 1},
		"fail/no-status":          minimal,
		"fail/derived-status":     with(recTagStatus, 1, byte(StatusExpired)),
		"fail/zero-status":        with(recTagStatus, 1, 0),
		"fail/empty-der":          append(append([]byte{}, minimal[:34]...), recTagDER, 0, recTagStatus, 1, 1),
		"fail/empty-serial":       with(recTagSerial, 0, recTagStatus, 1, 1),
		"fail/self-signed-2":      with(recTagSelfSigned, 1, 2, recTagStatus, 1, 1),
		"fail/zero-height":        with(recTagHeight, 8, 0, 0, 0, 0, 0, 0, 0, 0, recTagStatus, 1, 1),
		"fail/short-height":       with(recTagHeight, 1, 7, recTagStatus, 1, 1),
		"fail/short-time":         with(recTagNotBefore, 8, 0, 0, 0, 0, 0, 0, 0, 1, recTagStatus, 1, 1),
		"fail/nanos-overflow":     with(append(tm(recTagNotBefore, 1, 1e9), recTagStatus, 1, 1)...),
		"fail/zero-time":          with(append(tm(recTagNotBefore, uint64(time.Time{}.Unix()), 0), recTagStatus, 1, 1)...),
		"fail/time-out-of-range":  with(append(tm(recTagNotBefore, 1<<63-1, 0), recTagStatus, 1, 1)...),
		"fail/zero-replaces-hash": with(append([]byte{recTagStatus, 1, 1, recTagReplaces, 32}, make([]byte, 32)...)...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if r, err := DecodeRecord(b); !errors.Is(err, ErrInvalid) || r != nil {
				t.Fatalf("want ErrInvalid and no record, got %v %+v", err, r)
			}
		})
	}
	if _, err := DecodeRecord(with(recTagStatus, 1, 1)); err != nil {
		t.Fatalf("minimal record: %v", err)
	}
}

func TestDecodeNodeRecordRejectsNonCanonical(t *testing.T) {
	cases := map[string][]byte{
		"fail/empty":          {},
		"fail/no-id":          {nodeTagAPI, 1, 'x'},
		"fail/unknown-field":  {nodeTagID, 1, 'n', 99, 1, 0},
		"fail/replica-2":      {nodeTagID, 1, 'n', nodeTagReplica, 1, 2},
		"fail/trailing-bytes": {nodeTagID, 1, 'n', nodeTagBy},
		"fail/out-of-order":   {nodeTagBy, 1, 'a', nodeTagID, 1, 'n'},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeNodeRecord(b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(rec.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeRecord(b)
		if err != nil {
			return
		}
		enc := got.Encode()
		if !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
		again, err := DecodeRecord(enc)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("decode(encode(x)) != x: %v", err)
		}
	})
}

func FuzzDecodeNodeRecord(f *testing.F) {
	n := NodeRecord{ID: "node2", Address: "10.0.0.2:8300", API: "https://10.0.0.2:8443", Replica: true, Height: 12, By: "admin"}
	f.Add(n.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeNodeRecord(b)
		if err != nil {
			return
		}
		enc := got.Encode()
		again, err := DecodeNodeRecord(enc)
		if !bytes.Equal(enc, b) || err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

func BenchmarkRecordEncode(b *testing.B) {
	rec := sampleRecords()["ca-signed-revoked-renewal"]
	b.ReportAllocs()
	for b.Loop() {
		rec.Encode()
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	enc := sampleRecords()["ca-signed-revoked-renewal"].Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBlockedKeyRoundTrip(t *testing.T) {
	k := BlockedKey{KeyHash: Sum([]byte("spki")), Reason: ReasonKeyCompromise, By: "admin",
		Time: time.Date(2026, 11, 22, 8, 0, 0, 5, time.UTC), Height: 42, TxID: Sum([]byte("tx")), Revoked: 3}
	got, err := DecodeBlockedKey(k.Encode())
	if err != nil || !reflect.DeepEqual(*got, k) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := DecodeBlockedKey((&BlockedKey{By: "admin"}).Encode()); err == nil {
		t.Fatal("a blocked key without its hash decoded")
	}
}

func FuzzDecodeBlockedKey(f *testing.F) {
	k := BlockedKey{KeyHash: Sum([]byte("spki")), Reason: ReasonKeyCompromise, By: "admin", Time: time.Unix(1, 2).UTC(), Height: 42, Revoked: 3}
	f.Add(k.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeBlockedKey(b)
		if err != nil {
			return
		}
		enc := got.Encode()
		again, err := DecodeBlockedKey(enc)
		if !bytes.Equal(enc, b) || err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}
