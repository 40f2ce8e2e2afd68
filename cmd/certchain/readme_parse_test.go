package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// How README.md marks what TestREADME runs. A fenced code block right
// after an HTML comment
//
//	<!-- readme-test: NAME [MODE] -->
//
// is run with `bash -euo pipefail` against a development node, in README
// order (MODE "stopped": after the node is stopped; MODE "banner": the
// block is what `certchain node` prints when it starts). Unmarked blocks
// are illustrations and are not run. In a run block:
//
//   - a comment line that follows a command line (or another such comment)
//     without a blank line between is expected output: a line of the
//     block's output (stdout and stderr) must match it, in README order;
//     an explanatory comment goes after a blank line or first in the block;
//   - "double-quoted" text in a comment at the end of a command line is
//     expected somewhere in an output line, also in order;
//   - … stands for any text, and a comment of … alone for any lines;
//     runs of white space compare equal.
//
// Limits: no here-documents (their lines would be read as commands).

// readmeMarker matches the comment that marks a block to run.
var readmeMarker = regexp.MustCompile(`^<!--\s*readme-test:\s*([a-z0-9-]+)(?:\s+([a-z]+))?\s*-->$`)

// readmeQuoted finds the expected text in a command line's comment.
var readmeQuoted = regexp.MustCompile(`"([^"]+)"`)

// The modes of a marked block.
const (
	readmeRun     = ""        // run while the node runs
	readmeStopped = "stopped" // run after the node is stopped
	readmeBanner  = "banner"  // the node's start-up banner
)

// readmeBlock is a marked code block of the README.
type readmeBlock struct {
	name   string
	mode   string
	line   int // README line of the opening fence
	script string
	expect []readmeExpect
}

// readmeExpect is expected output: a whole line, or (partial) a piece of
// one.
type readmeExpect struct {
	line    int // README line it is written on
	pattern string
	partial bool
}

// parseREADME returns the README's marked blocks in order.
func parseREADME(text string) ([]readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	seen := map[string]bool{}
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		b, end, err := readmeFence(lines, i+1, m[1], m[2])
		if err != nil {
			return nil, err
		}
		if seen[b.name] {
			return nil, fmt.Errorf("README.md:%d: a second block named %q", i+1, b.name)
		}
		seen[b.name] = true
		blocks, i = append(blocks, b), end
	}
	return blocks, nil
}

// readmeFence reads the fenced block that starts at lines[at] (0-based)
// and returns it with the index of its closing fence.
func readmeFence(lines []string, at int, name, mode string) (readmeBlock, int, error) {
	b := readmeBlock{name: name, mode: mode, line: at + 1}
	if mode != readmeRun && mode != readmeStopped && mode != readmeBanner {
		return b, 0, fmt.Errorf("README.md:%d: block %q: unknown mode %q", at, name, mode)
	}
	if at >= len(lines) || !strings.HasPrefix(lines[at], "```") {
		return b, 0, fmt.Errorf("README.md:%d: the readme-test marker %q is not right before a ``` block", at, name)
	}
	for end := at + 1; end < len(lines); end++ {
		if strings.HasPrefix(lines[end], "```") {
			body := lines[at+1 : end]
			b.script = strings.Join(body, "\n") + "\n"
			b.expect = readmeExpectations(body, at+2, mode == readmeBanner)
			return b, end, nil
		}
	}
	return b, 0, fmt.Errorf("README.md:%d: block %q is not closed", at+1, name)
}

// readmeExpectations reads the expected output of a block whose first
// line is README line first. A banner block is expected output as a whole.
func readmeExpectations(body []string, first int, banner bool) []readmeExpect {
	var out []readmeExpect
	afterCommand := false
	for i, l := range body {
		line, text := first+i, strings.TrimSpace(l)
		switch {
		case banner && text != "":
			out = append(out, readmeExpect{line: line, pattern: text})
		case banner:
		case text == "":
			afterCommand = false
		case strings.HasPrefix(text, "#"):
			if afterCommand {
				out = append(out, readmeExpect{line: line, pattern: strings.TrimSpace(strings.TrimPrefix(text, "#"))})
			}
		default:
			afterCommand = true
			for _, q := range readmeQuoted.FindAllStringSubmatch(shellComment(text), -1) {
				out = append(out, readmeExpect{line: line, pattern: q[1], partial: true})
			}
		}
	}
	return out
}

