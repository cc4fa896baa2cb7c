package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"

	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// bigTarget makes a database whose one table has enough rows for DuckDB
// to write row groups straight into the file during an INSERT (its
// "optimistic writes"), and a snapshot of it.
func bigTarget(t *testing.T, dir string) (db, folder string) {
	t.Helper()
	db = filepath.Join(dir, "data", "players", "big", "stats.duckdb")
	os.MkdirAll(filepath.Dir(db), 0o755)
	h, err := dbfile.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	// a has no key, so appending it succeeds (and writes row groups);
	// z's key then conflicts and everything rolls back.
	if _, err := h.Exec(`CREATE TABLE a (id BIGINT, v VARCHAR);
		INSERT INTO a SELECT range, 'value ' || range FROM range(400000);
		CREATE TABLE z (id BIGINT PRIMARY KEY);
		INSERT INTO z SELECT range FROM range(10)`); err != nil {
		t.Fatal(err)
	}
	h.Close()
	mustCLI(t, dir, "backup", "--gamertag", "big")
	return db, filepath.Join(dir, "data", "backups", "big")
}

// TestFailedRestoreGivesBackSpace: an append that hits a primary-key
// conflict used to grow the target by megabytes (DuckDB's optimistic
// writes of the rows it then rolled back). The target keeps its size, its
// rows, and (as measured here) its bytes.
func TestFailedRestoreGivesBackSpace(t *testing.T) {
	dir := t.TempDir()
	db, folder := bigTarget(t, dir)
	target := filepath.Join(dir, "target.duckdb")
	testutil.CopyFile(t, db, target)
	before, _ := os.ReadFile(target)
	r := cli(t, dir, "restore", "--db", target, "--backup", folder)
	if r.Code != exitError || !strings.Contains(r.Stderr, "already holds a key") {
		t.Fatalf("conflicting append: exit %d, %q", r.Code, r.Stderr)
	}
	after, _ := os.ReadFile(target)
	if len(after) != len(before) {
		t.Errorf("the failed restore changed the target's size: %d -> %d bytes", len(before), len(after))
	}
	if !bytes.Equal(before, after) {
		t.Logf("the target's size is back but %d bytes differ (DuckDB reused free blocks)", diffBytes(before, after))
	}
	if _, err := os.Stat(target + ".wal"); err == nil {
		t.Error("the failed restore left a write-ahead log")
	}
	if n := countIn(t, target, "SELECT count(*) FROM a"); n != 400000 {
		t.Errorf("target holds %d rows, want 400000", n)
	}
}

func diffBytes(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func freeBytes(t *testing.T, dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// TestRestoreRefusedForSpace: a restore that cannot fit on the target's
// disk is refused before it writes anything, new target or existing.
func TestRestoreRefusedForSpace(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	db, folder := bigTarget(t, dir)
	small := filepath.Join(dir, "small")
	mountTmpfs(t, small, "size=24m")
	existing := filepath.Join(small, "existing.duckdb")
	testutil.CopyFile(t, db, existing)
	before, _ := os.ReadFile(existing)
	free := freeBytes(t, small)
	for _, args := range [][]string{
		{"restore", "--db", filepath.Join(small, "new.duckdb"), "--backup", folder},
		{"restore", "--db", existing, "--backup", folder, "--replace"},
	} {
		r := cli(t, dir, args...)
		if r.Code != exitError || !strings.Contains(r.Stderr, "is full for this restore") {
			t.Errorf("%v: exit %d, %q", args, r.Code, r.Stderr)
		}
		if got := freeBytes(t, small); got != free {
			t.Errorf("%v: free space %d -> %d", args, free, got)
		}
	}
	if _, err := os.Stat(filepath.Join(small, "new.duckdb")); err == nil {
		t.Error("a refused restore created its target")
	}
	if after, _ := os.ReadFile(existing); !bytes.Equal(before, after) {
		t.Error("a refused restore changed the existing target")
	}
	entries, _ := os.ReadDir(small)
	if len(entries) != 1 {
		t.Errorf("the small disk holds %d entries, want only the existing target", len(entries))
	}
}

// TestRestoreSpaceCountsParents: the free space a --tables restore asks
// for counts what it will really write: verified copies of every file of
// the snapshot, and the rows of the foreign-key parents
// --with-dependencies brings, not only the chosen table's. Once only the
// chosen table counted: a small child of a large parent passed the check
// with any parent, and a disk too small for the parent filled up halfway.
func TestRestoreSpaceCountsParents(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "players", "fk", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteDB(t, db,
		// md5 text hardly compresses: the parent's Parquet is megabytes.
		`CREATE TABLE parent (id BIGINT PRIMARY KEY, v VARCHAR)`,
		`INSERT INTO parent SELECT range, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) FROM range(150000)`,
		`CREATE TABLE child (id INTEGER PRIMARY KEY, pid BIGINT REFERENCES parent(id))`,
		`INSERT INTO child VALUES (1, 7), (2, 9)`)
	mustCLI(t, dir, "backup", "--gamertag", "fk", "--time", "2026-03-01T10:00:00Z")
	folder := filepath.Join(dir, "data", "backups", "fk")
	id := snapshot.FormatID(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	var parentBytes int64
	for _, e := range testutil.ReadManifest(t, folder, id).Tables {
		if e.Name == "parent" {
			parentBytes = e.FileSizeBytes
		}
	}
	if parentBytes < 2<<20 {
		t.Fatalf("the parent's file is only %d bytes; the test needs megabytes", parentBytes)
	}
	// Room for the margin and the copies, not for loading the parent.
	small := filepath.Join(dir, "small")
	mountTmpfs(t, small, "size="+strconv.FormatInt((32<<20+2*parentBytes)>>20, 10)+"m")
	target := filepath.Join(small, "new.duckdb")
	r := cli(t, dir, "restore", "--db", target, "--backup", folder, "--tables", "child", "--with-dependencies")
	if r.Code != exitError || !strings.Contains(r.Stderr, "is full for this restore") {
		t.Errorf("exit %d, %q", r.Code, r.Stderr)
	}
	if entries, _ := os.ReadDir(small); len(entries) != 0 {
		t.Errorf("the refused restore left %d entries on the small disk", len(entries))
	}
}
