package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
)

// TestUnknownSchemeIsUsage: a location that looks like a URL of a scheme
// statsnap does not know is a usage error (exit 2) on every command, and
// never becomes a local folder such as ./s3: or ./foo:.
func TestUnknownSchemeIsUsage(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 2)
	for _, loc := range []string{"foo://bucket/x", "s3:/bucket/x", "s3:bucket", "ftp://host/x"} {
		for _, args := range [][]string{
			{"backup", "--gamertag", "p", "--output", loc},
			{"snapshots", "--output", loc},
			{"prune", "--all", "--keep-last", "1", "--output", loc},
			{"verify", "--backup", loc},
			{"restore", "--backup", loc, "--db", filepath.Join(dir, "r.duckdb")},
		} {
			r := cli(t, dir, args...)
			if r.Code != exitUsage || !strings.Contains(r.Stderr, "unknown scheme") && !strings.Contains(r.Stderr, "//bucket") {
				t.Errorf("%v: exit %d, %q; want exit 2 naming the scheme", args, r.Code, r.Stderr)
			}
		}
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), ":") {
			t.Errorf("a local folder %q was created for a URL", de.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r.duckdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore created its target: %v", err)
	}
	// A local folder with ':' in its name is reached with ./ in front.
	mustCLI(t, dir, "backup", "--gamertag", "p", "--output", "./s3:")
	if _, err := os.Stat(filepath.Join(dir, "s3:", "p")); err != nil {
		t.Errorf("./s3: was not used as a folder: %v", err)
	}
}

// cliWithin runs the binary and fails the test if it does not finish: a
// command that opened a FIFO as a file would wait for a writer forever.
func cliWithin(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r, ended := cliBounded(t, dir, 2*time.Minute, args...)
	if !ended {
		t.Fatalf("statsnap %v did not finish: it must have opened something that is not a file", args)
	}
	return r
}

// backedUp makes one player and one snapshot, returning its folder.
func backedUp(t *testing.T) (dir, folder string) {
	dir = t.TempDir()
	samplePlayer(t, dir, "p", 3)
	mustCLI(t, dir, "backup", "--gamertag", "p")
	return dir, filepath.Join(dir, "data", "backups", "p")
}

// TestFIFOInPlaceOfParquet: a FIFO where a listed Parquet file should be
// is refused by verify and restore, which finish (exit 3) instead of
// hanging, and the target is never created.
func TestFIFOInPlaceOfParquet(t *testing.T) {
	dir, folder := backedUp(t)
	des, _ := os.ReadDir(folder)
	var victim string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".parquet") {
			victim = filepath.Join(folder, de.Name())
			break
		}
	}
	os.Remove(victim)
	if err := syscall.Mkfifo(victim, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cliWithin(t, dir, "verify", "--backup", folder); r.Code != exitIntegrity {
		t.Errorf("verify: exit %d %q, want 3", r.Code, r.Stderr)
	}
	target := filepath.Join(dir, "new.duckdb")
	if r := cliWithin(t, dir, "restore", "--backup", folder, "--db", target); r.Code != exitIntegrity {
		t.Errorf("restore: exit %d %q, want 3", r.Code, r.Stderr)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore created its target: %v", err)
	}
}

// TestHostileLockFile: a FIFO or a dangling symlink named .statsnap.lock
// stops every command with exit 1 at once; nothing is created where the
// link points and no command carries on without the lock.
func TestHostileLockFile(t *testing.T) {
	for _, kind := range []string{"fifo", "dangling symlink"} {
		t.Run(kind, func(t *testing.T) {
			dir, folder := backedUp(t)
			lock := filepath.Join(folder, storage.LockName)
			os.Remove(lock)
			planted := filepath.Join(dir, "planted")
			if kind == "fifo" {
				if err := syscall.Mkfifo(lock, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Symlink(planted, lock); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"verify", "--backup", folder},
				{"restore", "--backup", folder, "--db", filepath.Join(dir, "new.duckdb")},
				{"backup", "--gamertag", "p"},
				{"prune", "--gamertag", "p", "--keep-last", "1"},
			} {
				r := cliWithin(t, dir, args...)
				if r.Code != exitError || !strings.Contains(r.Stderr, "not a regular file") {
					t.Errorf("%v: exit %d %q; want 1 saying the lock is not a regular file", args, r.Code, r.Stderr)
				}
				if _, err := os.Lstat(planted); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%v created a file where the lock symlink points", args)
				}
			}
		})
	}
}
