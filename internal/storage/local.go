package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// Local is a Folder on the local file system.
type Local struct {
	Dir string
}

// OpenLocal returns the local folder dir, creating it when create is set.
func OpenLocal(dir string, create bool) (*Local, error) {
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create backup folder: %w", err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open backup folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open backup folder: %s is not a directory", dir)
	}
	return &Local{Dir: dir}, nil
}

// Location is the folder's path.
func (l *Local) Location() string { return l.Dir }

func (l *Local) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, name), nil
}

// List returns the folder's regular files, sorted by name.
func (l *Local) List(ctx context.Context) ([]Entry, error) {
	des, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.Dir, err)
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed while listing
			}
			return nil, fmt.Errorf("list %s: %w", l.Dir, err)
		}
		out = append(out, Entry{Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

// Open opens a regular file of the folder for reading, never through a symlink.
func (l *Local) Open(ctx context.Context, name string) (File, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	// O_NOFOLLOW: a symlink planted in the folder must not lead a reader
	// (or DuckDB, which reads what we open) anywhere else.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("open %s: %w: it is a symbolic link", name, ErrUnsafeName)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w: not a regular file", name, ErrUnsafeName)
	}
	return localFile{File: f, size: fi.Size()}, nil
}

// StagePath is the local path where a staging file is written.
func (l *Local) StagePath(name string) (string, error) { return l.path(name) }

// Publish makes staged durable and renames it to final.
func (l *Local) Publish(ctx context.Context, staged, final string) error {
	sp, err := l.path(staged)
	if err != nil {
		return err
	}
	fp, err := l.path(final)
	if err != nil {
		return err
	}
	// Never replace a file: two snapshots must not share a name.
	if err := PublishNew(sp, fp); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return nil
}

// WriteFile writes data durably under name.
func (l *Local) WriteFile(ctx context.Context, name string, data []byte) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	return f.Close()
}

// Remove deletes name; a missing file is not an error.
func (l *Local) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Sync makes the folder's renames and removals durable.
func (l *Local) Sync(ctx context.Context) error {
	if err := SyncPath(l.Dir); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

// Lock takes the folder's flock, shared or exclusive, waiting at most wait.
func (l *Local) Lock(ctx context.Context, exclusive bool, wait time.Duration) (func() error, error) {
	fl := flock.New(filepath.Join(l.Dir, LockName))
	try := fl.TryRLock
	if exclusive {
		try = fl.TryLock
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := try()
		if err != nil {
			// A read-only folder cannot hold a lock file; readers still
			// work there, and nobody can write or prune it either.
			if !exclusive && (errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission)) {
				return func() error { return nil }, nil
			}
			return nil, fmt.Errorf("lock %s: %w", l.Dir, err)
		}
		if ok {
			return fl.Unlock, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("lock %s: %w", l.Dir, ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
