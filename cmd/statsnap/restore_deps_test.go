package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/testutil"
)

// TestRestoreTablesDependencies: --tables of a foreign-key child whose
// parent the target lacks is a usage error naming the parent and the way
// on, before anything is written; --with-dependencies restores the parent
// too, with the views and macros over the two, in dependency order
// whatever their names.
func TestRestoreTablesDependencies(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE z_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE a_child (id INTEGER, pid INTEGER REFERENCES z_parent (id))`,
		`INSERT INTO z_parent VALUES (1), (2)`,
		`INSERT INTO a_child VALUES (10, 1), (20, 2)`,
		`CREATE VIEW z AS SELECT 1 AS pid`,
		`CREATE VIEW a AS SELECT * FROM z`,
		`CREATE OR REPLACE VIEW z AS SELECT c.id, p.id AS pid FROM a_child c JOIN z_parent p ON p.id = c.pid`,
		`CREATE MACRO z_m(x) AS x * 2`,
		`CREATE MACRO a_m(x) AS z_m(x) + 1`,
		`CREATE OR REPLACE MACRO z_m(x) AS x * 3`,
		`CREATE VIEW b AS SELECT a_m(id) AS v FROM a`,
	)
	mustCLI(t, dir, "backup", "--db", src, "--gamertag", "Deps")
	folder := filepath.Join(dir, "data", "backups", "Deps")
	out := filepath.Join(dir, "out.duckdb")

	d, r := rsRestore(t, dir, "--db", out, "--backup", folder, "--tables", "a_child")
	if r.Code != 2 || d.Error == nil {
		t.Fatalf("exit %d, want 2: %s", r.Code, r.Stderr)
	}
	for _, want := range []string{"table a_child has a foreign key to table z_parent", "neither --tables nor the target has", "nothing was restored", "--with-dependencies", "--tables a_child,z_parent"} {
		if !strings.Contains(d.Error.Message, want) {
			t.Errorf("message %q lacks %q", d.Error.Message, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused restore created %s", out)
	}
	if r := cli(t, dir, "restore", "--db", out, "--backup", folder, "--with-dependencies"); r.Code != 2 || !strings.Contains(r.Stderr, "--with-dependencies") {
		t.Errorf("--with-dependencies without --tables: exit %d, %s", r.Code, r.Stderr)
	}

	d, r = rsRestore(t, dir, "--db", out, "--backup", folder, "--tables", "a_child", "--with-dependencies")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if len(d.Tables) != 2 || d.Tables[0].Table != "z_parent" || d.Tables[1].Table != "a_child" {
		t.Errorf("tables %+v, want z_parent then a_child", d.Tables)
	}
	db := testutil.OpenDB(t, out, false)
	if got := rsRows(t, db, `SELECT v FROM b ORDER BY v`); strings.Join(got, ",") != "31,61" {
		t.Errorf("view b over view a over view z (recreated later) with macro a_m over z_m: %v", got)
	}
	db.Close()

	full := filepath.Join(dir, "full.duckdb")
	if _, r := rsRestore(t, dir, "--db", full, "--backup", folder); r.Code != 0 {
		t.Fatalf("full restore: exit %d: %s", r.Code, r.Stderr)
	}
	rsCompare(t, src, full, rsCmpOpts{})
}
