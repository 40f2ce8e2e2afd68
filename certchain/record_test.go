package certchain

import (
	"errors"
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
