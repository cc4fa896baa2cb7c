// Package stage is local scratch space for backends whose files are not
// local (an object store, memory): DuckDB's COPY must write a local file,
// which the backend then hashes and uploads. Each process has its own
// staging folder, held by an flock; a folder whose lock is free belongs
// to a process that died and is removed by the next one.
package stage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/storage"
)

// Prefix starts the name of every staging folder in the temp folder.
const Prefix = fsutil.ScratchPrefix + "stage-"

// Area is one process's staging folder.
type Area struct {
	dir     string
	scratch *fsutil.Scratch
}

// New makes a staging folder under parent (os.TempDir() when empty),
// after removing those that dead processes left there (fsutil.Scratch).
func New(parent string) (*Area, error) {
	s, err := fsutil.NewScratch(parent, "stage")
	if err != nil {
		return nil, fmt.Errorf("create staging folder: %w", storage.ClassifyOS(err))
	}
	return &Area{dir: s.Dir, scratch: s}, nil
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
func (a *Area) Close() error { return a.scratch.Remove() }

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
