package pki

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestMakeDevices(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	o := testOptions()
	o.CommonName, o.URI = "SC-", "urn:certchain:certchain-test:femto:"
	const n = 50
	var calls, last atomic.Int64
	err := MakeDevices(context.Background(), n, dir, o, 4, func(done int) {
		calls.Add(1)
		last.Store(int64(done))
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != n || last.Load() != n {
		t.Fatalf("progress called %d times, last %d", calls.Load(), last.Load())
	}
	for i := 1; i <= n; i++ {
		cn := fmt.Sprintf("SC-%07d", i)
		checkPair(t, dir, cn, o)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2*n {
		t.Fatalf("%d files, want %d", len(entries), 2*n)
	}
}

// checkPair loads <cn>.pem/.key from dir and checks them.
func checkPair(t *testing.T, dir, cn string, o DeviceOptions) {
	t.Helper()
	keyFile := filepath.Join(dir, cn+".key")
	cert, _, err := LoadKeyPair(filepath.Join(dir, cn+".pem"), keyFile)
	if err != nil {
		t.Fatal(err)
	}
	want := o
	want.CommonName, want.URI = cn, o.URI+cn
	checkDevice(t, cert.Raw, want)
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
}

func TestMakeDevicesStops(t *testing.T) {
	o := testOptions()
	o.CommonName = "SC-"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) context.Context
		want  error
	}{
		{"fail/existing-file", func(t *testing.T, dir string) context.Context {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "SC-0000003.key"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return context.Background()
		}, fs.ErrExist},
		{"fail/cancelled", func(t *testing.T, dir string) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			ctx := tt.setup(t, dir)
			if err := MakeDevices(ctx, 20, dir, o, 2, nil); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMakeDevicesBadPrefix(t *testing.T) {
	o := testOptions()
	o.CommonName = "../SC-"
	if err := MakeDevices(context.Background(), 1, t.TempDir(), o, 1, nil); err == nil {
		t.Fatal("a prefix with a path separator was accepted")
	}
}

func TestMakeDevicesWidth(t *testing.T) {
	b, err := newBatch(12_345_678, "d", DeviceOptions{NetworkID: "n", CommonName: "X"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.width != 8 || b.workers < 1 {
		t.Fatalf("width %d workers %d", b.width, b.workers)
	}
}

// BenchmarkMakeDevices measures the whole factory-line path (key, cert,
// PEM, two files) for P-256 on all cores.
func BenchmarkMakeDevices(b *testing.B) {
	o := testOptions()
	o.CommonName, o.URI = "SC-", "urn:certchain:bench:femto:"
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := MakeDevices(context.Background(), b.N, dir, o, 0, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "devices/s")
}
