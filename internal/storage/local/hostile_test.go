//go:build unix

package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
)

// within fails the test if fn does not return: a FIFO opened for reading
// without O_NONBLOCK would block forever.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s hung: it opened a FIFO as if it were a file", what)
		return nil
	}
}

// TestFIFOInPlaceOfAFile: a FIFO named like a listed Parquet file is
// refused at once as not a regular file.
func TestFIFOInPlaceOfAFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "t_20260101_000000.parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := local.OpenFolder(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	err = within(t, "Open", func() error {
		_, err := f.Open(context.Background(), "t_20260101_000000.parquet")
		return err
	})
	if !errors.Is(err, storage.ErrUnsafeName) {
		t.Fatalf("Open(FIFO) = %v, want ErrUnsafeName", err)
	}
	es, _ := f.List(context.Background())
	if len(es) != 0 {
		t.Errorf("List shows the FIFO: %+v", es)
	}
}

// TestOpenRefusesSymlink: a symlink in the folder is never followed.
func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("x"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "a.parquet"))
	f, _ := local.OpenFolder(dir, false)
	if _, err := f.Open(context.Background(), "a.parquet"); !errors.Is(err, storage.ErrUnsafeName) {
		t.Fatalf("Open(symlink) = %v, want ErrUnsafeName", err)
	}
}

// TestLockFIFO: a FIFO named .statsnap.lock neither hangs a lock nor is
// taken for a lock; both shared and exclusive are refused.
func TestLockFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, storage.LockName), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := local.OpenFolder(dir, false)
	for _, excl := range []bool{false, true} {
		err := within(t, "Lock", func() error {
			u, err := f.Lock(context.Background(), excl, 0)
			if err == nil {
				u()
			}
			return err
		})
		if !errors.Is(err, storage.ErrUnsafeName) {
			t.Fatalf("Lock(exclusive=%v) on a FIFO = %v, want ErrUnsafeName", excl, err)
		}
	}
}

// TestLockDanglingSymlink: a dangling .statsnap.lock symlink is refused,
// and no file is created where it points.
func TestLockDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "planted")
	if err := os.Symlink(target, filepath.Join(dir, storage.LockName)); err != nil {
		t.Fatal(err)
	}
	f, _ := local.OpenFolder(dir, false)
	for _, excl := range []bool{false, true} {
		if _, err := f.Lock(context.Background(), excl, 0); !errors.Is(err, storage.ErrUnsafeName) {
			t.Fatalf("Lock(exclusive=%v) through a symlink = %v, want ErrUnsafeName", excl, err)
		}
		if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the lock created a file where the symlink points: %v", err)
		}
	}
	// A symlink to an existing file is refused just the same.
	os.WriteFile(target, nil, 0o600)
	if _, err := f.Lock(context.Background(), false, 0); !errors.Is(err, storage.ErrUnsafeName) {
		t.Fatalf("Lock through a symlink to a file = %v", err)
	}
}

// TestLockUnreadable: a lock file that cannot be opened stops a reader;
// it never carries on without the lock.
func TestLockUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root opens any file: make one the kernel refuses instead, a lock
		// file in a folder root cannot search is not possible either, so
		// use a directory in place of the lock file.
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, storage.LockName), 0o755)
		f, _ := local.OpenFolder(dir, false)
		if _, err := f.Lock(context.Background(), false, 0); err == nil {
			t.Fatal("a shared lock was granted without a lock file")
		}
		return
	}
	dir := t.TempDir()
	p := filepath.Join(dir, storage.LockName)
	os.WriteFile(p, nil, 0o000)
	f, _ := local.OpenFolder(dir, false)
	if _, err := f.Lock(context.Background(), false, 0); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("shared lock on an unreadable lock file = %v, want ErrPermission", err)
	}
}
