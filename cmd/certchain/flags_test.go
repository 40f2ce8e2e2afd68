package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		pos     []string
		reason  string
		quiet   bool
		wantErr error
	}{
		{"ok/flags-first", []string{"--reason", "keyCompromise", "a.pem"}, []string{"a.pem"}, "keyCompromise", false, nil},
		{"ok/flags-after", []string{"a.pem", "--reason", "keyCompromise"}, []string{"a.pem"}, "keyCompromise", false, nil},
		{"ok/interleaved", []string{"a", "--quiet", "b", "-reason=x", "c"}, []string{"a", "b", "c"}, "x", true, nil},
		{"ok/bool-after-last", []string{"a", "b", "--quiet"}, []string{"a", "b"}, "", true, nil},
		{"ok/double-dash-ends-flags", []string{"a", "--", "--quiet", "-b"}, []string{"a", "--quiet", "-b"}, "", false, nil},
		{"ok/lone-dash-is-an-argument", []string{"-", "--quiet"}, []string{"-"}, "", true, nil},
		{"ok/none", nil, nil, "", false, nil},
		{"fail/unknown-after-argument", []string{"a", "--nope"}, nil, "", false, errors.New("flag provided but not defined: -nope")},
		{"fail/missing-value", []string{"a", "--reason"}, nil, "", false, errors.New("flag needs an argument: -reason")},
		{"fail/help-after-argument", []string{"a", "-h"}, nil, "", false, flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			fs := newFlags(&env{stdout: &out, stderr: io.Discard}, "revoke")
			reason := fs.String("reason", "", "")
			quiet := fs.Bool("quiet", false, "")
			err := parseFlags(fs, tt.args)
			if tt.wantErr != nil {
				if err == nil || (!errors.Is(err, tt.wantErr) && !strings.Contains(err.Error(), tt.wantErr.Error())) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fs.Args(), tt.pos) || *reason != tt.reason || *quiet != tt.quiet {
				t.Fatalf("args %q reason %q quiet %v, want %q %q %v", fs.Args(), *reason, *quiet, tt.pos, tt.reason, tt.quiet)
			}
		})
	}
}

// runQuiet runs a command line in-process with no node profile.
func runQuiet(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	e := &env{stdout: &out, stderr: &errOut, getenv: func(k string) string {
		if k == "CERTCHAIN_DATA" {
			return dir
		}
		return ""
	}}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

// TestEveryCommandHelp walks every command and subcommand: `-h` exits 0
// and prints the synopsis `certchain help` shows, every flag the synopsis
// names is one the command knows, and a flag after the positional
// arguments is parsed as a flag.
func TestEveryCommandHelp(t *testing.T) {
	_, help, _ := runQuiet(t, "help")
	forms := 0
	for _, c := range commands() {
		for _, f := range c.forms {
			forms++
			path := strings.Fields(f.path())
			t.Run(strings.Join(path, "-"), func(t *testing.T) {
				if !strings.Contains(help, "certchain "+f.syn+"\n") {
					t.Fatalf("certchain help lacks %q", f.syn)
				}
				for _, how := range [][]string{append(slices.Clone(path), "-h"), append(slices.Clone(path), "--help"), append([]string{"help"}, path...)} {
					code, out, errOut := runQuiet(t, how...)
					if code != 0 || !strings.Contains(out, "usage: certchain "+f.syn+"\n") {
						t.Fatalf("certchain %s: exit %d, want 0 and the synopsis %q\n%s%s", strings.Join(how, " "), code, f.syn, out, errOut)
					}
					for _, fl := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(f.syn, -1) {
						if !strings.Contains(out, "\n  -"+fl[1]+" ") && !strings.Contains(out, "\n  -"+fl[1]+"\n") {
							t.Fatalf("synopsis names --%s, which -h does not list:\n%s", fl[1], out)
						}
					}
				}
				args := append(slices.Clone(path), placeholders(f)...)
				code, out, errOut := runQuiet(t, append(args, "--no-such-flag")...)
				if code != 1 || !strings.Contains(errOut, "flag provided but not defined: -no-such-flag") || !strings.Contains(errOut, "usage: certchain "+f.syn) {
					t.Fatalf("certchain %s --no-such-flag: exit %d, want the flag refused with the synopsis\n%s%s", strings.Join(args, " "), code, out, errOut)
				}
			})
		}
	}
	if forms < 20 {
		t.Fatalf("only %d forms: the command table was not walked", forms)
	}
}

// placeholders makes one argument per positional word of a synopsis
// (the upper-case words between the command path and the first flag).
func placeholders(f form) []string {
	var out []string
	for _, w := range strings.Fields(f.syn)[len(strings.Fields(f.path())):] {
		if strings.HasPrefix(w, "[") || strings.HasPrefix(w, "-") {
			break
		}
		out = append(out, "x")
	}
	return out
}

func TestSubcommandNeeded(t *testing.T) {
	for _, c := range []string{"device", "ledger", "member", "cluster"} {
		code, out, errOut := runQuiet(t, c)
		if code != 1 || out != "" || !strings.Contains(errOut, "certchain "+c+" ") {
			t.Errorf("certchain %s: exit %d %q %q, want 1 and the subcommands on stderr", c, code, out, errOut)
		}
		if c == "cluster" {
			continue // cluster.go (the Raft helper's) answers an unknown subcommand after connecting
		}
		code, _, errOut = runQuiet(t, c, "bogus")
		if code != 1 || !strings.Contains(errOut, `unknown `+c+` command "bogus"`) {
			t.Errorf("certchain %s bogus: exit %d %q", c, code, errOut)
		}
	}
}
