package dbfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommitLeavesNoWAL: a commit through a read-write Open is in the
// database file itself when COMMIT returns, with no WAL beside it. With
// DuckDB's default, a commit like this one (rows written to the file
// ahead of the commit, a sequence drawn) is a WAL of a few KiB; cut at
// 90 %, as a kill while writing it cuts it, DuckDB 1.5.6 replays the
// sequence's value and drops the rows: a database neither before nor
// after (TestSampleAddInterrupted met it).
func TestCommitLeavesNoWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.duckdb")
	db, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`CREATE SEQUENCE s`, `CREATE TABLE t (id BIGINT, v VARCHAR)`, `CHECKPOINT`,
		`BEGIN TRANSACTION`,
		`INSERT INTO t SELECT range, repeat('x', 50) || range FROM range(300000)`,
		`SELECT max(nextval('s')) FROM range(300000)`,
		`UPDATE t SET v = 'y' WHERE id < 10`,
		`COMMIT`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if fi, err := os.Stat(path + ".wal"); err == nil {
		t.Fatalf("the commit left a WAL of %d bytes: a kill while writing it could tear it", fi.Size())
	}
	// What a kill -9 right now would leave is the file as it is: copy it
	// while the database is still open and read the copy.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.duckdb")
	if err := os.WriteFile(cp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, cp, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n int64
	var seq string
	if err := ro.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := ro.QueryRowContext(ctx, `SELECT sql FROM duckdb_sequences() WHERE sequence_name = 's'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if n != 300000 || !strings.Contains(seq, "START 300001 ") {
		t.Errorf("the file after the commit holds %d rows and %s", n, seq)
	}
}
