package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certchain/certchain/certchain"
)

// Ensure loads the network in dir if it has a genesis, and creates one
// otherwise; created reports which. Calling it again on the same dir
// returns the same network. If another process creates the network at the
// same moment, the loser loads the winner's.
func Ensure(dir string, o Options) (n *Network, created bool, err error) {
	_, err = os.Stat(filepath.Join(dir, GenesisFileName))
	if err == nil {
		n, err = Load(dir)
		return n, false, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("devnet: %w", err)
	}
	n, err = Create(dir, o)
	if errors.Is(err, fs.ErrExist) {
		if n2, lerr := Load(dir); lerr == nil {
			return n2, false, nil
		}
	}
	return n, err == nil, err
}

// Create makes a new development network in dir, which must not exist or
// be empty (otherwise the error wraps fs.ErrExist). It builds the network
// in a temporary directory beside dir, syncs it and renames it into place,
// so an interrupted Create leaves no partial network behind (at most a
// ".<name>.creating-*" directory).
func Create(dir string, o Options) (*Network, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	if err := checkFree(dir); err != nil {
		return nil, err
	}
	tmp, err := makeTemp(dir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	g, err := build(tmp, o.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("devnet: create %s: %w", dir, err)
	}
	if err := install(tmp, dir); err != nil {
		return nil, err
	}
	return loadCreated(dir, g)
}

// loadCreated loads what Create wrote and checks the genesis round-trips.
func loadCreated(dir string, g *certchain.Genesis) (*Network, error) {
	n, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if n.Genesis.Hash() != g.Hash() {
		return nil, fmt.Errorf("devnet: %s: genesis changed in its round trip through JSON", dir)
	}
	return n, nil
}

// checkFree fails with fs.ErrExist if dir exists and is not empty.
func checkFree(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("devnet: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("devnet: %s is not empty: %w", dir, fs.ErrExist)
	}
	return nil
}

// makeTemp makes the 0700 build directory beside dir.
func makeTemp(dir string) (string, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("devnet: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".creating-")
	if err != nil {
		return "", fmt.Errorf("devnet: %w", err)
	}
	return tmp, nil
}

// install syncs the built tree and renames it to dir. An empty dir is
// replaced; a non-empty one makes the rename fail with fs.ErrExist.
func install(tmp, dir string) error {
	for _, d := range []string{filepath.Join(tmp, membersDir), filepath.Join(tmp, memberCADir), tmp} {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
	}
	_ = os.Remove(dir) // only succeeds on the empty directory checkFree allowed
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("devnet: install %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

// writeFile writes a new file and syncs it.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writePair writes <base>.pem and <base>-key.pem.
func writePair(certFile, keyFile string, certPEM, keyPEM []byte) error {
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, certPEM, 0o644)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// meta is devnet.json: what Options hold that the genesis does not.
type meta struct {
	Hosts    []string `json:"hosts"`
	OCSPURLs []string `json:"ocsp_urls"`
}

// writeJSON writes v as indented JSON.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(data, '\n'), 0o644)
}
