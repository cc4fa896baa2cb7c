// Package storage is the seam between statsnap and the place snapshots
// live. Commands and packages see a Folder (one player's backup folder);
// today the only backend is a local directory, and an object store can
// slot in behind the same interface by staging DuckDB's output locally.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"
)

// File is an open snapshot file: Parquet readers need ReaderAt and Seeker.
type File interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}

// Entry is one file of a folder.
type Entry struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Folder is one player's backup folder.
type Folder interface {
	// Location names the folder for messages.
	Location() string
	// List returns the regular files of the folder (symlinks and
	// subfolders excluded), sorted by name.
	List(ctx context.Context) ([]Entry, error)
	// Open opens a regular file for reading; it refuses symlinks.
	Open(ctx context.Context, name string) (File, error)
	// StagePath returns a local path where a temporary file called name
	// can be written by another program (DuckDB's COPY).
	StagePath(name string) (string, error)
	// Publish makes a staged file durable and renames it to final.
	Publish(ctx context.Context, staged, final string) error
	// WriteFile writes data durably under name (not atomically: callers
	// write a temporary name and Publish it when atomicity matters).
	WriteFile(ctx context.Context, name string, data []byte) error
	// Remove deletes name; a missing file is not an error.
	Remove(ctx context.Context, name string) error
	// Sync makes renames and removals in the folder durable.
	Sync(ctx context.Context) error
	// Lock takes the folder's advisory lock, shared or exclusive, waiting
	// at most wait. It returns ErrLocked when another process holds it.
	Lock(ctx context.Context, exclusive bool, wait time.Duration) (unlock func() error, err error)
}

// ErrLocked reports that another process holds the folder's lock.
var ErrLocked = errors.New("locked by another statsnap process")

// ErrUnsafeName reports a file name that is not a plain name inside the folder.
var ErrUnsafeName = errors.New("unsafe file name")

// LockName is the lock file inside every player folder.
const LockName = ".statsnap.lock"

// CheckName accepts only plain file names that stay inside the folder:
// no separators, no "." or "..", no NUL or control characters, valid
// UTF-8 and at most 255 bytes. Every name read from a manifest or a
// journal goes through it before any file is touched.
func CheckName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: %q", ErrUnsafeName, name)
	case len(name) > 255:
		return fmt.Errorf("%w: %d bytes long", ErrUnsafeName, len(name))
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrUnsafeName, name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%w: %q contains a path separator", ErrUnsafeName, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q contains a control character", ErrUnsafeName, name)
		}
	}
	return nil
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
