package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlocks names the README blocks TestREADME runs, in README order: a
// marker removed from the README fails the test instead of silently
// running less.
var readmeBlocks = []string{
	"node-start", "walk-through", "offline-audit", "network-id-openssl", "onboarding",
	"curl-stream", "ocsp-ca-issued", "ocsp-self-signed", "ocsp-delegate",
}

// readmeCounts are the only edits TestREADME makes to the README besides
// the node's addresses: the walk-through's 5000 devices become 500 to keep
// the test short (its commands and expected output are otherwise as
// written). Each must still occur in the README.
var readmeCounts = [][2]string{
	{"--count 5000 ", "--count 500 "},
	{"5000 already on the ledger", "500 already on the ledger"},
}

// readmeTools are what the README's commands use besides certchain
// (`make tools` installs them).
var readmeTools = []string{"bash", "openssl", "curl", "jq"}

// TestREADME runs the README's walk-through and recipes as a reader
// copies them: in a fresh directory holding bin/certchain, with a
// development node started there the ordinary way (`bin/certchain node`,
// on free loopback ports that replace 127.0.0.1:8443, :8080 and :8300 in
// the README), each marked block in README order with bash -euo pipefail,
// checking the output the README shows (see readme_parse_test.go for the
// markers and what counts as expected output). A block that fails stops
// the test: later blocks build on earlier ones.
func TestREADME(t *testing.T) {
	for _, tool := range readmeTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s: run `make tools` (%v)", tool, err)
		}
	}
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	linkBinary(t, buildBinary(t), work)
	node := startREADMENode(t, work)
	blocks := readmeParse(t, readmeRewrite(t, string(text), node.banner))
	for _, b := range blocks {
		if b.mode == readmeStopped {
			node.stop(t)
		}
		if !t.Run(b.name, func(t *testing.T) { runREADMEBlock(t, b, work, node.banner) }) {
			t.Fatalf("README block %q failed; the blocks after it build on it", b.name)
		}
	}
}

// linkBinary makes bin/certchain in dir the binary under test.
func linkBinary(t *testing.T, bin, dir string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "bin", "certchain")); err != nil {
		t.Fatal(err)
	}
}

// readmeParse parses the README and checks it has the blocks the test
// knows, run-while-up blocks before the stopped ones.
func readmeParse(t *testing.T, text string) []readmeBlock {
	t.Helper()
	blocks, err := parseREADME(text)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range blocks {
		names = append(names, b.name)
	}
	if !slices.Equal(names, readmeBlocks) {
		t.Fatalf("README blocks marked readme-test: %q, want %q (update readmeBlocks with the README)", names, readmeBlocks)
	}
	slices.SortStableFunc(blocks, func(a, b readmeBlock) int { return readmeStage(a) - readmeStage(b) })
	return blocks
}

// readmeStage orders blocks: 0 while the node runs, 1 after it stopped.
func readmeStage(b readmeBlock) int {
	if b.mode == readmeStopped {
		return 1
	}
	return 0
}

// readmeRewrite puts the node's addresses in place of the README's
// defaults and applies readmeCounts, each of which must be used.
func readmeRewrite(t *testing.T, text, banner string) string {
	t.Helper()
	swaps := append([][2]string{
		{"127.0.0.1:8443", bannerAddr(t, banner, "https (mTLS):")},
		{"127.0.0.1:8080", bannerAddr(t, banner, "http (reads):")},
		{"127.0.0.1:8300", bannerAddr(t, banner, "raft:")},
	}, readmeCounts...)
	for _, s := range readmeCounts {
		if !strings.Contains(text, s[0]) {
			t.Fatalf("readmeCounts: %q is no longer in the README; drop it from the table", s[0])
		}
	}
	for _, s := range swaps {
		text = strings.ReplaceAll(text, s[0], s[1])
	}
	return text
}

// bannerAddr returns the host:port the node's banner gives after label.
func bannerAddr(t *testing.T, banner, label string) string {
	t.Helper()
	for _, l := range strings.Split(banner, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), label); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if _, addr, ok := strings.Cut(f[0], "://"); ok {
					return addr
				}
				return f[0]
			}
		}
	}
	t.Fatalf("no %q line in the node's banner:\n%s", label, banner)
	return ""
}

// runREADMEBlock runs one block (or, for the banner, compares the node's)
// and checks its expected output.
func runREADMEBlock(t *testing.T, b readmeBlock, work, banner string) {
	output := banner
	if b.mode != readmeBanner {
		output = runREADMEScript(t, b, work)
	}
	if err := matchREADMEOutput(output, b.expect); err != nil {
		t.Fatalf("%v\n(a comment right after a command is its expected output; an explanation needs a blank line before it)\noutput:\n%s", err, readmeShort(output))
	}
}

// runREADMEScript runs a block with bash -euo pipefail in work and returns
// its stdout and stderr, interleaved as written. On failure it reports the
// command that failed (bash's trace, on its own file descriptor).
func runREADMEScript(t *testing.T, b readmeBlock, work string) string {
	t.Helper()
	dir := t.TempDir()
	script, trace := filepath.Join(dir, b.name+".sh"), filepath.Join(dir, "trace")
	if err := os.WriteFile(script, []byte(b.script), 0o644); err != nil {
		t.Fatal(err)
	}
	traceFile, err := os.Create(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer traceFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-x", script)
	var out bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = work, &out, &out
	cmd.Env = append(readmeEnv(), "BASH_XTRACEFD=3")
	cmd.ExtraFiles = []*os.File{traceFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("README.md:%d block %q: %v\nlast commands:\n%s\noutput:\n%s", b.line, b.name, err, tail(trace), readmeShort(out.String()))
	}
	return out.String()
}

// readmeShort keeps the first and last lines of a long output.
func readmeShort(out string) string {
	lines := strings.Split(out, "\n")
	if len(lines) <= 60 {
		return out
	}
	return strings.Join(lines[:20], "\n") + fmt.Sprintf("\n[… %d lines …]\n", len(lines)-60) + strings.Join(lines[len(lines)-40:], "\n")
}

// readmeEnv is the environment without CERTCHAIN_ variables, so the CLI
// finds the node through data/client.json as the README says.
func readmeEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "CERTCHAIN_")
	})
}

// readmeNode is the development node the README's commands talk to.
type readmeNode struct {
	cmd    *exec.Cmd
	banner string
	done   chan error
}

// startREADMENode runs `bin/certchain node` in work on free loopback ports
// and returns once it has printed its banner (it is then ready and has
// written data/client.json).
func startREADMENode(t *testing.T, work string) *readmeNode {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "node.log")
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd := exec.Command("bin/certchain", "node", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--raft", "127.0.0.1:0")
	cmd.Dir, cmd.Stderr, cmd.Env = work, logs, readmeEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &readmeNode{cmd: cmd, done: make(chan error, 1)}
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ctrl-C stops the node") {
				banner <- b.String()
			}
		}
		n.done <- cmd.Wait()
		close(banner)
	}()
	t.Cleanup(func() { n.stop(t) })
	select {
	case n.banner = <-banner:
	case <-time.After(time.Minute):
	}
	if n.banner == "" {
		t.Fatalf("the node printed no banner (exited, or not ready after a minute):\n%s", tail(logFile))
	}
	return n
}

// stop stops the node as Ctrl-C does and waits for it to exit.
func (n *readmeNode) stop(t *testing.T) {
	if n.done == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("node after Ctrl-C: %v", err)
		}
	case <-time.After(time.Minute):
		_ = n.cmd.Process.Kill()
		t.Errorf("node still running a minute after Ctrl-C")
		<-n.done
	}
	n.done = nil
}
