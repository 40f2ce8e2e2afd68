package validator_test

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

// TestImports keeps the package as doc.go says: the standard library and
// certchain only, no I/O of its own, nothing that brings storage,
// consensus, HTTP or metrics.
func TestImports(t *testing.T) {
	list := func(format string) []string {
		out, err := exec.Command("go", "list", "-f", format, ".").Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		return strings.Fields(strings.Trim(string(out), "[]\n"))
	}
	for _, p := range list("{{.Imports}}") {
		local := p == "github.com/certchain/certchain/certchain"
		if (!local && strings.Contains(strings.Split(p, "/")[0], ".")) || slices.Contains([]string{"os", "io/fs", "log", "log/slog", "net/http"}, p) {
			t.Errorf("validator imports %s", p)
		}
	}
	deps := list("{{.Deps}}")
	for _, banned := range []string{"net/http", "github.com/dgraph-io/badger/v4", "github.com/hashicorp/raft", "github.com/prometheus/client_golang/prometheus"} {
		if slices.Contains(deps, banned) {
			t.Errorf("validator depends on %s", banned)
		}
	}
}

// TestNoClock keeps time out of the package: no call of time.Now, time.Since
// or time.Until outside tests (the verification time is Options.Now).
func TestNoClock(t *testing.T) {
	files, _ := filepath.Glob("*.go")
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
			if sel, ok := n.(*ast.SelectorExpr); ok && isIdent(sel.X, "time") && slices.Contains([]string{"Now", "Since", "Until"}, sel.Sel.Name) {
				t.Errorf("%s: time.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
