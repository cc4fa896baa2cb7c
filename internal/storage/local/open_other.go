//go:build !unix

package local

import (
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// openRegular opens p for reading only if it is a regular file. Without
// O_NOFOLLOW, it checks with Lstat first (a narrow race, on platforms
// where FIFOs and symlinks are rare in a backup folder).
func openRegular(p, name string) (*os.File, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(name, fi.Mode())
	}
	return os.Open(p)
}

type lockFile struct{ fl *flock.Flock }

func openLock(p string, exclusive bool) (*lockFile, error) {
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular(filepath.Base(p), fi.Mode())
	}
	return &lockFile{flock.New(p)}, nil
}

func (l *lockFile) try(exclusive bool) (bool, error) {
	if exclusive {
		return l.fl.TryLock()
	}
	return l.fl.TryRLock()
}

func (l *lockFile) close() error { return l.fl.Unlock() }

// identity names the file fi describes, for versions of files too large
// to hash: on these platforms, its size and time are all there is.
func identity(fi os.FileInfo) string { return "" }

// tryReplaceLock tries once to take the exclusive lock of the file p
// (storage.ReplaceLockName) and returns its release, or nil when another
// process holds it. Here a file cannot be removed while open, so it
// stays (List leaves it out).
func tryReplaceLock(p string) (func() error, error) {
	lk, err := openLock(p, true)
	if err != nil {
		return nil, err
	}
	ok, err := lk.try(true)
	if err != nil || !ok {
		lk.close()
		return nil, err
	}
	return lk.close, nil
}
