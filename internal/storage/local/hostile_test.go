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

// TestReplaceLockPlanted: a symlink, FIFO or folder planted as the
// replace lock makes a compare-and-swap fail at once, creating nothing
// where a link points and leaving the file to replace as it was; a stale
// lock file left by a killed process is taken and removed.
func TestReplaceLockPlanted(t *testing.T) {
	ctx := context.Background()
	for _, plant := range []string{"symlink", "fifo", "folder", "stale file"} {
		t.Run(plant, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "elsewhere")
			lock := filepath.Join(dir, storage.ReplaceLockName)
			var err error
			switch plant {
			case "symlink":
				err = os.Symlink(target, lock)
			case "fifo":
				err = syscall.Mkfifo(lock, 0o644)
			case "folder":
				err = os.Mkdir(lock, 0o755)
			case "stale file":
				err = os.WriteFile(lock, nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := local.OpenFolder(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.WriteFile(ctx, "ledger.json", []byte("old")); err != nil {
				t.Fatal(err)
			}
			_, v, err := f.ReadVersion(ctx, "ledger.json", 100)
			if err != nil {
				t.Fatal(err)
			}
			err = within(t, "ReplaceIf", func() error { return f.ReplaceIf(ctx, "ledger.json", []byte("new"), v) })
			got, _ := os.ReadFile(filepath.Join(dir, "ledger.json"))
			if plant == "stale file" {
				if err != nil || string(got) != "new" {
					t.Fatalf("with a stale lock file: %v, %q", err, got)
				}
				if _, err := os.Lstat(lock); !os.IsNotExist(err) {
					t.Fatalf("the stale lock stayed: %v", err)
				}
				return
			}
			if err == nil || string(got) != "old" {
				t.Fatalf("with a %s as the lock: %v, the file holds %q", plant, err, got)
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Fatalf("a file was created where the link points: %v", err)
			}
			es, _ := f.List(ctx)
			if len(es) != 1 || es[0].Name != "ledger.json" {
				t.Fatalf("List shows %+v", es)
			}
		})
	}
}
