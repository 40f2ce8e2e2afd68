package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// How README.md and the guides in docs/ mark what TestREADME runs. A
// fenced code block right after an HTML comment
//
//	<!-- readme-test: NAME [MODE] -->
//
// is run with `bash -euo pipefail` against a development node, in the
// order readmeBlocks gives (MODE "stopped": after the node is stopped;
// MODE "banner": the block is what `certchain node` prints when it
// starts). Block names are unique across the files, so a block keeps its
// name, and keeps running, wherever it moves. Unmarked blocks are
// illustrations and are not run. In a run block:
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

// readmeBlock is a marked code block of the README or a guide.
type readmeBlock struct {
	file   string // README.md, docs/NAME.md
	name   string
	mode   string
	line   int // line of the opening fence in file
	script string
	expect []readmeExpect
}

// readmeExpect is expected output: a whole line, or (partial) a piece of
// one.
type readmeExpect struct {
	line    int // line of its file it is written on
	pattern string
	partial bool
}

// parseREADME returns the marked blocks of a file (README.md or a guide)
// in order; seen holds the names of blocks of files parsed before, so a
// name is unique across all of them.
func parseREADME(file, text string, seen map[string]string) ([]readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		b, end, err := readmeFence(file, lines, i+1, m[1], m[2])
		if err != nil {
			return nil, err
		}
		if at, ok := seen[b.name]; ok {
			return nil, fmt.Errorf("%s:%d: a second block named %q (the first is in %s)", file, i+1, b.name, at)
		}
		seen[b.name] = fmt.Sprintf("%s:%d", file, b.line)
		blocks, i = append(blocks, b), end
	}
	return blocks, nil
}

// readmeFence reads the fenced block that starts at lines[at] (0-based)
// and returns it with the index of its closing fence.
func readmeFence(file string, lines []string, at int, name, mode string) (readmeBlock, int, error) {
	b := readmeBlock{file: file, name: name, mode: mode, line: at + 1}
	if mode != readmeRun && mode != readmeStopped && mode != readmeBanner {
		return b, 0, fmt.Errorf("%s:%d: block %q: unknown mode %q", file, at, name, mode)
	}
	if at >= len(lines) || !strings.HasPrefix(lines[at], "```") {
		return b, 0, fmt.Errorf("%s:%d: the readme-test marker %q is not right before a ``` block", file, at, name)
	}
	for end := at + 1; end < len(lines); end++ {
		if strings.HasPrefix(lines[end], "```") {
			body := lines[at+1 : end]
			b.script = strings.Join(body, "\n") + "\n"
			b.expect = readmeExpectations(body, at+2, mode == readmeBanner)
			return b, end, nil
		}
	}
	return b, 0, fmt.Errorf("%s:%d: block %q is not closed", file, at+1, name)
}

// readmeExpectations reads the expected output of a block whose first
// line is line first of its file. A banner block is expected output as a whole.
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

// matchREADMEOutput checks that output has a line for each expectation
// of a block of file, in order, and says which one it misses.
func matchREADMEOutput(file, output string, expect []readmeExpect) error {
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
			return fmt.Errorf("%s:%d: expected output %q: no line matches it after the previous expectation", file, e.line, e.pattern)
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
			blocks, err := parseREADME("docs/demo.md", "text\n<!-- readme-test: demo -->\n"+block, map[string]string{})
			if err != nil || len(blocks) != 1 {
				t.Fatalf("parse: %d blocks, %v", len(blocks), err)
			}
			if got := len(blocks[0].expect); got != 4 {
				t.Fatalf("%d expectations, want 4: %+v", got, blocks[0].expect)
			}
			err = matchREADMEOutput(blocks[0].file, tc.output, blocks[0].expect)
			if (err == nil) != tc.ok {
				t.Fatalf("match: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestREADMEMarkers checks that malformed markers are errors, never
// silently skipped blocks.
func TestREADMEMarkers(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		seen       map[string]string // blocks of files parsed before
	}{
		{"fail/no-block-after-marker", "<!-- readme-test: x -->\ntext\n", nil},
		{"fail/unclosed-block", "<!-- readme-test: x -->\n```sh\nls\n", nil},
		{"fail/unknown-mode", "<!-- readme-test: x later -->\n```sh\nls\n```\n", nil},
		{"fail/duplicate-name", "<!-- readme-test: x -->\n```sh\nls\n```\n<!-- readme-test: x -->\n```sh\nls\n```\n", nil},
		{"fail/duplicate-name-across-files", "<!-- readme-test: x -->\n```sh\nls\n```\n", map[string]string{"x": "README.md:3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := tc.seen
			if seen == nil {
				seen = map[string]string{}
			}
			if _, err := parseREADME("docs/x.md", tc.text, seen); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
