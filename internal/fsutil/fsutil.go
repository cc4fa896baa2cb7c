// Package fsutil holds file-system helpers for files that are not
// snapshots: the target database, samples. Publishing never replaces a
// file and every step is fsynced.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// SyncPath fsyncs a file, or a folder so that its entries (new names,
// renames, removals) are durable. Windows cannot open a folder for
// syncing and orders metadata itself, so there a folder is left alone.
func SyncPath(p string) error {
	if runtime.GOOS == "windows" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PublishNew makes tmp durable and gives it the name final, never
// replacing a file that is or appears there: os.Rename would silently
// overwrite it, a hard link fails with EEXIST instead. File systems
// without hard links fall back to a checked rename, which leaves only a
// narrow race. An existing final is an error wrapping fs.ErrExist, and
// tmp is then left for the caller to remove.
func PublishNew(tmp, final string) error {
	if err := SyncPath(tmp); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(tmp), err)
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", final, fs.ErrExist)
		}
		if _, serr := os.Lstat(final); serr == nil {
			return fmt.Errorf("%s: %w", final, fs.ErrExist)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("move %s into place: %w", filepath.Base(final), err)
		}
	} else if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("remove temporary name %s: %w", filepath.Base(tmp), err)
	}
	if err := SyncPath(filepath.Dir(final)); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(final), err)
	}
	return nil
}
