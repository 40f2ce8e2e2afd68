package raftstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger gives hashicorp/raft (and its transport and snapshot
// store) an hclog.Logger whose messages go to l at the level raftLevel
// decides.
func newRaftLogger(l *slog.Logger) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Level: hclog.Off, Output: io.Discard})
	il.RegisterSink(&raftSink{log: l})
	return il
}

// raftSink re-emits hclog messages through slog.
type raftSink struct{ log *slog.Logger }

// Accept implements hclog.SinkAdapter.
func (s *raftSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	lv := raftLevel(level, msg, args)
	ctx := context.Background()
	if !s.log.Enabled(ctx, lv) {
		return
	}
	s.log.Log(ctx, lv, msg, append([]any{"component", name}, args...)...)
}

// raftLevel maps an hclog level to slog's. Raft's Info messages (state
// changes, replication starting) are chatter for an operator: Debug (the
// node logs leader changes itself, observe.go). Two warnings describe what
// every node does when it starts and are not alarming then (see doc.go,
// "Logs"): an election started by a node that has known no leader since
// it started, and a node without a configuration (not yet added to a
// cluster) declining to start one.
func raftLevel(level hclog.Level, msg string, args []any) slog.Level {
	switch {
	case level >= hclog.Error:
		return slog.LevelError
	case level == hclog.Warn && expectedAtStart(msg, args):
		return slog.LevelDebug
	case level == hclog.Warn:
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func expectedAtStart(msg string, args []any) bool {
	switch msg {
	case "heartbeat timeout reached, starting election":
		return argString(args, "last-leader-id") == ""
	case "no known peers, aborting election":
		return true
	}
	return false
}

// argString returns the value of key in hclog's key-value args as text.
func argString(args []any, key string) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}
