// Package storage is the seam between statsnap and the place snapshots
// live. Open takes a backup root's location (a local path or an
// object-store URL) and returns a Root, which lists player folders and
// opens one as a Folder. Everything above this package sees only Root,
// Folder and the sentinel errors; the backends live in subpackages
// (local, mem, blob) and register their schemes here.
package storage

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// File is an open snapshot file: Parquet readers need ReaderAt and Seeker.
// On an object store ReadAt is a ranged read.
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

// Root is a backup root: one folder per player.
type Root interface {
	// Location names the root for messages (never with credentials).
	Location() string
	// Players lists the names of the player folders, sorted. Names that
	// fail CheckName are left out.
	Players(ctx context.Context) ([]string, error)
	// Folder opens the player folder name ("" is the root's own location
	// used as one folder, for --backup). Without create, a folder that
	// does not exist is ErrNotFound.
	Folder(ctx context.Context, name string, create bool) (Folder, error)
	// Close releases what the root holds (connections, staging space).
	Close() error
}

// Folder is one player's backup folder.
//
// Names that start with TempPrefix are staging names: a file written at
// one (through StagePath or WriteFile) exists only to be Published under
// its final name. A backend may keep such files outside the store (an
// object store keeps them on local disk, where DuckDB can write them),
// so List need not show them and Publish is their only way in.
type Folder interface {
	// Location names the folder for messages (never with credentials).
	Location() string
	// List returns the regular files of the folder (symlinks, subfolders
	// and the lock excluded), sorted by name.
	List(ctx context.Context) ([]Entry, error)
	// Open opens a regular file for reading; it refuses symlinks and
	// anything else that is not a plain file (a FIFO must never hang a
	// reader). A missing file is ErrNotFound.
	Open(ctx context.Context, name string) (File, error)
	// StagePath returns a local path where the staging file name (which
	// starts with TempPrefix) can be written by another program (DuckDB's
	// COPY). Open reads it back before it is published.
	StagePath(name string) (string, error)
	// Publish makes a staged file durable under the name final, never
	// replacing an existing final (that is an error wrapping ErrExist).
	// On an object store this is the upload.
	Publish(ctx context.Context, staged, final string) error
	// WriteFile writes data durably under name, refusing to replace an
	// existing file (ErrExist). Callers write a staging name and Publish
	// it when atomicity matters.
	WriteFile(ctx context.Context, name string, data []byte) error
	// Remove deletes name; a missing file is not an error.
	Remove(ctx context.Context, name string) error
	// Sync makes publishes and removals in the folder durable.
	Sync(ctx context.Context) error
	// Lock takes the folder's lock, shared or exclusive, waiting at most
	// wait. It returns ErrLocked when another process holds it, and an
	// error (never a silent no-op) when it cannot be taken at all.
	Lock(ctx context.Context, exclusive bool, wait time.Duration) (unlock func() error, err error)
	// Close releases the folder; files opened from it must be closed first.
	Close() error
}

// LocalPather is implemented by folders whose published files are plain
// local files that another program (DuckDB) may read in place.
type LocalPather interface {
	LocalPath(name string) (string, error)
}

// PrefixLister is implemented by folders where listing only the names
// that begin with a prefix is a request of its own, cheaper than a whole
// listing (an object store). verify lists the manifests this way while
// the whole folder is listed, so that their reads start sooner.
type PrefixLister interface {
	ListPrefix(ctx context.Context, prefix string) ([]Entry, error)
}

// PrefixListerOf returns f's PrefixLister, through the wrappers that own
// a folder's root.
func PrefixListerOf(f Folder) (PrefixLister, bool) {
	if o, ok := f.(*ownedFolder); ok {
		f = o.Folder
	}
	pl, ok := f.(PrefixLister)
	return pl, ok
}

// Replacer is implemented by folders that can replace a file in one
// atomic step, never showing a reader a missing or half-written file: an
// object store's PUT makes the new object visible whole in place of the
// old. statsnap uses it only for its own bookkeeping (the ledger); other
// folders remove the old file and Publish the new one.
type Replacer interface {
	Replace(ctx context.Context, name string, data []byte) error
}

// Version names one stored state of a file as Swapper.ReadVersion saw
// it: an opaque token that only the folder that issued it interprets
// (an ETag, a GCS generation, a content hash). The zero Version names
// nothing; Absent is the version of a file that does not exist.
type Version string

// Absent is the version ReadVersion gives a missing file: ReplaceIf with
// it creates the file only if it is still missing.
const Absent Version = "absent"

// ErrChanged means a conditional replace found the file changed since
// the version it was given was read (another process wrote or removed
// it, or created it where it was missing). The caller reads it again and
// retries; nothing was written.
var ErrChanged error = &sentinel{"changed since it was read", nil}

// Swapper is implemented by folders that replace a small file by
// compare-and-swap, so that two processes updating it at once (two
// verifies under a shared lock, each merging its records into the
// ledger) cannot both win from one version and silently drop the
// other's update: the loser gets ErrChanged, reads again and merges
// again. Like Replacer, a successful ReplaceIf never shows a reader a
// missing or half-written file. statsnap uses it only for the ledger.
type Swapper interface {
	// ReadVersion reads the whole file name, at most limit bytes of it,
	// and returns them with the version read. A file larger than limit
	// returns its first limit+1 bytes (the caller refuses it) and a
	// version that still stands for the whole file. A missing file is
	// an error wrapping ErrNotFound, with version Absent.
	ReadVersion(ctx context.Context, name string, limit int64) ([]byte, Version, error)
	// ReplaceIf writes data under name only if the stored file is still
	// at version v (for Absent: still missing). Otherwise it writes
	// nothing and returns an error wrapping ErrChanged. A store that
	// cannot honour the condition returns an error wrapping
	// ErrUnsupported, and the caller falls back to Replacer.
	ReplaceIf(ctx context.Context, name string, data []byte, v Version) error
}

// SwapperOf returns f's Swapper when it has one.
func SwapperOf(f Folder) (Swapper, bool) {
	if o, ok := f.(*ownedFolder); ok {
		f = o.Folder
	}
	s, ok := f.(Swapper)
	return s, ok
}

type lockLostKey struct{}

// WithLockLost returns ctx carrying lost, which Lock hands the lease it
// takes: a folder whose lock can be lost while held (a lease on an object
// store) calls lost once, with an error wrapping ErrLockLost, so that the
// command stops before it commits anything more. A kernel lock cannot be
// lost, so local folders never call it.
func WithLockLost(ctx context.Context, lost func(error)) context.Context {
	return context.WithValue(ctx, lockLostKey{}, lost)
}

// LockLost returns the function WithLockLost put in ctx, or nil.
func LockLost(ctx context.Context) func(error) {
	f, _ := ctx.Value(lockLostKey{}).(func(error))
	return f
}

// LockName is the lock file (or lease object) inside every player folder.
const LockName = ".statsnap.lock"

// ReplaceLockName is the file a local folder flocks, exclusively and
// only for a moment, while it compares and swaps a file (Swapper). Like
// LockName it is statsnap's own: List leaves it out.
const ReplaceLockName = LockName + ".replace"

// TempPrefix starts every staging name (see Folder).
const TempPrefix = ".statsnap-tmp-"

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
