package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BadgerOptions tunes OpenBadger.
type BadgerOptions struct {
	// SyncWrites makes every committed transaction fsync its write-ahead log
	// before Commit returns. Badger does NOT fsync by default, so without it
	// an acknowledged write (a Raft vote, term or log entry) can be lost on
	// power failure. Production nodes always set it to true; only tests and
	// benchmarks turn it off.
	SyncWrites bool
	// Small shrinks memtables, caches and value-log files so that tests and
	// several nodes in one process stay cheap (roughly 100 MiB per database
	// instead of a few hundred).
	Small bool
	// Logger receives Badger's messages; nil means slog.Default(). Badger's
	// Info and Debug messages are logged at slog.LevelDebug.
	Logger *slog.Logger
}

// Memory budget. Defaults keep a node well under 1.5 GiB RSS with millions
// of records: at most 3 memtables of 64 MiB, a 128 MiB block cache and a
// bounded 64 MiB index cache (Badger's default IndexCacheSize of 0 keeps
// every table index and bloom filter in memory, growing with the data).
const (
	mib = 1 << 20

	defaultMemTableSize     = 64 * mib
	defaultNumMemtables     = 3
	defaultBlockCacheSize   = 128 * mib
	defaultIndexCacheSize   = 64 * mib
	defaultValueLogFileSize = 256 * mib

	// valueThreshold sends values above it to the value log: certificate
	// records (about 700 bytes) and blocks go there, so a block's Badger
	// transaction holds pointers and a 2,000-certificate block stays well
	// inside Badger's transaction budget even with SmallMemory.
	valueThreshold = 1 << 8

	smallMemTableSize     = 16 * mib
	smallNumMemtables     = 2
	smallBlockCacheSize   = 16 * mib
	smallIndexCacheSize   = 8 * mib
	smallValueLogFileSize = 64 * mib
)

// OpenBadger opens (creating if needed) the Badger database in dir with
// options suited to certchain: moderate memory use, Badger's messages sent
// to slog, and fsync on commit when o.SyncWrites is set.
func OpenBadger(dir string, o BadgerOptions) (*badger.DB, error) {
	db, err := badger.Open(badgerOptions(dir, o))
	if err != nil {
		return nil, fmt.Errorf("raftstore: open badger %s: %w", dir, err)
	}
	return db, nil
}

// OpenBadgerReadOnly opens an existing database for reading only (the
// offline audit). It fails while a node holds the directory.
func OpenBadgerReadOnly(dir string) (*badger.DB, error) {
	opts := badgerOptions(dir, BadgerOptions{Small: true}).WithReadOnly(true)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("raftstore: open badger %s read-only: %w", dir, err)
	}
	return db, nil
}

// badgerOptions translates BadgerOptions into badger.Options.
func badgerOptions(dir string, o BadgerOptions) badger.Options {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(o.SyncWrites).
		WithLogger(slogBadger{logger.With("component", "badger")}).
		WithMemTableSize(defaultMemTableSize).
		WithNumMemtables(defaultNumMemtables).
		WithBlockCacheSize(defaultBlockCacheSize).
		WithIndexCacheSize(defaultIndexCacheSize).
		WithValueLogFileSize(defaultValueLogFileSize).
		// Values above valueThreshold (records, blocks, Raft entries) live
		// in the value log, so a block's Badger transaction holds only
		// pointers to them and a large block still fits one transaction
		// (see doc.go).
		WithValueThreshold(valueThreshold).
		// The FSM alone writes the ledger, and Raft's writers of its log
		// never touch the same keys at once (new entries, old ones
		// compacted away, term and vote); prechecks read in write
		// transactions that are never committed. Nothing can conflict, so
		// Badger need not track the keys every transaction reads.
		WithDetectConflicts(false)
	if o.Small {
		opts = smallOptions(opts)
	}
	return opts
}

// smallOptions shrinks opts for tests and multi-node-in-one-process setups.
func smallOptions(opts badger.Options) badger.Options {
	return opts.
		WithMemTableSize(smallMemTableSize).
		WithNumMemtables(smallNumMemtables).
		WithBlockCacheSize(smallBlockCacheSize).
		WithIndexCacheSize(smallIndexCacheSize).
		WithValueLogFileSize(smallValueLogFileSize).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(6).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithBaseTableSize(1 * mib).
		WithBaseLevelSize(4 * mib)
}

// slogBadger adapts a *slog.Logger to badger.Logger. Badger's Info and
// Debug chatter goes to slog's Debug level to keep logs quiet.
type slogBadger struct{ l *slog.Logger }

// Errorf implements badger.Logger.
func (s slogBadger) Errorf(f string, v ...any) { s.log(slog.LevelError, f, v) }

// Warningf implements badger.Logger.
func (s slogBadger) Warningf(f string, v ...any) { s.log(slog.LevelWarn, f, v) }

// Infof implements badger.Logger.
func (s slogBadger) Infof(f string, v ...any) { s.log(slog.LevelDebug, f, v) }

// Debugf implements badger.Logger.
func (s slogBadger) Debugf(f string, v ...any) { s.log(slog.LevelDebug, f, v) }

// log formats only when the level is enabled; Badger's messages often end
// in a newline, which slog does not want.
func (s slogBadger) log(level slog.Level, f string, v []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, strings.TrimRight(fmt.Sprintf(f, v...), "\n"))
}

// RunValueLogGC reclaims space in db's value log every interval until ctx
// is done or db is closed; run it in its own goroutine. Each tick calls
// db.RunValueLogGC(0.5) repeatedly while it rewrites a file, as Badger
// recommends. badger.ErrNoRewrite (nothing to reclaim) is not an error;
// other failures are logged through slog.Default.
func RunValueLogGC(ctx context.Context, db *badger.DB, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if db.IsClosed() {
			return
		}
		valueLogGCOnce(ctx, db)
	}
}

// valueLogGCOnce runs value-log GC until a pass rewrites nothing.
func valueLogGCOnce(ctx context.Context, db *badger.DB) {
	for ctx.Err() == nil {
		err := db.RunValueLogGC(0.5)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			// Nothing to reclaim, or GC already running / DB closing.
		default:
			slog.Default().Warn("badger value log GC failed", "error", err)
		}
		return
	}
}
