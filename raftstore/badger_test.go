package raftstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBadgerOptions(t *testing.T) {
	tests := []struct {
		name                   string
		o                      BadgerOptions
		memTable, block, index int64
		vlog                   int64
	}{
		{"default", BadgerOptions{SyncWrites: true}, defaultMemTableSize, defaultBlockCacheSize, defaultIndexCacheSize, defaultValueLogFileSize},
		{"small", BadgerOptions{SyncWrites: true, Small: true}, smallMemTableSize, smallBlockCacheSize, smallIndexCacheSize, smallValueLogFileSize},
		{"small no sync", BadgerOptions{Small: true}, smallMemTableSize, smallBlockCacheSize, smallIndexCacheSize, smallValueLogFileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := OpenBadger(t.TempDir(), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got := db.Opts()
			if got.SyncWrites != tt.o.SyncWrites || got.MemTableSize != tt.memTable ||
				got.BlockCacheSize != tt.block || got.IndexCacheSize != tt.index ||
				got.ValueLogFileSize != tt.vlog {
				t.Fatalf("options = sync %v memtable %d block %d index %d vlog %d",
					got.SyncWrites, got.MemTableSize, got.BlockCacheSize, got.IndexCacheSize, got.ValueLogFileSize)
			}
		})
	}
}

func TestBadgerOpenError(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenBadger(dir, BadgerOptions{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := OpenBadger(dir, BadgerOptions{Small: true}); err == nil {
		t.Fatal("second OpenBadger of a locked directory succeeded")
	}
}

func TestBadgerLogger(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := slogBadger{l}
	tests := []struct {
		log  func(string, ...any)
		want string
	}{
		{a.Errorf, `level=ERROR msg="disk 1"`},
		{a.Warningf, `level=WARN msg="disk 2"`},
		{a.Infof, `level=DEBUG msg="disk 3"`},
		{a.Debugf, `level=DEBUG msg="disk 4"`},
	}
	for i, tt := range tests {
		buf.Reset()
		tt.log("disk %d\n", i+1) // Badger's messages often end in a newline
		if got := buf.String(); !strings.Contains(got, tt.want) {
			t.Errorf("logged %q; want it to contain %q", got, tt.want)
		}
	}

	buf.Reset()
	quiet := slogBadger{slog.New(slog.NewTextHandler(&buf, nil))} // Info and up
	quiet.Infof("compaction chatter")
	if buf.Len() != 0 {
		t.Fatalf("Badger Info reached an Info-level logger: %q", buf.String())
	}
}

func TestBadgerRunValueLogGC(t *testing.T) {
	_, db := lsOpen(t, t.TempDir(), false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		RunValueLogGC(ctx, db, time.Millisecond)
		close(done)
	}()
	lsWaitFor(t, 5*time.Second, "a few GC ticks", lsAfter(20*time.Millisecond))
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunValueLogGC did not return after cancel")
	}
}

func TestBadgerRunValueLogGCStopsOnClose(t *testing.T) {
	_, db := lsOpen(t, t.TempDir(), false)
	done := make(chan struct{})
	go func() {
		RunValueLogGC(context.Background(), db, time.Millisecond)
		close(done)
	}()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunValueLogGC did not return after db.Close")
	}
}

// lsAfter returns a condition that holds once d has passed.
func lsAfter(d time.Duration) func() bool {
	deadline := time.Now().Add(d)
	return func() bool { return time.Now().After(deadline) }
}
