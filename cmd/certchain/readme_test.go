package main

import (
	"bufio"
	"bytes"
	"cmp"
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

// readmeRef names a marked block and the file it is in.
type readmeRef struct{ file, name string }

// readmeBlocks names the marked blocks TestREADME runs, with their files,
// in the order it runs them (the "stopped" ones last): later blocks build
// on earlier ones (the walk-through's devices, the onboarding's CA B). A
// marker removed, added or moved to another file without this list fails
// the test instead of silently running less.
var readmeBlocks = []readmeRef{
	{"README.md", "node-start"},
	{"docs/factory.md", "walk-through"},
	{"docs/factory.md", "offline-audit"},
	{"docs/factory.md", "network-id-openssl"},
	{"docs/operator.md", "onboarding"},
	{"docs/factory.md", "curl-stream"},
	{"docs/relying-party.md", "ocsp-ca-issued"},
	{"docs/relying-party.md", "ocsp-self-signed"},
	{"docs/ca-member.md", "ocsp-delegate"},
}

// readmeCounts are the only edits TestREADME makes to the documents
// besides the node's addresses: the walk-through's 5000 devices become 500
// to keep the test short (its commands and expected output are otherwise
// as written). Each must still occur in one of them.
var readmeCounts = [][2]string{
	{"--count 5000 ", "--count 500 "},
	{"5000 already on the ledger", "500 already on the ledger"},
}

// readmeTools are what the documents' commands use besides certchain
// (`make tools` installs them).
var readmeTools = []string{"bash", "openssl", "curl", "jq"}

// TestREADME runs the walk-through and recipes of the README and of the
// guides in docs/ as a reader copies them: in a fresh directory holding
// bin/certchain, with a development node started there the ordinary way
// (`bin/certchain node`, on free loopback ports that replace
// 127.0.0.1:8443, :8080 and :8300 in the documents), each marked block in
// the order of readmeBlocks with bash -euo pipefail, checking the output
// the document shows (see readme_parse_test.go for the markers and what
// counts as expected output). A block that fails stops the test: later
// blocks build on earlier ones.
func TestREADME(t *testing.T) {
	for _, tool := range readmeTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the documents' commands need %s: run `make tools` (%v)", tool, err)
		}
	}
	docs := readmeDocs(t)
	work := t.TempDir()
	linkBinary(t, buildBinary(t), work)
	node := startREADMENode(t, work)
	blocks := readmeParse(t, readmeRewrite(t, docs, node.banner))
	for _, b := range blocks {
		if b.mode == readmeStopped {
			node.stop(t)
		}
		if !t.Run(b.name, func(t *testing.T) { runREADMEBlock(t, b, work, node.banner) }) {
			t.Fatalf("%s block %q failed; the blocks after it build on it", b.file, b.name)
		}
	}
}

// readmeDoc is a document with marked blocks: README.md or a guide.
type readmeDoc struct{ file, text string }

// readmeDocs reads README.md and docs/*.md (paths from the repository
// root), in that order.
func readmeDocs(t *testing.T) []readmeDoc {
	t.Helper()
	guides, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(guides) == 0 {
		t.Fatalf("no guides in docs/ (%v)", err)
	}
	var docs []readmeDoc
	for _, p := range append([]string{"../../README.md"}, guides...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, readmeDoc{file: strings.TrimPrefix(p, "../../"), text: string(b)})
	}
	return docs
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

// readmeParse parses the documents, checks they hold exactly the blocks
// of readmeBlocks, and returns them in its order, run-while-up blocks
// before the stopped ones.
func readmeParse(t *testing.T, docs []readmeDoc) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	seen := map[string]string{}
	for _, d := range docs {
		bs, err := parseREADME(d.file, d.text, seen)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	var found []readmeRef
	for _, b := range blocks {
		found = append(found, readmeRef{b.file, b.name})
	}
	order := func(r readmeRef) int { return slices.Index(readmeBlocks, r) }
	slices.SortStableFunc(found, func(a, b readmeRef) int { return order(a) - order(b) })
	if !slices.Equal(found, readmeBlocks) {
		t.Fatalf("blocks marked readme-test: %v, want %v (update readmeBlocks with the documents)", found, readmeBlocks)
	}
	slices.SortStableFunc(blocks, func(a, b readmeBlock) int {
		return cmp.Or(readmeStage(a)-readmeStage(b), order(readmeRef{a.file, a.name})-order(readmeRef{b.file, b.name}))
	})
	return blocks
}

// readmeStage orders blocks: 0 while the node runs, 1 after it stopped.
func readmeStage(b readmeBlock) int {
	if b.mode == readmeStopped {
		return 1
	}
	return 0
}

// readmeRewrite puts the node's addresses in place of the documents'
// defaults and applies readmeCounts, each of which must be used.
func readmeRewrite(t *testing.T, docs []readmeDoc, banner string) []readmeDoc {
	t.Helper()
	swaps := append([][2]string{
		{"127.0.0.1:8443", bannerAddr(t, banner, "https (mTLS):")},
		{"127.0.0.1:8080", bannerAddr(t, banner, "http (reads):")},
		{"127.0.0.1:8300", bannerAddr(t, banner, "raft:")},
	}, readmeCounts...)
	for _, s := range readmeCounts {
		if !slices.ContainsFunc(docs, func(d readmeDoc) bool { return strings.Contains(d.text, s[0]) }) {
			t.Fatalf("readmeCounts: %q is no longer in README.md or docs/; drop it from the table", s[0])
		}
	}
	out := slices.Clone(docs)
	for i := range out {
		for _, s := range swaps {
			out[i].text = strings.ReplaceAll(out[i].text, s[0], s[1])
		}
	}
	return out
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
	if err := matchREADMEOutput(b.file, output, b.expect); err != nil {
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
		t.Fatalf("%s:%d block %q: %v\nlast commands:\n%s\noutput:\n%s", b.file, b.line, b.name, err, tail(trace), readmeShort(out.String()))
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
// finds the node through data/client.json as the documents say.
func readmeEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "CERTCHAIN_")
	})
}

// readmeNode is the development node the documents' commands talk to.
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
