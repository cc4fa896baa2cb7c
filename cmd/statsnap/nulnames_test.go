package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
)

// nulDB writes a CSV whose header holds a NUL byte and makes a database
// from it with read_csv_auto, as a user importing third-party data would:
// the table's first column is called "a\x00b". A second, ordinary table
// shows that the rest of the database is carried along.
func nulDB(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	csv := filepath.Join(dir, "nul.csv")
	if err := os.WriteFile(csv, []byte("a\x00b,c,\"q\"\"\x00\"\n1,x,true\n2,,false\n,z,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "data", "players", "nul", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := append([]string{
		"CREATE TABLE imported AS SELECT * FROM read_csv_auto(" + sqlq.Literal(csv) + ", header = true, all_varchar = false)",
		"CREATE TABLE plain (id INTEGER PRIMARY KEY, note VARCHAR DEFAULT 'n')",
		"INSERT INTO plain VALUES (1, 'one'), (2, 'two')",
	}, extra...)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	names := testutil.Strings(t, db, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'imported' ORDER BY column_index")
	if len(names) == 0 || names[0] != "a\x00b" {
		t.Fatalf("read_csv_auto made columns %q, want a first one called \"a\\x00b\"", names)
	}
	return src
}

// catalogAndRows describes a database: every table's DDL as DuckDB renders
// it, every column's name and type, and every table's rows as text, in
// order. Two databases with the same description hold the same tables.
func catalogAndRows(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, done := testutil.Conn(t, path, false)
	defer done()
	out := map[string][]string{}
	strs := func(key, q string) { out[key] = append(out[key], testutil.Strings(t, db, q)...) }
	strs("tables", "SELECT sql FROM duckdb_tables() ORDER BY schema_name, table_name")
	strs("columns", "SELECT table_name || '|' || column_name || '|' || data_type || '|' || is_nullable::VARCHAR || '|' || coalesce(column_default, '') FROM duckdb_columns() ORDER BY table_name, column_index")
	has := func(table string) bool {
		var n int
		if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	// A column whose name holds a NUL is reached by position (#1) here,
	// independently of statsnap's own COLUMNS() references.
	if has("imported") {
		strs("imported", "SELECT concat_ws('|', coalesce(#1::VARCHAR, 'NULL'), coalesce(#2::VARCHAR, 'NULL'), coalesce(#3::VARCHAR, 'NULL')) FROM imported ORDER BY ALL")
	}
	if has("plain") {
		strs("plain", "SELECT id || '|' || note FROM plain ORDER BY id")
	}
	return out
}

// TestNULColumnNames carries a table read_csv_auto made from a CSV whose
// header holds NUL bytes through backup, verify, verify --deep, restore
// (new database, append, replace) and diff --rows: the restored catalog
// and rows are the source's, and the manifest records the name exactly.
func TestNULColumnNames(t *testing.T) {
	dir := t.TempDir()
	src := nulDB(t, dir)
	want := catalogAndRows(t, src)

	var doc backupJSONDoc
	jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "nul", "--json"), &doc)
	raw, err := os.ReadFile(filepath.Join(dir, doc.Snapshots[0].Manifest))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"name": "a\u0000b"`) {
		t.Errorf("the manifest does not record the column name a\\u0000b:\n%s", raw)
	}
	folder := filepath.Join(dir, "data", "backups", "nul")
	mustCLI(t, dir, "verify", "--backup", folder)
	mustCLI(t, dir, "verify", "--deep", "--backup", folder)

	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--gamertag", "nul", "--db", target)
	if got := catalogAndRows(t, target); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored database differs:\n got %q\nwant %q", got, want)
	}
	mustCLI(t, dir, "restore", "--gamertag", "nul", "--db", target, "--replace")
	if got := catalogAndRows(t, target); !reflect.DeepEqual(got, want) {
		t.Fatalf("replaced database differs:\n got %q\nwant %q", got, want)
	}
	// Appending into the existing table goes through INSERT BY NAME.
	mustCLI(t, dir, "restore", "--gamertag", "nul", "--db", target, "--tables", "imported")
	got := catalogAndRows(t, target)
	if len(got["imported"]) != 2*len(want["imported"]) {
		t.Fatalf("append: %d rows, want %d", len(got["imported"]), 2*len(want["imported"]))
	}

	// Appending into a target's own table with such a column, which has a
	// DEFAULT there (statsnap could not rebuild that table, but it can
	// append to it).
	other := filepath.Join(dir, "other.duckdb")
	odb, err := sql.Open("duckdb", other)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE imported AS SELECT * FROM read_csv_auto(" + sqlq.Literal(filepath.Join(dir, "nul.csv")) + ") LIMIT 0",
		"ALTER TABLE imported ALTER COLUMN c SET DEFAULT 'd'",
	} {
		if _, err := odb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	odb.Close()
	mustCLI(t, dir, "restore", "--gamertag", "nul", "--db", other, "--tables", "imported")
	if got := catalogAndRows(t, other); !reflect.DeepEqual(got["imported"], want["imported"]) {
		t.Errorf("append into the other target: %q, want %q", got["imported"], want["imported"])
	}

	// A second backup shares the unchanged files (the fingerprint reads
	// the NUL column by position), and diff --rows compares it by name.
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO imported VALUES (7, 'new', NULL)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := mustCLI(t, dir, "diff", "--backup", folder, doc.Snapshots[0].Snapshot, "--gamertag", "nul", "--rows", "imported", "--json")
	var d struct {
		Rows struct {
			Columns []string    `json:"columns"`
			Added   [][]*string `json:"added"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	if len(d.Rows.Columns) == 0 || d.Rows.Columns[0] != "a\x00b" || len(d.Rows.Added) != 1 || d.Rows.Added[0][0] == nil || *d.Rows.Added[0][0] != "7" {
		t.Errorf("diff --rows: %s", r.Stdout)
	}
}

