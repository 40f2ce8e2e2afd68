package devnet

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/certchain/certchain/certchain"
)

func TestEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "devnet")
	n1, created, err := Ensure(dir, testOptions())
	if err != nil || !created {
		t.Fatalf("first Ensure: created=%v err=%v", created, err)
	}
	ca1, _ := os.ReadFile(n1.CAKeyFile)
	o := testOptions()
	o.NetworkID = "another"
	n2, created, err := Ensure(dir, o)
	if err != nil || created {
		t.Fatalf("second Ensure: created=%v err=%v", created, err)
	}
	ca2, _ := os.ReadFile(n2.CAKeyFile)
	if n2.Genesis.Hash() != n1.Genesis.Hash() || !bytes.Equal(ca1, ca2) {
		t.Fatal("second Ensure regenerated the network")
	}
}

func TestEnsureConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "devnet")
	const k = 4
	var wg sync.WaitGroup
	nets := make([]*Network, k)
	errs := make([]error, k)
	for i := range k {
		wg.Go(func() { nets[i], _, errs[i] = Ensure(dir, Options{}) })
	}
	wg.Wait()
	for i := range k {
		if errs[i] != nil {
			t.Fatalf("Ensure %d: %v", i, errs[i])
		}
		if nets[i].Genesis.Hash() != nets[0].Genesis.Hash() {
			t.Fatalf("Ensure %d got another network", i)
		}
	}
	checkNoTemp(t, filepath.Dir(dir))
}

// checkNoTemp checks that parent holds only the network directory.
func checkNoTemp(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d entries beside the network, want none: %v", len(entries)-1, entries)
	}
}

func TestCreateTarget(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"ok/missing", func(*testing.T, string) {}, nil},
		{"ok/empty-dir", func(t *testing.T, dir string) { mustMkdir(t, dir) }, nil},
		{"fail/not-empty", func(t *testing.T, dir string) {
			mustMkdir(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "raft.db"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, fs.ErrExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "devnet")
			tt.setup(t, dir)
			_, err := Create(dir, testOptions())
			if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			checkNoTemp(t, filepath.Dir(dir))
		})
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, n *Network)
		invalid bool // error wraps certchain.ErrInvalid
	}{
		{"fail/member-key-swapped", func(t *testing.T, n *Network) {
			admin, _ := n.MemberCert("admin")
			vendor, _ := n.MemberCert("vendor")
			copyFile(t, admin, vendor)
		}, true},
		{"fail/member-pair-not-in-genesis", func(t *testing.T, n *Network) {
			adminCert, adminKey := n.MemberCert("admin")
			vendorCert, vendorKey := n.MemberCert("vendor")
			copyFile(t, adminCert, vendorCert)
			copyFile(t, adminKey, vendorKey)
		}, true},
		{"fail/node-key-swapped", func(t *testing.T, n *Network) { copyFile(t, n.OCSPKeyFile, n.NodeKeyFile) }, true},
		{"fail/ocsp-is-node", func(t *testing.T, n *Network) {
			copyFile(t, n.NodeCertFile, n.OCSPCertFile)
			copyFile(t, n.NodeKeyFile, n.OCSPKeyFile)
		}, true},
		{"fail/member-ca-replaced", func(t *testing.T, n *Network) {
			copyFile(t, n.CAFile, n.MemberCAFile)
			copyFile(t, n.CAKeyFile, n.MemberCAKeyFile)
		}, true},
		{"fail/genesis-garbage", func(t *testing.T, n *Network) { writeFileT(t, n.GenesisFile, []byte("{")) }, true},
		{"fail/key-missing", func(t *testing.T, n *Network) { _ = os.Remove(n.OCSPKeyFile) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := create(t)
			tt.tamper(t, n)
			_, err := Load(n.Dir)
			if err == nil || (tt.invalid && !errors.Is(err, certchain.ErrInvalid)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, to, b)
}

func writeFileT(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
