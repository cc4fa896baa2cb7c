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

	"github.com/openspartan/statsnap/backup"
	"github.com/openspartan/statsnap/storage"
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
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE t (id BIGINT, s VARCHAR)`,
		`INSERT INTO t SELECT range, 'row ' || range FROM range(300000)`,
		`CREATE TABLE u AS SELECT range AS id FROM range(1000)`,
		`CREATE TABLE v AS SELECT range AS id FROM range(10)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	folder, err := storage.OpenLocal(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}

	var once sync.Once
	var writeErr error
	var writeOut []byte
	res, err := backup.Backup(context.Background(), backup.BackupOptions{
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
