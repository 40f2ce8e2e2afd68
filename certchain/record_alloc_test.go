//go:build !race

package certchain

import "testing"

// The race detector's instrumentation makes small buffers escape, so
// allocations are counted only without it.

func TestRecordEncodeAllocatesOnce(t *testing.T) {
	rec := sampleRecords()["ca-signed-revoked-renewal"]
	if n := testing.AllocsPerRun(100, func() { rec.Encode() }); n != 1 {
		t.Fatalf("Encode: %v allocations, want 1", n)
	}
}
