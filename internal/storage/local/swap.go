package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/storage"
)

// A small file that statsnap rewrites (the ledger) is replaced by
// writing a temporary file, fsyncing it and renaming it over the old
// one: rename(2) swaps the name atomically, so a reader opens either the
// old file or the new one, never a missing or half-written one.
//
// ReplaceIf adds the compare of compare-and-swap. Two verifies may run
// at once under the folder's shared lock, so the compare and the rename
// must not interleave with another's: both happen under an exclusive
// flock on a dedicated file, storage.ReplaceLockName, taken only for
// those few milliseconds and removed by its holder (tryReplaceLock):
// never .statsnap.lock itself, whose shared lock the caller holds
// through another descriptor and would wait on. A
// version is the SHA-256 of the file's bytes: a file replaced by one
// with the same bytes keeps its version, which is harmless (the caller
// merged into exactly those bytes), while times and inode numbers can
// repeat across two replaces within a clock tick.

// replaceLockWait bounds the wait for another process's replace, which
// holds the lock for one small write.
const replaceLockWait = 30 * time.Second

// Replace implements storage.Replacer: a temporary file renamed over
// name.
func (l *Folder) Replace(ctx context.Context, name string, data []byte) error {
	return l.replace(ctx, name, data, "")
}

// ReadVersion implements storage.Swapper.
func (l *Folder) ReadVersion(ctx context.Context, name string, limit int64) ([]byte, storage.Version, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, "", err
	}
	return readVersion(p, name, limit)
}

// ReplaceIf implements storage.Swapper.
func (l *Folder) ReplaceIf(ctx context.Context, name string, data []byte, v storage.Version) error {
	if v == "" {
		return fmt.Errorf("replace %s: no version given", name)
	}
	return l.replace(ctx, name, data, v)
}

// readVersion reads at most limit+1 bytes of the regular file p. A
// version is the hash of the whole file; one larger than limit (only a
// file statsnap did not write is) is named by its identity instead, so
// that a hostile size is never read whole.
func readVersion(p, name string, limit int64) ([]byte, storage.Version, error) {
	h, err := openRegular(p, name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, storage.Absent, err
		}
		return nil, "", err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return nil, "", storage.ClassifyOS(err)
	}
	data, err := io.ReadAll(io.LimitReader(h, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", name, storage.ClassifyOS(err))
	}
	if int64(len(data)) > limit {
		return data, storage.Version(fmt.Sprintf("large:%d:%d:%v", fi.Size(), fi.ModTime().UnixNano(), identity(fi))), nil
	}
	sum := sha256.Sum256(data)
	return data, storage.Version(fmt.Sprintf("sha256:%d:%s", len(data), hex.EncodeToString(sum[:]))), nil
}

// replace writes name whole by rename; with v set, only if it is still
// at version v.
func (l *Folder) replace(ctx context.Context, name string, data []byte, v storage.Version) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if strings.HasPrefix(name, storage.TempPrefix) || name == storage.LockName || name == storage.ReplaceLockName {
		return fmt.Errorf("replace %s: %w: not a file that is replaced", name, storage.ErrUnsafeName)
	}
	unlock, err := l.lockReplace(ctx)
	if err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	// A failed release leaves at worst the lock file, which List leaves
	// out and the next replace takes and removes.
	defer func() { _ = unlock() }()
	if v != "" {
		_, now, err := readVersion(p, name, versionLimit(v))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("replace %s: %w", name, err)
		}
		if now != v {
			return fmt.Errorf("replace %s: %w", name, storage.ErrChanged)
		}
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, storage.TempPrefix+"replace-"+hex.EncodeToString(rnd[:]))
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", name, storage.ClassifyOS(err))
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", name, storage.ClassifyOS(err))
	}
	if err := fsutil.SyncPath(l.Dir); err != nil {
		return fmt.Errorf("replace %s: sync folder: %w", name, storage.ClassifyOS(err))
	}
	return nil
}

// versionLimit is the read limit that gives a version comparable with
// v: for a hash, the length hashed (a longer file differs anyway, and is
// never read whole); for "large:" or Absent, nothing needs reading.
func versionLimit(v storage.Version) int64 {
	var n int64
	if _, err := fmt.Sscanf(string(v), "sha256:%d:", &n); err == nil && n >= 0 {
		return n
	}
	return 0
}

func writeSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lockReplace takes the exclusive flock of storage.ReplaceLockName.
func (l *Folder) lockReplace(ctx context.Context) (func() error, error) {
	p := filepath.Join(l.Dir, storage.ReplaceLockName)
	deadline := time.Now().Add(replaceLockWait)
	for {
		unlock, err := tryReplaceLock(p)
		if err != nil {
			return nil, storage.ClassifyOS(err)
		}
		if unlock != nil {
			return unlock, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("another process holds %s: %w", storage.ReplaceLockName, storage.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
