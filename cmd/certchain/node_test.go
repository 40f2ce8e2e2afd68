package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClientProfileBeforeListenersAnswer: `certchain node` writes
// data/client.json before its listeners answer, so a script that waits
// for /healthz and then runs the CLI finds the profile.
func TestClientProfileBeforeListenersAnswer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs bytes.Buffer
	e := &env{stdout: &out, stderr: &logs, getenv: func(string) string { return "" }}
	exited, stopped := make(chan int, 1), make(chan struct{})
	raftAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	go func() {
		defer close(stopped)
		exited <- run(ctx, e, []string{"node", "--data", dir, "--http", httpAddr, "--https", httpsAddr, "--raft", raftAddr})
	}()
	t.Cleanup(func() { // stop the node before its directory is removed
		cancel()
		select {
		case <-stopped:
		case <-time.After(60 * time.Second):
			t.Error("node did not stop")
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break // the first answer
		}
		select {
		case code := <-exited:
			t.Fatalf("node exited %d before answering:\n%s", code, logs.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz answer within a minute: %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "client.json"))
	if err != nil {
		t.Fatalf("/healthz answered before the CLI profile was written: %v", err)
	}
	var p clientProfile
	if err := json.Unmarshal(b, &p); err != nil || p.URL != "https://"+httpsAddr || p.ReadURL != "http://"+httpAddr || p.Members["vendor"].Cert == "" {
		t.Fatalf("profile %+v (%v):\n%s", p, err, b)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".client.json.*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("node exit %d:\n%s", code, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("node did not stop")
	}
}