// shellComment returns the comment at the end of a shell line: from a #
// that starts a word outside quotes.
func shellComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[i:]
		}
	}
	return ""
}

// matchREADMEOutput checks that output has a line for each expectation,
// in order, and says which one it misses.
func matchREADMEOutput(output string, expect []readmeExpect) error {
	lines := strings.Split(output, "\n")
	next := 0
	for _, e := range expect {
		pattern := readmeSpaces(e.pattern)
		if pattern == "…" {
			continue
		}
		if e.partial {
			pattern = "…" + pattern + "…"
		}
		found := -1
		for i := next; i < len(lines) && found < 0; i++ {
			if readmeGlob(pattern, readmeSpaces(lines[i])) {
				found = i
			}
		}
		if found < 0 {
			return fmt.Errorf("README.md:%d: expected output %q: no line matches it after the previous expectation", e.line, e.pattern)
		}
		next = found + 1
	}
	return nil
}

// readmeSpaces collapses runs of white space and trims the ends.
func readmeSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// readmeGlob matches s against pattern, where … stands for any text.
func readmeGlob(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// TestREADMEExpectations checks how the README's blocks are read and their
// output matched, so that TestREADME can fail.
func TestREADMEExpectations(t *testing.T) {
	block := "```sh\n" +
		"# an explanation, not output\n" +
		"cmd one   # says \"1 certificate: 1 good\"\n" +
		"# Response verify OK\n" +
		"# … \n" +
		"# x.pem: …\n" +
		"\n" +
		"# another explanation\n" +
		"cmd two --flag \"#not-a-comment\" \\\n" +
		"  --more\n" +
		"```\n"
	for _, tc := range []struct {
		name, output string
		ok           bool
	}{
		{"ok/literal-wildcards-no-explanations", "1 certificate: 1 good\nResponse verify OK\nnoise\nx.pem:   good\n", true},
		{"ok/extra-lines-between", "a\n1 certificate: 1 good\nb\nResponse verify OK\nc\nx.pem: revoked\nd\n", true},
		{"fail/missing-line", "1 certificate: 1 good\nx.pem: good\n", false},
		{"fail/out-of-order", "Response verify OK\n1 certificate: 1 good\nx.pem: good\n", false},
		{"fail/partial-line-is-not-whole", "1 certificate: 1 good\nResponse verify OK!\nx.pem: good\n", false},
		{"fail/prefix-anchored", "1 certificate: 1 good\nResponse verify OK\nsee x.pem: good\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks, err := parseREADME("text\n<!-- readme-test: demo -->\n" + block)
			if err != nil || len(blocks) != 1 {
				t.Fatalf("parse: %d blocks, %v", len(blocks), err)
			}
			if got := len(blocks[0].expect); got != 4 {
				t.Fatalf("%d expectations, want 4: %+v", got, blocks[0].expect)
			}
			err = matchREADMEOutput(tc.output, blocks[0].expect)
			if (err == nil) != tc.ok {
				t.Fatalf("match: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestREADMEMarkers checks that malformed markers are errors, never
// silently skipped blocks.
func TestREADMEMarkers(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"fail/no-block-after-marker", "<!-- readme-test: x -->\ntext\n"},
		{"fail/unclosed-block", "<!-- readme-test: x -->\n```sh\nls\n"},
		{"fail/unknown-mode", "<!-- readme-test: x later -->\n```sh\nls\n```\n"},
		{"fail/duplicate-name", "<!-- readme-test: x -->\n```sh\nls\n```\n<!-- readme-test: x -->\n```sh\nls\n```\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseREADME(tc.text); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
