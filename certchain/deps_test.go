package certchain

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoIO keeps the domain free of I/O (STYLE.md): it imports no file
// system or network package itself, and nothing it depends on brings in
// storage, consensus or HTTP. (The standard library's crypto/sha256 reaches
// os for its entropy source, so os is checked on direct imports only.)
func TestNoIO(t *testing.T) {
	list := func(format string) []string {
		out, err := exec.Command("go", "list", "-f", format, ".").Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		return strings.Fields(strings.Trim(string(out), "[]\n"))
	}
	direct := list("{{.Imports}}")
	for _, banned := range []string{"os", "net", "net/http", "io/fs", "crypto/x509", "time/tzdata"} {
		if slices.Contains(direct, banned) {
			t.Errorf("certchain imports %s", banned)
		}
	}
	deps := list("{{.Deps}}")
	for _, banned := range []string{"net/http", "github.com/dgraph-io/badger/v4", "github.com/hashicorp/raft"} {
		if slices.Contains(deps, banned) {
			t.Errorf("certchain depends on %s", banned)
		}
	}
}
