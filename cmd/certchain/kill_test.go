package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certchain/certchain/api"
	apiclient "github.com/certchain/certchain/api/client"
	"github.com/certchain/certchain/internal/pki"
)

// buildBinary compiles this command once per test run.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certchain")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs `certchain node` on dir with kernel-chosen loopback
// ports (and any extra flags) and waits for its banner, which it prints
// once it has joined, knows a leader and wrote data/client.json.
func startProcess(t testing.TB, bin, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"node", "--data", dir, "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--raft", "127.0.0.1:0", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	logFile := filepath.Join(t.TempDir(), "node.log")
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ctrl-C stops the node") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("node exited before it was ready:\n%s", tail(logFile))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("node not ready after 30s:\n%s", tail(logFile))
	}
	return cmd
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-25):], "\n")
}

// TestKill9LosesNoAcknowledgedWrite publishes batches from several
// clients, kills the node with SIGKILL in the middle, restarts it on the
// same data directory and checks that every acknowledged certificate is on
// the ledger and the chain still audits.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	bin, dir := buildBinary(t), t.TempDir()
	node := startProcess(t, bin, dir)
	nid := mustNetworkID(t, dir)
	acked := &ackedIDs{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() { publishUntil(ctx, t, dir, nid, w, acked) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for acked.len() < 150 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := node.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = node.Wait()
	stop()
	wg.Wait()
	if acked.len() < 20 {
		t.Fatalf("only %d acknowledged before the kill", acked.len())
	}
	startProcess(t, bin, dir)
	for _, id := range acked.ids {
		if code, out := cli(t, dir, "status", id); code != 0 {
			t.Fatalf("acknowledged certificate lost after kill -9: %s", out)
		}
	}
	if out := mustCLI(t, dir, "ledger", "audit", "--url", readProfileURL(t, dir)); !strings.Contains(out, "OK:") {
		t.Fatalf("audit after kill -9: %s", out)
	}
	t.Logf("%d acknowledged certificates survived kill -9", acked.len())
}

// ackedIDs collects the certificate IDs the node acknowledged.
type ackedIDs struct {
	mu  sync.Mutex
	ids []string
}

func (a *ackedIDs) add(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, ids...)
}

func (a *ackedIDs) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

// publishUntil publishes batches of 10 fresh devices until ctx ends or
// the node dies, recording what the node acknowledged as published.
func publishUntil(ctx context.Context, t *testing.T, dir, nid string, worker int, acked *ackedIDs) {
	co := clientOptions{data: dir}
	c, err := co.client()
	if err != nil {
		t.Error(err)
		return
	}
	for i := 0; ctx.Err() == nil; i++ {
		var body bytes.Buffer
		for k := range 10 {
			cn := fmt.Sprintf("kill-%d-%d", worker, i*10+k)
			der, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: nid, Organization: "vendor", CommonName: cn})
			if err != nil {
				t.Error(err)
				return
			}
			body.Write(pki.EncodeCertPEM(der))
		}
		var resp api.PublishResponse
		err := c.Do(ctx, "POST", "/v1/certificates", "application/x-pem-file", body.Bytes(), &resp)
		if pe := (*apiclient.Error)(nil); errors.As(err, &pe) && pe.Status == 503 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Logf("worker %d stops: %v", worker, err)
			return // the node died: what was not answered was not acknowledged
		}
		for _, r := range resp.Results {
			if r.State == "published" {
				acked.add(r.ID)
			}
		}
	}
}

func mustNetworkID(t testing.TB, dir string) string {
	co := clientOptions{data: dir}
	c, err := co.client()
	if err != nil {
		t.Fatal(err)
	}
	var nv api.NetworkView
	if err := c.Do(context.Background(), "GET", "/v1/network", "", nil, &nv); err != nil {
		t.Fatal(err)
	}
	return nv.NetworkID
}

func readProfileURL(t testing.TB, dir string) string {
	co := clientOptions{data: dir}
	if err := co.fromProfile(); err != nil {
		t.Fatal(err)
	}
	return co.url
}
