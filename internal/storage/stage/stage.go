// Package stage is local scratch space for backends whose files are not
// local (an object store, memory): DuckDB's COPY must write a local file,
// which the backend then hashes and uploads. Each process has its own
// staging folder, held by an flock; a folder whose lock is free belongs
// to a process that died and is removed by the next one.
package stage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"

	"github.com/openspartan/statsnap/internal/storage"
)

// Prefix starts the name of every staging folder in the temp folder.
const Prefix = "statsnap-stage-"

const lockName = ".lock"

// Area is one process's staging folder.
type Area struct {
	dir  string
	lock *flock.Flock
}

// New makes a staging folder under parent (os.TempDir() when empty),
// after removing those that crashed processes left there.
func New(parent string) (*Area, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	cleanStale(parent)
	dir, err := os.MkdirTemp(parent, Prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create staging folder: %w", storage.ClassifyOS(err))
	}
	fl := flock.New(filepath.Join(dir, lockName))
	if ok, err := fl.TryLock(); err != nil || !ok {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock staging folder %s: %v", dir, err)
	}
	return &Area{dir: dir, lock: fl}, nil
}

// cleanStale removes staging folders whose owner is gone: their lock is
// free (a live owner holds it until it exits).
func cleanStale(parent string) {
	des, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), Prefix) {
			continue
		}
		dir := filepath.Join(parent, de.Name())
		lp := filepath.Join(dir, lockName)
		if fi, err := os.Lstat(lp); err != nil || !fi.Mode().IsRegular() {
			continue // killed between MkdirTemp and the lock, or not ours
		}
		fl := flock.New(lp)
		if ok, err := fl.TryLock(); err == nil && ok {
			if err := os.RemoveAll(dir); err != nil {
				slog.Warn("cannot remove a stale staging folder", "folder", dir, "err", err)
			} else {
				slog.Debug("removed a stale staging folder", "folder", dir)
			}
			_ = fl.Unlock()
		}
	}
}

// Dir is the staging folder.
func (a *Area) Dir() string { return a.dir }

// Path is the local path of staging file name, under sub (a folder's
// own subfolder, so that two player folders never share a name).
func (a *Area) Path(sub, name string) (string, error) {
	if err := storage.CheckName(name); err != nil {
		return "", err
	}
	d := filepath.Join(a.dir, sub)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("create staging folder: %w", storage.ClassifyOS(err))
	}
	return filepath.Join(d, name), nil
}

// Remove deletes a staging file; a missing one is not an error.
func (a *Area) Remove(sub, name string) error {
	p, err := a.Path(sub, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return storage.ClassifyOS(err)
	}
	return nil
}

// Close removes the staging folder and everything in it.
func (a *Area) Close() error {
	err := os.RemoveAll(a.dir)
	_ = a.lock.Unlock()
	return err
}

// WriteNew writes data to a new staging file at path, refusing one that
// exists. Backends whose staging lives on local disk share it.
func WriteNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return storage.ClassifyOS(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return storage.ClassifyOS(err)
	}
	return storage.ClassifyOS(f.Close())
}
