package fsutil

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	return NewScratchAs(parent, ScratchPrefix+kind+"-", ScratchPrefix, 0)
}

// NewScratchAs makes a scratch folder prefix* under parent, after
// removing the dead processes' folders whose name starts with family
// (CleanScratch). unlockedAge, when not zero, also removes folders of the
// family that have no lock file and are older than that: a family that
// lives only beside statsnap's own files (restore's work folders) can
// take such a folder for a leftover; one in the shared temp folder cannot.
func NewScratchAs(parent, prefix, family string, unlockedAge time.Duration) (*Scratch, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	parent, err := filepath.Abs(parent)
	if err != nil {
		return nil, fmt.Errorf("create a scratch folder: %w", err)
	}
	CleanScratch(parent, family, unlockedAge)
	// The folder is made under a name outside the family (settingUp) and
	// takes its family's name only once its lock is held: between the
	// lock file's creation and its flock, another process's (or
	// goroutine's) CleanScratch would find it free and remove it, which
	// made two backups starting at once (backup --all --jobs 2) lose a
	// scratch folder. A rename keeps the open lock.
	tmp, err := os.MkdirTemp(parent, settingUp+prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create a scratch folder: %w", err)
	}
	fl := flock.New(filepath.Join(tmp, scratchLock))
	if ok, err := fl.TryLock(); err != nil || !ok {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("lock scratch folder %s: %v", tmp, err)
	}
	dir := filepath.Join(parent, strings.TrimPrefix(filepath.Base(tmp), settingUp))
	if err := os.Rename(tmp, dir); err != nil {
		// Windows refuses to rename a folder holding an open file: there
		// the lock is let go for the rename and taken again after it,
		// which reopens the window only on that platform.
		_ = fl.Unlock()
		if err := os.Rename(tmp, dir); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("create a scratch folder: %w", err)
		}
		fl = flock.New(filepath.Join(dir, scratchLock))
		if ok, err := fl.TryLock(); err != nil || !ok {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("lock scratch folder %s: %v", dir, err)
		}
	}
	return &Scratch{Dir: dir, lock: fl}, nil
}

// settingUp starts the name of a scratch folder until its lock is held.
// CleanScratch removes such a folder only once it is older than
// settingUpAge: its maker was killed between the mkdir and the rename.
const (
	settingUp    = ".new"
	settingUpAge = time.Hour
)

// Remove deletes the folder and everything in it, then releases it.
func (s *Scratch) Remove() error {
	err := os.RemoveAll(s.Dir)
	_ = s.lock.Unlock()
	return err
}

// CleanScratch removes the folders under parent whose name starts with
// family and whose owner is gone. A folder without a lock file was made
// by a process killed between creating and locking it (it is then
// empty), or is not statsnap's: it is left alone, unless unlockedAge is
// set and it is older than that.
func CleanScratch(parent, family string, unlockedAge time.Duration) {
	des, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, de := range des {
		if de.IsDir() && strings.HasPrefix(de.Name(), settingUp+family) {
			if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > settingUpAge {
				removeScratch(filepath.Join(parent, de.Name()))
			}
			continue
		}
		if !de.IsDir() || !strings.HasPrefix(de.Name(), family) {
			continue
		}
		dir := filepath.Join(parent, de.Name())
		lp := filepath.Join(dir, scratchLock)
		if fi, err := os.Lstat(lp); err != nil || !fi.Mode().IsRegular() {
			if info, ierr := de.Info(); unlockedAge > 0 && ierr == nil && time.Since(info.ModTime()) > unlockedAge {
				removeScratch(dir)
			}
			continue
		}
		// Never O_CREATE: the owner may have just removed the lock file
		// on its way out, and a lock file made again here would keep its
		// RemoveAll from removing the folder ("directory not empty").
		fl := flock.New(lp, flock.SetFlag(os.O_RDWR))
		if ok, err := fl.TryLock(); err == nil && ok {
			removeScratch(dir)
			_ = fl.Unlock()
		}
	}
}

func removeScratch(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		slog.Warn("cannot remove a dead process's scratch folder", "folder", dir, "err", err)
	} else {
		slog.Debug("removed a dead process's scratch folder", "folder", dir)
	}
}
