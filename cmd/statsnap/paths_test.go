package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/testutil"
)

// leaveWAL turns the database at path into one a crashed app left behind:
// rows committed to its WAL but not yet checkpointed into the file.
func leaveWAL(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := dbfile.Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SET wal_autocheckpoint = '1TB'",
		"CREATE TABLE wal_only AS SELECT range AS i FROM range(7)",
		"DELETE FROM antagonists WHERE rowid % 2 = 0",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	snap := map[string][]byte{}
	for _, suf := range []string{"", ".wal"} {
		b, err := os.ReadFile(path + suf)
		if err != nil {
			t.Fatal(err)
		}
		snap[suf] = b
	}
	db.Close()
	for suf, b := range snap {
		if err := os.WriteFile(path+suf, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(snap[".wal"]) == 0 {
		t.Fatal("no WAL to test with")
	}
}

func countIn(t *testing.T, path, q string) int64 {
	t.Helper()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	return testutil.Int64(t, conn, q)
}

// TestURLCharactersInPaths: a '#' (modern gamertags end in one), '%', '&',
// '=', ';', spaces and non-ASCII in a gamertag or --db path never change
// how DuckDB opens the file. The source stays byte-identical, its WAL
// included (a '#' used to drop READ_ONLY, and backup checkpointed the WAL
// into the app's file), the WAL's rows are in the snapshot, and restore
// into such a path works. A '?' is refused with one sentence.
func TestURLCharactersInPaths(t *testing.T) {
	for _, g := range []string{"Chocobo Flör#1234", "50%zz&a=b;c", "名前 #x"} {
		t.Run(g, func(t *testing.T) {
			dir := t.TempDir()
			src := samplePlayer(t, dir, g, 5)
			leaveWAL(t, src)
			before, _ := os.ReadFile(src)
			walBefore, _ := os.ReadFile(src + ".wal")
			mustCLI(t, dir, "backup", "--gamertag", g)
			mustCLI(t, dir, "backup", "--db", src, "--gamertag", g, "--time", "2030-01-01T00:00:00Z")
			after, _ := os.ReadFile(src)
			walAfter, _ := os.ReadFile(src + ".wal")
			if !bytes.Equal(before, after) || !bytes.Equal(walBefore, walAfter) {
				t.Fatal("backup changed the source file or its WAL")
			}
			entries, _ := os.ReadDir(filepath.Dir(src))
			if len(entries) != 2 {
				t.Errorf("source folder holds %d entries, want the file and its WAL", len(entries))
			}
			target := filepath.Join(dir, "restored "+g, "x#y%z&w=1;.duckdb")
			os.MkdirAll(filepath.Dir(target), 0o755)
			mustCLI(t, dir, "restore", "--db", target, "--gamertag", g, "--backup", filepath.Join(dir, "data", "backups", g))
			if n := countIn(t, target, "SELECT count(*) FROM wal_only"); n != 7 {
				t.Errorf("restored wal_only has %d rows, want 7 (the WAL's)", n)
			}
			if a, b := countIn(t, target, "SELECT count(*) FROM antagonists"), countIn(t, src, "SELECT count(*) FROM antagonists"); a != b {
				t.Errorf("antagonists: restored %d rows, source %d", a, b)
			}
		})
	}
	dir := t.TempDir()
	src := samplePlayer(t, dir, "p", 5)
	q := filepath.Join(dir, "what?", "stats.duckdb")
	testutil.CopyFile(t, src, q)
	r := cli(t, dir, "backup", "--db", q, "--gamertag", "p")
	if r.Code != exitError || !strings.Contains(r.Stderr, "'?'") {
		t.Errorf("'?' path: exit %d, %q", r.Code, r.Stderr)
	}
	if r := cli(t, dir, "sample", "--gamertag", "what?"); r.Code == 0 {
		t.Errorf("sample accepted a '?' it cannot keep a WAL beside")
	}
}
