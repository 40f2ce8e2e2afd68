package certchain

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayering keeps the dependency direction of STYLE.md: the domain
// (certchain) and the rules (validator) import no I/O and nothing that
// brings storage, consensus, HTTP or metrics. (crypto/sha256 reaches os
// for its entropy source, so os is checked on direct imports only.)
func TestLayering(t *testing.T) {
	heavy := []string{"net/http", "github.com/dgraph-io/badger/v4", "github.com/hashicorp/raft",
		"github.com/prometheus/client_golang/prometheus"}
	cases := []struct {
		dir     string
		direct  []string // banned direct imports
		allowed string   // the only non-standard import allowed
	}{
		{".", []string{"os", "net", "net/http", "io/fs", "crypto/x509", "log", "log/slog"}, ""},
		{"../validator", []string{"os", "net/http", "io/fs", "log", "log/slog"}, "github.com/certchain/certchain/certchain"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			for _, p := range goList(t, tc.dir, "{{.Imports}}") {
				foreign := strings.Contains(strings.Split(p, "/")[0], ".") && p != tc.allowed
				if foreign || slices.Contains(tc.direct, p) {
					t.Errorf("imports %s", p)
				}
			}
			deps := goList(t, tc.dir, "{{.Deps}}")
			for _, banned := range heavy {
				if slices.Contains(deps, banned) {
					t.Errorf("depends on %s", banned)
				}
			}
			noClock(t, tc.dir)
		})
	}
}

func goList(t *testing.T, dir, format string) []string {
	cmd := exec.Command("go", "list", "-f", format, ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(strings.Trim(string(out), "[]\n"))
}

// noClock fails on time.Now, time.Since or time.Until outside tests: time
// comes from the block header (or Options.Now), never from the clock.
func noClock(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, isID := sel.X.(*ast.Ident); isID && id.Name == "time" && slices.Contains([]string{"Now", "Since", "Until"}, sel.Sel.Name) {
				t.Errorf("%s: time.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
