package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHugeValueRoundTrip (issue 15): a MAP holding one string of 300 MiB,
// which DuckDB writes as a Parquet page beyond arrow-go's 256 MiB limit,
// backs up, passes verify and verify --deep (the page decoded as a
// stream), and restores to the same value.
func TestHugeValueRoundTrip(t *testing.T) {
	const size = 300 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "data", "players", "big", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE big AS SELECT 1 AS id, map(['k'], [repeat('x', %d) || 'end']) AS m", size),
		"CREATE TABLE small AS SELECT range AS id FROM range(10)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	mustCLI(t, dir, "backup", "--gamertag", "big")
	folder := filepath.Join(dir, "data", "backups", "big")
	mustCLI(t, dir, "verify", "--backup", folder)
	r := mustCLI(t, dir, "verify", "--deep", "--backup", folder)
	if !strings.Contains(r.Stdout, "intact") {
		t.Errorf("verify --deep: %s", r.Stdout)
	}
	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--backup", folder, "--db", target)
	db, err = sql.Open("duckdb", target+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	var tail string
	if err := db.QueryRow("SELECT length(m['k']), right(m['k'], 4) FROM big").Scan(&n, &tail); err != nil {
		t.Fatal(err)
	}
	if n != size+3 || tail != "xend" {
		t.Errorf("restored a value of %d bytes ending %q, want %d ending \"xend\"", n, tail, size+3)
	}
}
