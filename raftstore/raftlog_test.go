package raftstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// logBuffer collects a node's log lines (slog's text format).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// TestSingleNodeStartLogsNoWarnings starts a single-node ledger the way
// `certchain node` does in development (bootstrap, default timeouts, log
// at info), writes to it, stops it and starts it again on its data: the
// log names the leader and holds no WARN or ERROR line.
func TestSingleNodeStartLogsNoWarnings(t *testing.T) {
	tn := newTestNet(t)
	dir := t.TempDir()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, start := range []string{"first start", "restart"} {
		n, err := Open(Config{ID: "node1", Dir: dir, RaftAddr: "127.0.0.1:0", Genesis: tn.Genesis, Bootstrap: true, SmallMemory: true, Logger: logger})
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = n.WaitLeader(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		submit(t, n, publishTx(tn.device(t)))
		if err := n.Close(); err != nil {
			t.Fatalf("%s: close: %v", start, err)
		}
	}
	leaders := 0
	for _, l := range logs.lines() {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Errorf("single-node start logged: %s", l)
		}
		if strings.Contains(l, `msg="raft leader" leader=node1 this_node=true`) {
			leaders++
		}
	}
	if leaders != 2 {
		t.Fatalf("%d \"raft leader\" lines for two starts, want 2; log:\n%s", leaders, strings.Join(logs.lines(), "\n"))
	}
}

// TestRaftLogLevels: Raft's warnings stay warnings unless they describe a
// node's start (no leader known yet, no configuration yet).
func TestRaftLogLevels(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level hclog.Level
		msg   string
		args  []any
		want  slog.Level
	}{
		{"start/election-no-leader-known", hclog.Warn, "heartbeat timeout reached, starting election",
			[]any{"last-leader-addr", raft.ServerAddress(""), "last-leader-id", raft.ServerID("")}, slog.LevelDebug},
		{"start/no-configuration-yet", hclog.Warn, "no known peers, aborting election", nil, slog.LevelDebug},
		{"warn/leader-lost", hclog.Warn, "heartbeat timeout reached, starting election",
			[]any{"last-leader-addr", raft.ServerAddress("127.0.0.1:8300"), "last-leader-id", raft.ServerID("node1")}, slog.LevelWarn},
		{"warn/election-timeout", hclog.Warn, "Election timeout reached, restarting election", nil, slog.LevelWarn},
		{"warn/quorum-lost", hclog.Warn, "failed to contact quorum of nodes, stepping down", nil, slog.LevelWarn},
		{"error/stays-error", hclog.Error, "failed to heartbeat to", []any{"peer", "x"}, slog.LevelError},
		{"info/is-debug", hclog.Info, "entering follower state", nil, slog.LevelDebug},
		{"trace/is-debug", hclog.Trace, "anything", nil, slog.LevelDebug},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := raftLevel(tc.level, tc.msg, tc.args); got != tc.want {
				t.Fatalf("level %v, want %v", got, tc.want)
			}
		})
	}
}
