package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// macroRendering is DuckDB's own rendering of every macro of the database
// at path (EXPORT DATABASE's schema.sql), one statement per macro, sorted.
func macroRendering(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(t.TempDir(), "export")
	for _, q := range []string{
		"ATTACH '" + strings.ReplaceAll(path, "'", "''") + "' AS src (READ_ONLY)",
		"ATTACH ':memory:' AS scratch",
		"COPY FROM DATABASE src TO scratch (SCHEMA)",
		"EXPORT DATABASE scratch TO '" + out + "'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var macros []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "CREATE MACRO ") {
			macros = append(macros, line)
		}
	}
	return macros
}

// TestMacroFidelity: macros with default parameters, table macros with
// defaults, overloads, macros that call each other and parameters whose
// names need quoting come back exactly, and the application's calls that
// rely on defaults work on the restored database.
func TestMacroFidelity(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data", "players", "m", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE t(i INTEGER PRIMARY KEY, s VARCHAR)",
		"INSERT INTO t VALUES (1, 'a'), (2, 'b')",
		"CREATE MACRO add_default(a, b := 2) AS a + b",
		"CREATE MACRO calls_default(a) AS add_default(a) * 10",
		"CREATE MACRO ov(a) AS a, (a, b := 'x;y') AS a || b",
		"CREATE MACRO tm(lo, hi := 100) AS TABLE SELECT * FROM t WHERE i BETWEEN lo AND hi",
		`CREATE MACRO "odd name"("p q" := 1, "r""s" := 'it''s', plain := [1, 2]) AS "p q" + len(plain)`,
		"CREATE SCHEMA other",
		"CREATE MACRO other.dated(d := DATE '2020-02-29') AS d + INTERVAL 1 DAY",
		"CREATE MACRO nodefault(a, b) AS a - b",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	want := macroRendering(t, src)
	if len(want) != 7 {
		t.Fatalf("source has %d macros: %q", len(want), want)
	}

	mustCLI(t, dir, "backup", "--gamertag", "m")
	restored := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--db", restored, "--gamertag", "m", "--backup", filepath.Join(dir, "data", "backups", "m"))
	got := macroRendering(t, restored)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("macros differ after restore:\n got: %q\nwant: %q", got, want)
	}

	rdb, err := sql.Open("duckdb", restored)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for q, want := range map[string]string{
		"SELECT add_default(1)::VARCHAR":                 "3",
		"SELECT calls_default(1)::VARCHAR":               "30",
		"SELECT ov('a', 'b')":                            "ab",
		"SELECT count(*)::VARCHAR FROM tm(1)":            "2",
		`SELECT "odd name"()::VARCHAR`:                   "3",
		"SELECT other.dated()::VARCHAR":                  "2020-03-01 00:00:00",
		"SELECT nodefault(5, 3)::VARCHAR":                "2",
		"SELECT add_default(1, b := 5)::VARCHAR":         "6",
		`SELECT "odd name"("p q" := 10)::VARCHAR`:        "12",
		"SELECT count(*)::VARCHAR FROM tm(1, hi := 1)":   "1",
		"SELECT ov(a := 'a', b := 'c')":                  "ac",
		"SELECT other.dated(DATE '2021-01-01')::VARCHAR": "2021-01-02 00:00:00",
	} {
		var got string
		if err := rdb.QueryRow(q).Scan(&got); err != nil {
			t.Errorf("%s on the restored database: %v", q, err)
		} else if got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
}
