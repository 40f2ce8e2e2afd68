package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docLink matches a Markdown link or image: [text](target) or
// [text](target "title"); group 1 is the target.
var docLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// slugDrop matches what a heading's anchor leaves out.
var slugDrop = regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)

// codeSpan matches inline code, whose brackets are no links.
var codeSpan = regexp.MustCompile("`[^`]*`")

// pendingGuides are the guides other branches of issue 14 are writing
// (the founding ceremony, trust, rotation, backup), which the guides
// already link. A link to one of them is not checked while the file is
// absent; once it exists it is checked like any other. Empty this list
// when they have landed.
var pendingGuides = []string{"docs/ceremony.md", "docs/trust.md", "docs/rotation.md", "docs/backup.md"}

// markdownFiles lists the repository's Markdown documents (paths from the
// repository root): README.md, BENCHMARKS.md, docs/ and deploy/.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "BENCHMARKS.md"}
	for _, dir := range []string{"docs", "deploy"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
				rel, _ := filepath.Rel(root, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// docLinks returns the link targets of a Markdown text with their lines,
// leaving out fenced code blocks and inline code.
func docLinks(text string) (targets []string, lines []int) {
	fenced := false
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range docLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(l, ""), -1) {
			targets, lines = append(targets, m[1]), append(lines, i+1)
		}
	}
	return targets, lines
}

// headingSlug is the anchor GitHub gives a heading: lower case, code
// marks and punctuation dropped, spaces as hyphens.
func headingSlug(heading string) string {
	s := strings.ToLower(strings.TrimSpace(heading))
	s = slugDrop.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, " ", "-")
}

// docAnchors returns the anchors of a Markdown text's headings (a
// repeated heading gets -1, -2, ... as on GitHub).
func docAnchors(text string) map[string]bool {
	anchors, count := map[string]bool{}, map[string]int{}
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		h, ok := strings.CutPrefix(strings.TrimLeft(l, "#"), " ")
		if fenced || !ok || !strings.HasPrefix(l, "#") {
			continue
		}
		slug := headingSlug(h)
		if n := count[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		count[slug]++
	}
	return anchors
}

// checkLink says what is wrong with a relative link target of file (both
// from the repository root), reading files with read; "" when nothing.
func checkLink(file, target string, read func(string) (string, bool)) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	p, anchor, _ := strings.Cut(target, "#")
	dest := file
	if p != "" {
		dest = path.Clean(path.Join(path.Dir(file), p))
	}
	text, ok := read(dest)
	switch {
	case !ok && slices.Contains(pendingGuides, dest):
		return ""
	case !ok:
		return "no such file " + dest
	case anchor != "" && strings.HasSuffix(dest, ".md") && !docAnchors(text)[anchor]:
		return fmt.Sprintf("no heading #%s in %s", anchor, dest)
	}
	return ""
}

// repoReader reads files (and sees directories) under root.
func repoReader(root string) func(string) (string, bool) {
	return func(p string) (string, bool) {
		full := filepath.Join(root, filepath.FromSlash(p))
		if fi, err := os.Stat(full); err == nil && fi.IsDir() {
			return "", true
		}
		b, err := os.ReadFile(full)
		return string(b), err == nil
	}
}

// TestDocLinks checks every relative link of the README, the guides and
// the other Markdown documents: the file exists, and so does the heading
// an anchor names.
func TestDocLinks(t *testing.T) {
	const root = "../.."
	read := repoReader(root)
	checked := 0
	for _, file := range markdownFiles(t, root) {
		text, ok := read(file)
		if !ok {
			t.Fatalf("cannot read %s", file)
		}
		targets, lines := docLinks(text)
		for i, target := range targets {
			checked++
			if problem := checkLink(file, target, read); problem != "" {
				t.Errorf("%s:%d: link %s: %s", file, lines[i], target, problem)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d links found: the link pattern is broken", checked)
	}
}

// TestDocLinksFind checks that the checker finds broken links, so that
// TestDocLinks can fail.
func TestDocLinksFind(t *testing.T) {
	docs := map[string]string{
		"README.md":     "# certchain\n## Two commands\n## A walk through (run where `make run` runs)\n",
		"docs/a.md":     "# A\n## Running a node\n```\n## not a heading\n```\n## Running a node\n",
		"docs/sub/x.go": "",
	}
	read := func(p string) (string, bool) {
		if p == "docs" || p == "docs/sub" {
			return "", true
		}
		s, ok := docs[p]
		return s, ok
	}
	for _, tc := range []struct{ name, file, target, want string }{
		{"ok/file", "docs/a.md", "../README.md", ""},
		{"ok/anchor", "docs/a.md", "../README.md#two-commands", ""},
		{"ok/anchor-with-code", "docs/a.md", "../README.md#a-walk-through-run-where-make-run-runs", ""},
		{"ok/same-file-anchor", "docs/a.md", "#running-a-node", ""},
		{"ok/repeated-heading", "docs/a.md", "#running-a-node-1", ""},
		{"ok/directory", "README.md", "docs/", ""},
		{"ok/external", "README.md", "https://example.com/x#y", ""},
		{"ok/pending-guide", "docs/a.md", "ceremony.md", ""},
		{"fail/missing-file", "docs/a.md", "b.md", "no such file docs/b.md"},
		{"fail/wrong-relative-path", "docs/a.md", "README.md", "no such file docs/README.md"},
		{"fail/missing-anchor", "docs/a.md", "../README.md#metrics", "no heading #metrics in README.md"},
		{"fail/anchor-in-code-block", "docs/a.md", "#not-a-heading", "no heading #not-a-heading in docs/a.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkLink(tc.file, tc.target, read); got != tc.want {
				t.Fatalf("checkLink(%s, %s) = %q, want %q", tc.file, tc.target, got, tc.want)
			}
		})
	}
	targets, _ := docLinks("see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n![img](i.png \"t\")\n")
	if !slices.Equal(targets, []string{"a.md", "i.png"}) {
		t.Fatalf("docLinks: %q", targets)
	}
}
