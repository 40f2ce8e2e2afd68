package client

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"-1", 0},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestErrorTemporary(t *testing.T) {
	for status, want := range map[int]bool{429: true, 503: true, 504: true, 400: false, 403: false, 409: false, 422: false, 500: false} {
		e := &Error{}
		e.Status = status
		if e.Temporary() != want {
			t.Errorf("status %d: Temporary() = %v, want %v", status, !want, want)
		}
	}
}

func TestErrorNotApplied(t *testing.T) {
	for _, tc := range []struct {
		slug   string
		status int
		want   bool
	}{
		{"not-applied", 503, true},
		{"not-leader", 503, true},
		{"busy", 503, true},
		{"too-many-requests", 429, true},
		{"invalid", 422, true},
		{"too-large", 413, true},
		{"outcome-unknown", 503, false},
		{"timeout", 504, false},
		{"internal", 500, false},
	} {
		e := &Error{}
		e.Type, e.Status = "urn:certchain:problem:"+tc.slug, tc.status
		if e.NotApplied() != tc.want {
			t.Errorf("%s (%d): NotApplied() = %v, want %v", tc.slug, tc.status, !tc.want, tc.want)
		}
	}
}
