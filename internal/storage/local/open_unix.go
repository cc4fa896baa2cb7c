//go:build unix

package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/openspartan/statsnap/internal/storage"
)

// openRegular opens p for reading only if it is a regular file.
// O_NOFOLLOW: a symlink planted in the folder must not lead a reader (or
// DuckDB, which reads what we open) anywhere else. O_NONBLOCK: opening a
// FIFO must not wait for a writer; fstat then refuses it. The flag is
// cleared afterwards so reads of the regular file behave as usual.
func openRegular(p, name string) (*os.File, error) {
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, notRegular(name, os.ModeSymlink)
		}
		return nil, storage.ClassifyOS(&os.PathError{Op: "open", Path: p, Err: err})
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, storage.ClassifyOS(&os.PathError{Op: "stat", Path: p, Err: err})
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, notRegular(name, modeOf(uint32(st.Mode)))
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

func modeOf(m uint32) os.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return os.ModeNamedPipe
	case syscall.S_IFLNK:
		return os.ModeSymlink
	case syscall.S_IFDIR:
		return os.ModeDir
	case syscall.S_IFCHR, syscall.S_IFBLK:
		return os.ModeDevice
	case syscall.S_IFSOCK:
		return os.ModeSocket
	}
	return os.ModeIrregular
}

// lockFile is an open .statsnap.lock.
type lockFile struct{ fd int }

// openLock opens (creating if need be) the lock file without following a
// symlink or blocking on a FIFO, and refuses anything but a regular file:
// a planted link must never make statsnap create a file where it points.
// It returns nil, nil only for a shared lock on a read-only file system
// where no lock file exists.
func openLock(p string, exclusive bool) (*lockFile, error) {
	flags := syscall.O_RDONLY | syscall.O_CREAT | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	fd, err := syscall.Open(p, flags, 0o644)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, notRegular(filepath.Base(p), os.ModeSymlink)
		}
		if errors.Is(err, syscall.EROFS) && !exclusive {
			// O_CREAT fails on a read-only file system even when the file
			// exists; open it without creating.
			fd, err = syscall.Open(p, flags&^syscall.O_CREAT, 0)
			if errors.Is(err, syscall.ENOENT) {
				return nil, nil
			}
			if err != nil {
				if errors.Is(err, syscall.ELOOP) {
					return nil, notRegular(filepath.Base(p), os.ModeSymlink)
				}
				return nil, storage.ClassifyOS(&os.PathError{Op: "open", Path: p, Err: err})
			}
		} else {
			return nil, storage.ClassifyOS(&os.PathError{Op: "open", Path: p, Err: err})
		}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, storage.ClassifyOS(&os.PathError{Op: "stat", Path: p, Err: err})
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, notRegular(filepath.Base(p), modeOf(uint32(st.Mode)))
	}
	return &lockFile{fd: fd}, nil
}

func (l *lockFile) try(exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(l.fd, how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, &os.PathError{Op: "flock", Path: storage.LockName, Err: err}
	}
}

func (l *lockFile) close() error {
	// Closing the descriptor releases the flock.
	return syscall.Close(l.fd)
}

// identity names the file fi describes on its device, for versions of
// files too large to hash.
func identity(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	return ""
}

// tryReplaceLock tries once to take the exclusive flock of the file p
// (storage.ReplaceLockName) and returns its release, or nil when another
// process holds it. The file exists only while held: the holder removes
// it before it unlocks, so that no folder keeps a file of statsnap's
// bookkeeping it does not need. That is safe because a lock counts only
// if the name still leads to the file locked: one who opened the file
// just before its holder removed it gets a lock on an orphan, sees the
// name gone or leading elsewhere, and tries again.
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
	var held, named syscall.Stat_t
	if err := syscall.Fstat(lk.fd, &held); err != nil {
		lk.close()
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if err := syscall.Lstat(p, &named); err != nil || named.Dev != held.Dev || named.Ino != held.Ino {
		lk.close()
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			return nil, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		return nil, nil
	}
	return func() error {
		rerr := syscall.Unlink(p)
		if err := lk.close(); err != nil {
			return err
		}
		if rerr != nil && !errors.Is(rerr, syscall.ENOENT) {
			return &os.PathError{Op: "remove", Path: p, Err: rerr}
		}
		return nil
	}, nil
}
