package backup_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
)

// TestMain lets the test binary act as a second process that tries to
// write the source while a backup reads it.
func TestMain(m *testing.M) {
	if path := os.Getenv("STATSNAP_TEST_WRITE"); path != "" {
		db, err := sql.Open("duckdb", path)
		if err == nil {
			_, err = db.Exec("INSERT INTO t SELECT range, 'late' FROM range(10)")
			db.Close()
		}
		if err != nil {
			os.Stdout.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestWritersLockedOut: tables are copied on two connections at once,
// which is one point in time only because no other process can write the
// file while the backup holds it open read-only. A writer that tries
// mid-backup is refused, and every table holds what it held before.
func TestWritersLockedOut(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE t (id BIGINT, s VARCHAR)`,
		`INSERT INTO t SELECT range, 'row ' || range FROM range(300000)`,
		`CREATE TABLE u AS SELECT range AS id FROM range(1000)`,
		`CREATE TABLE v AS SELECT range AS id FROM range(10)`,
	)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}

	var once sync.Once
	var writeErr error
	var writeOut []byte
	res, err := backup.Backup(context.Background(), backup.Options{
		Source: src, Gamertag: "tester", Folder: folder, CompressionLevel: 3, Jobs: 2,
		Progress: func(p backup.Progress) {
			if p.Done {
				return
			}
			once.Do(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "STATSNAP_TEST_WRITE="+src)
				writeOut, writeErr = cmd.Output()
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if writeErr == nil {
		t.Fatal("another process wrote the source while it was being backed up")
	}
	if !strings.Contains(string(writeOut), "lock") {
		t.Errorf("the writer failed, but not on the file lock: %s", writeOut)
	}
	want := map[string]int64{"t": 300000, "u": 1000, "v": 10}
	for key, n := range want {
		if got := res.Manifest.Tables[key].Rows; got != n {
			t.Errorf("table %s: %d rows in the snapshot, want %d", key, got, n)
		}
	}

	// Once the backup is done the writer gets in: the lock was the backup's.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATSNAP_TEST_WRITE="+src)
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("after the backup the writer still fails: %v %s", err, out)
	}
}

// TestWideRowsOverMemoryLimit: a row group of wide rows can need more than
// the backup's memory limit, which DuckDB cannot spill; the table is then
// copied again under DuckDB's default limit instead of failing the backup.
func TestWideRowsOverMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE wide AS SELECT range AS id, repeat(md5(range::VARCHAR), 64) AS s FROM range(60000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE narrow AS SELECT range AS id FROM range(1000)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	opt := backup.Options{Source: src, Gamertag: "tester", CompressionLevel: 3, MemoryLimit: "16MB"}

	// The same copy under the small limit alone fails: the retry is what
	// makes the backup below pass.
	probe, err := sql.Open("duckdb", src+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	probe.Exec("SET memory_limit = '16MB'")
	_, perr := probe.Exec("COPY wide TO '" + filepath.Join(dir, "probe.parquet") + "' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)")
	probe.Close()
	if perr == nil || !strings.Contains(perr.Error(), "Out of Memory") {
		t.Fatalf("want the plain COPY to run out of memory at 16MB, got %v", perr)
	}

	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	opt.Folder = folder
	res, err := backup.Backup(context.Background(), opt)
	if err != nil {
		t.Fatalf("backup of wide rows under a 16MB limit: %v", err)
	}
	if got := res.Manifest.Tables["wide"].Rows; got != 60000 {
		t.Errorf("wide: %d rows, want 60000", got)
	}
	if got := res.Manifest.Tables["narrow"].Rows; got != 1000 {
		t.Errorf("narrow: %d rows, want 1000", got)
	}
}