// TestSkipTable: a table statsnap cannot rebuild (a NUL column name with a
// DEFAULT, which only SQL naming the column could restore) stops the
// backup with a sentence naming it and --skip-table; with the flag the
// other tables are backed up, the snapshot records the table as skipped,
// and verify, snapshots, restore --list and restore say it is partial.
func TestSkipTable(t *testing.T) {
	dir := t.TempDir()
	nulDB(t, dir, "ALTER TABLE imported ADD COLUMN d INTEGER DEFAULT 5", "CREATE INDEX imported_c ON imported (c)",
		"COMMENT ON TABLE imported IS 'from a CSV'")

	r := cli(t, dir, "backup", "--gamertag", "nul")
	if r.Code != 1 || !strings.Contains(r.Stderr, "table imported cannot be carried") || !strings.Contains(r.Stderr, `--skip-table "imported"`) {
		t.Fatalf("backup: exit %d\n%s", r.Code, r.Stderr)
	}
	folder := filepath.Join(dir, "data", "backups", "nul")
	if entries, _ := os.ReadDir(folder); len(entries) > 1 {
		t.Errorf("the refused backup left %d entries in %s", len(entries), folder)
	}
	if r := cli(t, dir, "backup", "--gamertag", "nul", "--skip-table", "nosuch"); r.Code != 2 || !strings.Contains(r.Stderr, "nosuch") {
		t.Errorf("unknown --skip-table: exit %d\n%s", r.Code, r.Stderr)
	}

	var doc struct {
		Snapshots []struct {
			Snapshot string `json:"snapshot"`
			Manifest string `json:"manifest"`
			Tables   map[string]any
			Skipped  []struct{ Schema, Name, Reason string } `json:"skipped_tables"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "nul", "--skip-table", "imported", "--json"), &doc)
	s := doc.Snapshots[0]
	if len(s.Skipped) != 1 || s.Skipped[0].Name != "imported" || !strings.Contains(s.Skipped[0].Reason, "NUL") || s.Tables["imported"] != nil || s.Tables["plain"] == nil {
		t.Fatalf("backup --skip-table: %+v", s)
	}
	p, _ := readManifest(t, filepath.Join(dir, s.Manifest))
	for _, ix := range p.Indexes {
		if ix.Table == "imported" {
			t.Errorf("the index of the skipped table is in the manifest: %+v", ix)
		}
	}
	for _, c := range p.Comments {
		if strings.Contains(c.SQL, "imported") {
			t.Errorf("the comment of the skipped table is in the manifest: %+v", c)
		}
	}

	var v struct {
		OK        bool `json:"ok"`
		Snapshots []struct {
			Warnings []struct{ Table, Kind string } `json:"warnings"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "verify", "--deep", "--backup", folder, "--json"), &v)
	if !v.OK || len(v.Snapshots[0].Warnings) != 1 || v.Snapshots[0].Warnings[0].Kind != "partial" || v.Snapshots[0].Warnings[0].Table != "imported" {
		t.Errorf("verify: %+v", v)
	}
	if r := mustCLI(t, dir, "verify", "--backup", folder); !strings.Contains(r.Stdout+r.Stderr, "partial") {
		t.Errorf("verify does not say the snapshot is partial:\n%s%s", r.Stdout, r.Stderr)
	}
	var sn struct {
		Snapshots []struct {
			Partial bool     `json:"partial"`
			Skipped []string `json:"skipped_tables"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--gamertag", "nul", "--json"), &sn)
	if len(sn.Snapshots) != 1 || !sn.Snapshots[0].Partial || !reflect.DeepEqual(sn.Snapshots[0].Skipped, []string{"imported"}) {
		t.Errorf("snapshots: %+v", sn)
	}
	if r := mustCLI(t, dir, "restore", "--gamertag", "nul", "--list"); !strings.Contains(r.Stdout+r.Stderr, "partial") {
		t.Errorf("restore --list does not say the snapshot is partial:\n%s%s", r.Stdout, r.Stderr)
	}
	target := filepath.Join(dir, "restored.duckdb")
	r = mustCLI(t, dir, "restore", "--gamertag", "nul", "--db", target)
	if !strings.Contains(r.Stdout+r.Stderr, "table imported was not restored") {
		t.Errorf("restore does not say what it lacks:\n%s%s", r.Stdout, r.Stderr)
	}
	got := catalogAndRows(t, target)
	if len(got["plain"]) != 2 || len(got["tables"]) != 1 {
		t.Errorf("restored: %q", got)
	}
}
