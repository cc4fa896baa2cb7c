package fsutil

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
)

// ScratchPrefix starts the name of every scratch folder statsnap makes in
// the temp folder: DuckDB's spill space, staging for object stores,
// verify's and diff's private copies.
const ScratchPrefix = "statsnap-"

// scratchLock is the file inside a scratch folder that its owner holds an
// flock on until it removes the folder or dies.
const scratchLock = ".lock"

// Scratch is one process's scratch folder. A process killed with SIGKILL
// cannot remove it, and DuckDB's spill files in it can be gigabytes, so
// every NewScratch first removes the folders whose owner is gone: their
// lock is free, as the kernel drops an flock with its process.
type Scratch struct {
	Dir  string
	lock *flock.Flock
}

// NewScratch makes a scratch folder statsnap-{kind}-* under parent
// (os.TempDir() when empty), after removing those of dead processes.
func NewScratch(parent, kind string) (*Scratch, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	CleanScratch(parent)
	dir, err := os.MkdirTemp(parent, ScratchPrefix+kind+"-*")
	if err != nil {
		return nil, fmt.Errorf("create a scratch folder: %w", err)
	}
	fl := flock.New(filepath.Join(dir, scratchLock))
	if ok, err := fl.TryLock(); err != nil || !ok {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock scratch folder %s: %v", dir, err)
	}
	return &Scratch{Dir: dir, lock: fl}, nil
}

// Remove deletes the folder and everything in it, then releases it.
func (s *Scratch) Remove() error {
	err := os.RemoveAll(s.Dir)
	_ = s.lock.Unlock()
	return err
}

// CleanScratch removes the scratch folders under parent whose owner is
// gone. A folder without a lock file is left alone: its maker was killed
// between creating it and locking it (it is then empty), or it is not
// statsnap's.
func CleanScratch(parent string) {
	des, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), ScratchPrefix) {
			continue
		}
		dir := filepath.Join(parent, de.Name())
		lp := filepath.Join(dir, scratchLock)
		if fi, err := os.Lstat(lp); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		fl := flock.New(lp)
		if ok, err := fl.TryLock(); err == nil && ok {
			if err := os.RemoveAll(dir); err != nil {
				slog.Warn("cannot remove a dead process's scratch folder", "folder", dir, "err", err)
			} else {
				slog.Debug("removed a dead process's scratch folder", "folder", dir)
			}
			_ = fl.Unlock()
		}
	}
}
