package storage

import (
	"errors"
	"io/fs"
	"syscall"
)

// sentinel is an error kind that callers test with errors.Is, whatever
// the backend. Where the standard library has the same kind (fs.ErrNotExist
// …), the sentinel matches it too, so code written against io/fs keeps
// working.
type sentinel struct {
	msg  string
	also error
}

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool { return s.also != nil && target == s.also }

var (
	// ErrNotFound means the file, folder or bucket does not exist.
	ErrNotFound error = &sentinel{"not found", fs.ErrNotExist}
	// ErrExist means a file is already there and is never replaced.
	ErrExist error = &sentinel{"already exists", fs.ErrExist}
	// ErrLocked means another statsnap process holds the folder's lock.
	ErrLocked error = &sentinel{"locked by another statsnap process", nil}
	// ErrNoSpace means the disk, quota or bucket is full.
	ErrNoSpace error = &sentinel{"no space left", nil}
	// ErrPermission means the credentials or file modes do not allow it.
	ErrPermission error = &sentinel{"permission denied", fs.ErrPermission}
	// ErrReadOnly means the place is read-only (a read-only file system).
	ErrReadOnly error = &sentinel{"read-only", nil}
	// ErrUnsafeName means a name that is not a plain file name inside the
	// folder, or a file that is not a regular file (symlink, FIFO…).
	ErrUnsafeName error = &sentinel{"unsafe file name", nil}
	// ErrLocation means the location is not a path or a supported URL; a usage
	// error, never a local folder.
	ErrLocation error = &sentinel{"unsupported location", nil}
	// ErrLockLost means the folder's lock was lost while a command held
	// it: a lease on an object store that another process took over or
	// removed, or that could not be renewed before it expired.
	ErrLockLost error = &sentinel{"lost the lock", nil}
	// ErrUnsupported means the backend lacks something statsnap needs to keep
	// its guarantees (for example conditional writes for the lease).
	ErrUnsupported error = &sentinel{"unsupported by this store", nil}
)

// kinded carries a sentinel alongside the backend's own error, keeping
// the backend's message.
type kinded struct {
	kind error
	err  error
}

func (k *kinded) Error() string   { return k.err.Error() }
func (k *kinded) Unwrap() []error { return []error{k.kind, k.err} }

// WithKind returns err marked as kind (one of the sentinels), keeping
// its message and chain. A nil err stays nil.
func WithKind(kind, err error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return &kinded{kind, err}
}

// ClassifyOS marks an error from the operating system with the sentinel
// for its errno; other errors are returned unchanged. Backends on local
// files call it so that callers never look at errno themselves.
func ClassifyOS(err error) error {
	var errno syscall.Errno
	if err == nil || !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.ENOENT:
		return WithKind(ErrNotFound, err)
	case syscall.EEXIST:
		return WithKind(ErrExist, err)
	case syscall.ENOSPC, syscall.EDQUOT:
		return WithKind(ErrNoSpace, err)
	case syscall.EROFS:
		return WithKind(ErrReadOnly, err)
	case syscall.EACCES, syscall.EPERM:
		return WithKind(ErrPermission, err)
	}
	return err
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) }
