// Package local is the storage backend of a folder on the local file
// system. Files are published by fsync, hard link (never replacing a
// name) and fsync of the folder; the lock is an flock on .statsnap.lock.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/storage"
)

func init() {
	storage.Register("", func(ctx context.Context, _ *url.URL, path string) (storage.Root, error) {
		return OpenRoot(path), nil
	})
}

// Root is a backup root on the local file system.
type Root struct{ Dir string }

// OpenRoot returns the root at dir; nothing is touched until it is used.
func OpenRoot(dir string) *Root { return &Root{Dir: dir} }

// Location implements storage.Root.
func (r *Root) Location() string { return r.Dir }

// Close implements storage.Root.
func (r *Root) Close() error { return nil }

// Players implements storage.Root.
func (r *Root) Players(ctx context.Context) ([]string, error) {
	des, err := os.ReadDir(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.Dir, storage.ClassifyOS(err))
	}
	var out []string
	for _, de := range des {
		if de.IsDir() && storage.CheckName(de.Name()) == nil {
			out = append(out, de.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Folder implements storage.Root.
func (r *Root) Folder(ctx context.Context, name string, create bool) (storage.Folder, error) {
	dir := r.Dir
	if name != "" {
		if err := storage.CheckName(name); err != nil {
			return nil, err
		}
		dir = filepath.Join(r.Dir, name)
	}
	return OpenFolder(dir, create)
}

// Folder is one player folder on the local file system.
type Folder struct {
	Dir string
}

// OpenFolder returns the local folder dir, creating it when create is set.
func OpenFolder(dir string, create bool) (*Folder, error) {
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create backup folder: %w", storage.ClassifyOS(err))
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open backup folder: %w", storage.ClassifyOS(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open backup folder: %s is not a directory", dir)
	}
	return &Folder{Dir: dir}, nil
}

// Location implements storage.Folder.
func (l *Folder) Location() string { return l.Dir }

// Close implements storage.Folder.
func (l *Folder) Close() error { return nil }

func (l *Folder) path(name string) (string, error) {
	if err := storage.CheckName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, name), nil
}

// List implements storage.Folder.
func (l *Folder) List(ctx context.Context) ([]storage.Entry, error) {
	des, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.Dir, storage.ClassifyOS(err))
	}
	out := make([]storage.Entry, 0, len(des))
	for _, de := range des {
		if !de.Type().IsRegular() || de.Name() == storage.LockName || de.Name() == storage.ReplaceLockName {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed while listing
			}
			return nil, fmt.Errorf("list %s: %w", l.Dir, storage.ClassifyOS(err))
		}
		out = append(out, storage.Entry{Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type file struct {
	*os.File
	size int64
}

func (f file) Size() int64 { return f.size }

// Open implements storage.Folder.
func (l *Folder) Open(ctx context.Context, name string) (storage.File, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	f, err := openRegular(p, name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, storage.ClassifyOS(err)
	}
	return file{File: f, size: fi.Size()}, nil
}

// LocalPath is where DuckDB may read a published file in place.
func (l *Folder) LocalPath(name string) (string, error) { return l.path(name) }

// StagePath implements storage.Folder.
func (l *Folder) StagePath(name string) (string, error) { return l.path(name) }

// Publish implements storage.Folder.
func (l *Folder) Publish(ctx context.Context, staged, final string) error {
	sp, err := l.path(staged)
	if err != nil {
		return err
	}
	fp, err := l.path(final)
	if err != nil {
		return err
	}
	// Never replace a file: two snapshots must not share a name.
	if err := fsutil.PublishNew(sp, fp); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = storage.WithKind(storage.ErrExist, err)
		}
		return fmt.Errorf("publish %s: %w", final, storage.ClassifyOS(err))
	}
	return nil
}

// WriteFile implements storage.Folder.
func (l *Folder) WriteFile(ctx context.Context, name string, data []byte) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return storage.ClassifyOS(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(p)
		return storage.ClassifyOS(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(p)
		return storage.ClassifyOS(err)
	}
	return storage.ClassifyOS(f.Close())
}

// Remove implements storage.Folder.
func (l *Folder) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return storage.ClassifyOS(err)
	}
	return nil
}

// Sync implements storage.Folder.
func (l *Folder) Sync(ctx context.Context) error {
	if err := fsutil.SyncPath(l.Dir); err != nil {
		return fmt.Errorf("sync folder: %w", storage.ClassifyOS(err))
	}
	return nil
}

// Lock implements storage.Folder.
func (l *Folder) Lock(ctx context.Context, exclusive bool, wait time.Duration) (func() error, error) {
	lk, err := openLock(filepath.Join(l.Dir, storage.LockName), exclusive)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.Dir, err)
	}
	if lk == nil {
		// Only for a reader on a read-only file system with no lock file:
		// nothing can write there, so there is nothing to exclude.
		return func() error { return nil }, nil
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := lk.try(exclusive)
		if err != nil {
			lk.close()
			return nil, fmt.Errorf("lock %s: %w", l.Dir, storage.ClassifyOS(err))
		}
		if ok {
			return lk.close, nil
		}
		if !time.Now().Before(deadline) {
			lk.close()
			return nil, fmt.Errorf("lock %s: %w", l.Dir, storage.ErrLocked)
		}
		select {
		case <-ctx.Done():
			lk.close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// notRegular explains why a name that is not a plain file is refused.
func notRegular(name string, mode fs.FileMode) error {
	what := "not a regular file"
	switch {
	case mode&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode.IsDir():
		what = "a folder"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("open %s: %w: it is %s, not a regular file", name, storage.ErrUnsafeName, what)
}
