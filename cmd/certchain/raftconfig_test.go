package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certchain/certchain/raftstore"
)

// TestRaftTimeoutSettings: the Raft timeouts come from the file, then the
// environment, then flags; unset ones are the LAN defaults; inconsistent
// ones are refused naming the setting.
func TestRaftTimeoutSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.json")
	if err := os.WriteFile(file, []byte(`{"raft_heartbeat":"2s","raft_election":"3s","raft_lease":"1s","raft_commit":"100ms"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want raftstore.RaftTimeouts // after defaults
		err  string
	}{
		{name: "ok/defaults", want: raftstore.DefaultRaftTimeouts()},
		{name: "ok/flags", args: []string{"--raft-heartbeat", "250ms", "--raft-election", "400ms", "--raft-lease", "200ms", "--raft-commit", "20ms"},
			want: raftstore.RaftTimeouts{Heartbeat: 250 * ms, Election: 400 * ms, LeaderLease: 200 * ms, Commit: 20 * ms}},
		{name: "ok/env", env: map[string]string{"CERTCHAIN_RAFT_HEARTBEAT": "1s", "CERTCHAIN_RAFT_ELECTION": "1s"},
			want: raftstore.RaftTimeouts{Heartbeat: time.Second, Election: time.Second, LeaderLease: 500 * ms, Commit: 50 * ms}},
		{name: "ok/file", args: []string{"--config", file},
			want: raftstore.RaftTimeouts{Heartbeat: 2 * time.Second, Election: 3 * time.Second, LeaderLease: time.Second, Commit: 100 * ms}},
		{name: "ok/flag-over-env-over-file", args: []string{"--config", file, "--raft-election", "5s"}, env: map[string]string{"CERTCHAIN_RAFT_LEASE": "2s"},
			want: raftstore.RaftTimeouts{Heartbeat: 2 * time.Second, Election: 5 * time.Second, LeaderLease: 2 * time.Second, Commit: 100 * ms}},
		{name: "fail/lease-above-heartbeat", args: []string{"--raft-lease", "800ms"}, err: "Raft lease (800ms) cannot be longer than the heartbeat timeout (500ms)"},
		{name: "fail/election-below-heartbeat", args: []string{"--raft-heartbeat", "1s", "--raft-lease", "1s", "--raft-election", "600ms"},
			err: "Raft election timeout (600ms) cannot be shorter than the heartbeat timeout (1s)"},
		{name: "fail/too-short", args: []string{"--raft-heartbeat", "1ms"}, err: "at least 5ms"},
		{name: "fail/not-a-duration-in-env", env: map[string]string{"CERTCHAIN_RAFT_COMMIT": "soon"}, err: "CERTCHAIN_RAFT_COMMIT"},
		{name: "fail/not-a-duration-flag", args: []string{"--raft-heartbeat", "often"}, err: "raft-heartbeat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(tc.args, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.RaftTimeouts().WithDefaults(); got != tc.want {
				t.Fatalf("timeouts %+v, want %+v", got, tc.want)
			}
		})
	}
}
