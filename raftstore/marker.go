package raftstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// restoreMarker is the file that says a snapshot restore is under way
// (fsm.Restore). Setting and clearing it are durable: the file is written
// under a temporary name, synced, renamed into place and the directory
// synced; removal syncs the directory too.
type restoreMarker struct {
	path string // empty: no marker
	fs   markerFS
}

// markerFS is what the marker needs of the file system (osFS; tests
// record the order of the steps).
type markerFS interface {
	// WriteSynced creates name with data and syncs it before it returns.
	WriteSynced(name string, data []byte) error
	Rename(from, to string) error
	// SyncDir syncs a directory, making entries made or removed in it
	// durable.
	SyncDir(dir string) error
	Remove(name string) error
	Stat(name string) (fs.FileInfo, error)
}

func (m restoreMarker) isSet() (bool, error) {
	if m.path == "" {
		return false, nil
	}
	_, err := m.fs.Stat(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (m restoreMarker) set() error {
	if m.path == "" {
		return nil
	}
	tmp := m.path + ".tmp"
	if err := m.fs.WriteSynced(tmp, []byte("snapshot restore under way; restored again at start\n")); err != nil {
		return err
	}
	if err := m.fs.Rename(tmp, m.path); err != nil {
		return err
	}
	return m.fs.SyncDir(filepath.Dir(m.path))
}

func (m restoreMarker) clear() error {
	if m.path == "" {
		return nil
	}
	if err := m.fs.Remove(m.path); err != nil {
		return err
	}
	return m.fs.SyncDir(filepath.Dir(m.path))
}

// osFS is markerFS on the operating system's file system.
type osFS struct{}

func (osFS) WriteSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
