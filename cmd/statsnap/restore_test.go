package main

// End-to-end tests of `statsnap restore`, through the binary TestMain
// builds. Databases are compared by DuckDB itself: both are attached
// read-only and every catalog listing and every table (EXCEPT ALL, both
// ways) must match.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/internal/typezoo"
	"github.com/openspartan/statsnap/snapshot"
)

// rsDoc is restore's JSON document.
type rsDoc struct {
	Snapshot string `json:"snapshot"`
	Target   string `json:"target"`
	Mode     string `json:"mode"`
	DryRun   bool   `json:"dry_run"`
	Tables   []struct {
		Table      string `json:"table"`
		Action     string `json:"action"`
		Rows       int64  `json:"rows"`
		RowsBefore int64  `json:"rows_before"`
		RowsAfter  int64  `json:"rows_after"`
		Checked    bool   `json:"rows_checked"`
	} `json:"tables"`
	OK    bool `json:"ok"`
	Error *struct {
		ExitCode int    `json:"exit_code"`
		Kind     string `json:"kind"`
		Message  string `json:"message"`
		Hint     string `json:"hint"`
	} `json:"error"`
	NewDatabase    bool   `json:"new_database"`
	StorageVersion string `json:"storage_version"`
	NewestVerified string `json:"newest_verified"`
	Problems       []struct {
		Table, File, Kind, Detail string
	} `json:"problems"`
	Sequences []struct {
		Sequence  string `json:"sequence"`
		Action    string `json:"action"`
		NextValue int64  `json:"next_value"`
	} `json:"sequences"`
	Skipped []struct {
		Kind, Name, SQL, Reason string
	} `json:"skipped"`
}

func (d rsDoc) table(name string) (action string, rows, after int64, ok bool) {
	for _, t := range d.Tables {
		if t.Table == name {
			return t.Action, t.Rows, t.RowsAfter, true
		}
	}
	return "", 0, 0, false
}

// rsWorkDirs lists restore's work folders left in dir.
func rsWorkDirs(t *testing.T, dir string) []string {
	t.Helper()
	des, _ := os.ReadDir(dir)
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".statsnap-restore-") {
			out = append(out, de.Name())
		}
	}
	return out
}

// rsRows runs q and returns each row printed as one string, sorted.
func rsRows(t *testing.T, db testutil.Querier, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

type rsCmpOpts struct {
	// rowsOnly compares the rows of a's tables only (a seed-made snapshot
	// carries no catalog).
	rowsOnly bool
	// missingViews are views of a that b is expected to lack (broken in a).
	missingViews []string
	// catalogOnly compares the catalogs only (the caller compares rows its
	// own way).
	catalogOnly bool
}

// rsCompare fails t unless databases a and b hold the same catalog
// (schemas, tables with their DDL, columns, constraints, indexes, views,
// sequences with their next values, macros, types, comments) and the same
// multiset of rows in every table.
func rsCompare(t *testing.T, a, b string, o rsCmpOpts) {
	t.Helper()
	for _, p := range rsDiffDBs(t, a, b, o) {
		t.Error(p)
	}
}

// rsDiffDBs returns every difference rsCompare reports.
func rsDiffDBs(t *testing.T, a, b string, o rsCmpOpts) []string {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	db, done := testutil.Attached(t, map[string]string{"dba": a, "dbb": b})
	defer done()
	ctx := context.Background()
	skip := map[string]bool{}
	for _, v := range o.missingViews {
		skip[v] = true
	}
	listings := []struct{ what, q string }{
		{"schemas", `SELECT schema_name, comment FROM duckdb_schemas() WHERE database_name = ? AND NOT internal`},
		{"tables", `SELECT schema_name, table_name, sql, comment, has_primary_key, column_count FROM duckdb_tables() WHERE database_name = ?`},
		{"columns", `SELECT schema_name, table_name, column_index, column_name, data_type, column_default, is_nullable, comment FROM duckdb_columns() WHERE database_name = ?`},
		{"constraints", `SELECT schema_name, table_name, constraint_type, constraint_text, expression FROM duckdb_constraints() WHERE database_name = ?`},
		{"indexes", `SELECT schema_name, index_name, table_name, is_unique, sql, comment FROM duckdb_indexes() WHERE database_name = ?`},
		{"views", `SELECT schema_name, view_name, sql, comment FROM duckdb_views() WHERE database_name = ? AND NOT internal`},
		{"sequences", `SELECT schema_name, sequence_name, sql, increment_by, min_value, max_value, cycle, comment FROM duckdb_sequences() WHERE database_name = ?`},
		{"macros", `SELECT schema_name, function_name, function_type, macro_definition, CAST(parameters AS VARCHAR), comment FROM duckdb_functions() WHERE database_name = ? AND NOT internal AND function_type IN ('macro', 'table_macro')`},
		{"types", `SELECT schema_name, type_name, logical_type, comment FROM duckdb_types() WHERE database_name = ? AND NOT internal`},
	}
	for _, l := range listings {
		if o.rowsOnly {
			break
		}
		ra, rb := rsRows(t, db, l.q, "dba"), rsRows(t, db, l.q, "dbb")
		if (l.what == "views" || l.what == "columns") && len(skip) > 0 {
			var kept []string
			for _, r := range ra {
				drop := false
				for v := range skip {
					if strings.Contains(r, " | "+v+" | ") {
						drop = true
					}
				}
				if !drop {
					kept = append(kept, r)
				}
			}
			ra = kept
		}
		if onlyA, onlyB := rsDiff(ra, rb); len(onlyA)+len(onlyB) > 0 {
			fail("%s differ:\nonly in %s:\n  %s\nonly in %s:\n  %s", l.what, a, strings.Join(onlyA, "\n  "), b, strings.Join(onlyB, "\n  "))
		}
	}
	if o.catalogOnly {
		return problems
	}
	for _, tb := range tablesOf(t, db, "dba") {
		qa := "dba." + sqlq.Ident(tb[0]) + "." + sqlq.Ident(tb[1])
		qb := "dbb." + sqlq.Ident(tb[0]) + "." + sqlq.Ident(tb[1])
		var na, nb int64
		if err := db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM "+qa+"), (SELECT count(*) FROM "+qb+")").Scan(&na, &nb); err != nil {
			fail("count %s: %v", tb[1], err)
			continue
		}
		if na != nb {
			fail("table %s.%s: %d rows vs %d", tb[0], tb[1], na, nb)
			continue
		}
		for _, dir := range [][2]string{{qa, qb}, {qb, qa}} {
			var diff int64
			err := db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT * FROM "+dir[0]+" EXCEPT ALL SELECT * FROM "+dir[1]+")").Scan(&diff)
			if err != nil {
				// Types without equality (e.g. VARIANT) compare by text.
				err = db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT CAST(x AS VARCHAR) FROM "+dir[0]+" x EXCEPT ALL SELECT CAST(y AS VARCHAR) FROM "+dir[1]+" y)").Scan(&diff)
			}
			if err != nil {
				fail("compare %s: %v", tb[1], err)
				break
			}
			if diff != 0 {
				fail("table %s.%s: %d rows of %s are not in %s", tb[0], tb[1], diff, dir[0], dir[1])
			}
		}
	}
	return problems
}

// tablesOf lists the schema and name of every table of the database
// attached to db as alias, in order.
func tablesOf(t *testing.T, db testutil.Querier, alias string) [][2]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1, 2`, alias)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables [][2]string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, [2]string{s, n})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}

// rsDiff returns the lines of sorted a missing from b and the reverse.
func rsDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for x, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, x)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, x)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

// rsFixture is a sampled player with one snapshot.
type rsFixture struct {
	dir, gamertag, db, folder, id string
}

func rsSetup(t *testing.T, gamertag string, matches int) rsFixture {
	t.Helper()
	dir := t.TempDir()
	src := samplePlayer(t, dir, gamertag, matches)
	r := mustCLI(t, dir, "backup", "--gamertag", gamertag, "--json")
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	return rsFixture{dir: dir, gamertag: gamertag, db: src, folder: filepath.Join(dir, "data", "backups", gamertag), id: doc.Snapshots[0].Snapshot}
}

func rsRestore(t *testing.T, dir string, args ...string) (rsDoc, result) {
	t.Helper()
	r := cli(t, dir, append([]string{"restore", "--json"}, args...)...)
	var d rsDoc
	jsonOut(t, r, &d)
	return d, r
}

// TestRestoreReplaceIdentical: sample → backup → restore --replace into a
// fresh file gives the same database, which the app can keep writing to.
func TestRestoreReplaceIdentical(t *testing.T) {
	fx := rsSetup(t, "Chocobo Flör", 40)
	fresh := filepath.Join(fx.dir, "fresh.duckdb")
	d, r := rsRestore(t, fx.dir, "--db", fresh, "--gamertag", fx.gamertag, "--backup", fx.folder, "--replace")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if d.Snapshot != fx.id || d.Target != fresh || d.Mode != "replace" || d.DryRun || !d.OK || !d.NewDatabase {
		t.Errorf("unexpected document: %+v", d)
	}
	if len(d.Tables) != 15 {
		t.Errorf("want 15 tables, got %d", len(d.Tables))
	}
	for _, tb := range d.Tables {
		if tb.Action != "create" || tb.RowsAfter != tb.Rows || !tb.Checked {
			t.Errorf("table %+v", tb)
		}
	}
	if rsWorkDirs(t, fx.dir) != nil {
		t.Errorf("work folders left: %v", rsWorkDirs(t, fx.dir))
	}
	rsCompare(t, fx.db, fresh, rsCmpOpts{})

	// The app keeps working: INSERT OR REPLACE needs the primary key, and
	// a new highlight event takes the id the source would have given.
	ids := map[string]int64{}
	for _, p := range []string{fx.db, fresh} {
		db, err := sql.Open("duckdb", p)
		if err != nil {
			t.Fatal(err)
		}
		var before, after int64
		db.QueryRow("SELECT count(*) FROM match_stats").Scan(&before)
		if _, err := db.Exec(`INSERT OR REPLACE INTO match_stats SELECT * REPLACE (kills + 1 AS kills) FROM match_stats ORDER BY match_id LIMIT 3`); err != nil {
			t.Errorf("%s: INSERT OR REPLACE: %v", p, err)
		}
		db.QueryRow("SELECT count(*) FROM match_stats").Scan(&after)
		if before != after {
			t.Errorf("%s: INSERT OR REPLACE changed the row count %d → %d", p, before, after)
		}
		var id int64
		err = db.QueryRow(`INSERT INTO highlight_events (match_id, event_type, event_time, time_offset_ms)
			VALUES ('m-new', 'kill', TIMESTAMP '2026-02-01 10:00:00', 5) RETURNING id`).Scan(&id)
		if err != nil {
			t.Errorf("%s: new highlight event: %v", p, err)
		}
		ids[p] = id
		var maxOld int64
		db.QueryRow("SELECT max(id) FROM highlight_events WHERE match_id <> 'm-new'").Scan(&maxOld)
		if id <= maxOld {
			t.Errorf("%s: new id %d collides with ids up to %d", p, id, maxOld)
		}
		db.Close()
	}
	if ids[fx.db] != ids[fresh] {
		t.Errorf("new ids differ: source %d, restored %d", ids[fx.db], ids[fresh])
	}
}

// rsZoo makes a database with every DuckDB type plus the objects around
// tables: a sequence used by a DEFAULT, an index, views (one already
// broken: it reads a database that was detached), a macro and comments.
func rsZoo(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?storage_compatibility_version=v1.5.0")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := typezoo.Create(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE SEQUENCE zoo_seq START 40 INCREMENT BY 3`,
		`CREATE TABLE seq_owner (id BIGINT PRIMARY KEY DEFAULT nextval('zoo_seq'), v VARCHAR NOT NULL UNIQUE, n INTEGER CHECK (n > 0))`,
		`INSERT INTO seq_owner (v, n) VALUES ('a', 1), ('b', 2), ('c', 3)`,
		`CREATE INDEX seq_owner_n ON seq_owner (n)`,
		`CREATE VIEW zoo_view AS SELECT id, i64 FROM zoo_integers WHERE id < 4`,
		`ATTACH ':memory:' AS gone`,
		`CREATE TABLE gone.t (a INTEGER)`,
		`CREATE VIEW broken_view AS SELECT * FROM gone.t`,
		`DETACH gone`,
		`CREATE MACRO twice(x) AS x * 2`,
		`COMMENT ON TABLE seq_owner IS 'owns a sequence; it''s here'`,
		`COMMENT ON COLUMN seq_owner.v IS 'unique value'`,
		`COMMENT ON VIEW zoo_view IS 'a view'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestRestoreTypeZoo: every DuckDB type comes back equal, in a database
// of the source's storage version; the broken view is reported.
func TestRestoreTypeZoo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "zoo.duckdb")
	rsZoo(t, src)
	mustCLI(t, dir, "backup", "--db", src)
	folder := filepath.Join(dir, "data", "backups", "zoo")
	out := filepath.Join(dir, "restored.duckdb")
	d, r := rsRestore(t, dir, "--db", out, "--backup", folder, "--replace")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if d.StorageVersion != "v1.5.0" {
		t.Errorf("storage version %q, want v1.5.0", d.StorageVersion)
	}
	if len(d.Skipped) != 1 || d.Skipped[0].Name != "broken_view" || !strings.Contains(d.Skipped[0].SQL, "gone.t") {
		t.Errorf("want broken_view skipped with its DDL, got %+v", d.Skipped)
	}
	if !strings.Contains(r.Stderr, "warning: view broken_view") {
		t.Errorf("no warning about the broken view on stderr: %s", r.Stderr)
	}
	rsCompare(t, src, out, rsCmpOpts{missingViews: []string{"broken_view"}})
	db, done := testutil.Attached(t, map[string]string{"r": out})
	defer done()
	var tags string
	if err := db.QueryRowContext(context.Background(), "SELECT CAST(tags AS VARCHAR) FROM duckdb_databases() WHERE database_name = 'r'").Scan(&tags); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tags, "v1.5.0") {
		t.Errorf("restored database tags %s, want storage v1.5.0", tags)
	}
}

// TestRestoreAppendTwice: appending a snapshot twice to tables without a
// primary key doubles their rows; the first run creates them.
func TestRestoreAppendTwice(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "zoo.duckdb")
	rsZoo(t, src)
	mustCLI(t, dir, "backup", "--db", src)
	folder := filepath.Join(dir, "data", "backups", "zoo")
	tables := "zoo_integers,zoo_text,zoo_many,zoo_nested,zoo_generated,other schema.nested.name"
	out := filepath.Join(dir, "twice.duckdb")
	d1, r := rsRestore(t, dir, "--db", out, "--backup", folder, "--tables", tables)
	if r.Code != 0 {
		t.Fatalf("first append: exit %d: %s", r.Code, r.Stderr)
	}
	d2, r := rsRestore(t, dir, "--db", out, "--backup", folder, "--tables", tables)
	if r.Code != 0 {
		t.Fatalf("second append: exit %d: %s", r.Code, r.Stderr)
	}
	if len(d2.Tables) != 6 {
		t.Fatalf("want 6 tables, got %+v", d2.Tables)
	}
	for _, tb := range d2.Tables {
		a1, rows, after1, _ := d1.table(tb.Table)
		if a1 != "create" || tb.Action != "append" {
			t.Errorf("%s: actions %s then %s, want create then append", tb.Table, a1, tb.Action)
		}
		if after1 != rows || tb.RowsAfter != 2*rows || !tb.Checked {
			t.Errorf("%s: %d rows in the snapshot, %d after the first run, %d after the second", tb.Table, rows, after1, tb.RowsAfter)
		}
	}
	if d2.Mode != "append" {
		t.Errorf("mode %q", d2.Mode)
	}
}

// TestRestoreReplaceOverDamaged: the seed guide's recovery story. The
// player's database is damaged after the backup (rows deleted, new rows
// that advanced a sequence, a view dropped); restore --replace brings back
// exactly the database of the backup, sequences included.
func TestRestoreReplaceOverDamaged(t *testing.T) {
	fx := rsSetup(t, "Chocoboflor", 40)
	atBackup := filepath.Join(fx.dir, "at-backup.duckdb")
	testutil.CopyFile(t, fx.db, atBackup)
	db, err := sql.Open("duckdb", fx.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM match_stats WHERE match_id IN (SELECT match_id FROM match_stats ORDER BY match_id LIMIT 10)`,
		`INSERT INTO highlight_events (match_id, event_type, event_time, time_offset_ms) SELECT 'x', 'kill', TIMESTAMP '2026-01-01', 0 FROM range(50)`,
		`DROP VIEW v_ranked_progress`,
		`CREATE TABLE scratch_notes (note VARCHAR)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	d, r := rsRestore(t, fx.dir, "--gamertag", fx.gamertag, "--backup", fx.folder, "--replace")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	for _, tb := range d.Tables {
		if tb.Action != "replace" || !tb.Checked {
			t.Errorf("table %+v", tb)
		}
	}
	seqs := map[string]string{}
	for _, s := range d.Sequences {
		seqs[s.Sequence] = s.Action
	}
	if seqs["highlight_events_id_seq"] != "recreate" {
		t.Errorf("highlight_events_id_seq: %q, want recreate (sequences %+v)", seqs["highlight_events_id_seq"], d.Sequences)
	}
	// scratch_notes is not in the snapshot: it stays. Drop it to compare.
	db, _ = sql.Open("duckdb", fx.db)
	var notes int
	if err := db.QueryRow("SELECT count(*) FROM scratch_notes").Scan(&notes); err != nil {
		t.Errorf("a table outside the snapshot was touched: %v", err)
	}
	db.Exec("DROP TABLE scratch_notes")
	db.Close()
	rsCompare(t, atBackup, fx.db, rsCmpOpts{})
}

// TestRestoreSubsetKeepsSequenceAhead: --tables replaces only what it
// names, and never moves a sequence back.
func TestRestoreSubsetKeepsSequenceAhead(t *testing.T) {
	fx := rsSetup(t, "Subset", 30)
	db, _ := sql.Open("duckdb", fx.db)
	var snapRows int64
	db.QueryRow("SELECT count(*) FROM highlight_events").Scan(&snapRows)
	if _, err := db.Exec(`INSERT INTO highlight_events (match_id, event_type, event_time, time_offset_ms) SELECT 'x', 'kill', TIMESTAMP '2026-01-01', 0 FROM range(7)`); err != nil {
		t.Fatal(err)
	}
	var next int64
	db.QueryRow("SELECT max(id) + 1 FROM highlight_events").Scan(&next)
	var matches int64
	db.QueryRow("SELECT count(*) FROM match_stats").Scan(&matches)
	db.Exec("DELETE FROM match_stats WHERE match_id IN (SELECT match_id FROM match_stats LIMIT 5)")
	db.Close()

	d, r := rsRestore(t, fx.dir, "--gamertag", fx.gamertag, "--backup", fx.folder, "--replace", "--tables", "highlight_events")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if len(d.Tables) != 1 || d.Tables[0].Table != "highlight_events" || d.Tables[0].RowsAfter != snapRows {
		t.Fatalf("tables %+v, want highlight_events with %d rows", d.Tables, snapRows)
	}
	if len(d.Sequences) != 1 || d.Sequences[0].Action != "keep" || d.Sequences[0].NextValue != next {
		t.Errorf("sequences %+v: want highlight_events_id_seq kept at %d", d.Sequences, next)
	}
	db, _ = sql.Open("duckdb", fx.db)
	defer db.Close()
	var n int64
	db.QueryRow("SELECT count(*) FROM match_stats").Scan(&n)
	if n != matches-5 {
		t.Errorf("match_stats was touched: %d rows, want %d", n, matches-5)
	}
	var id int64
	if err := db.QueryRow(`INSERT INTO highlight_events (match_id, event_type, event_time, time_offset_ms) VALUES ('y', 'kill', TIMESTAMP '2026-01-01', 0) RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("new event after restore: %v", err)
	}
	if id != next {
		t.Errorf("new id %d, want %d", id, next)
	}

	// Unknown table: usage error listing the snapshot's tables.
	r = cli(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--tables", "match_stats,nope")
	if r.Code != 2 || !strings.Contains(r.Stderr, `"nope"`) || !strings.Contains(r.Stderr, "medals_earned") {
		t.Errorf("unknown table: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// TestRestoreSubsetIntoNew: --tables into a new file creates only those.
func TestRestoreSubsetIntoNew(t *testing.T) {
	fx := rsSetup(t, "Sub", 20)
	out := filepath.Join(fx.dir, "two.duckdb")
	d, r := rsRestore(t, fx.dir, "--db", out, "--backup", fx.folder, "--tables", "medals_earned,match_stats")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	// Restore order is the snapshot's, whatever the order given.
	if len(d.Tables) != 2 || d.Tables[0].Table != "match_stats" || d.Tables[1].Table != "medals_earned" {
		t.Errorf("tables %+v", d.Tables)
	}
	db, done := testutil.Attached(t, map[string]string{"o": out})
	defer done()
	got := rsRows(t, db, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'o'")
	if strings.Join(got, ",") != "match_stats,medals_earned" {
		t.Errorf("tables in the new file: %v", got)
	}
	// A view over the chosen tables comes with them; one that also uses
	// a table neither restored nor in the target is skipped and named.
	if v := rsRows(t, db, "SELECT view_name FROM duckdb_views() WHERE database_name = 'o' AND NOT internal"); strings.Join(v, ",") != "v_recent_matches" {
		t.Errorf("views after a --tables restore: %v, want v_recent_matches", v)
	}
	if len(d.Skipped) != 1 || d.Skipped[0].Name != "v_ranked_progress" || !strings.Contains(d.Skipped[0].Reason, "table skill_history") {
		t.Errorf("skipped %+v, want v_ranked_progress for lacking skill_history", d.Skipped)
	}
}

// TestRestoreCorruptRefused: a damaged newest snapshot is refused with
// exit 3, the older good one is named, and the target is not touched.
func TestRestoreCorruptRefused(t *testing.T) {
	dir := t.TempDir()
	gt := "Corrupt"
	src := samplePlayer(t, dir, gt, 20)
	mustCLI(t, dir, "backup", "--gamertag", gt, "--time", "2026-01-01T10:00:00Z")
	// --full: the newest snapshot gets files of its own to corrupt.
	mustCLI(t, dir, "backup", "--full", "--gamertag", gt, "--time", "2026-01-02T10:00:00Z")
	old := snapshot.FormatID(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	newest := snapshot.FormatID(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC))
	folder := filepath.Join(dir, "data", "backups", gt)
	victim := filepath.Join(folder, "match_stats_"+newest+".parquet")
	testutil.FlipByte(t, victim)
	before := testutil.FileBLAKE3(t, src)
	playerDir := filepath.Dir(src)
	entriesBefore, _ := os.ReadDir(playerDir)

	d, r := rsRestore(t, dir, "--gamertag", gt, "--backup", folder, "--replace")
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3: %s", r.Code, r.Stderr)
	}
	if d.OK || d.Snapshot != newest || d.NewestVerified != old || len(d.Problems) == 0 || d.Problems[0].Kind != "hash_mismatch" {
		t.Errorf("document: %+v", d)
	}
	if !strings.Contains(r.Stderr, "--snapshot "+old) {
		t.Errorf("stderr does not name the good snapshot: %s", r.Stderr)
	}
	if testutil.FileBLAKE3(t, src) != before {
		t.Error("the target changed")
	}
	if entriesAfter, _ := os.ReadDir(playerDir); len(entriesAfter) != len(entriesBefore) {
		t.Errorf("the target's folder changed: %v → %v", entriesBefore, entriesAfter)
	}

	// Into a new player: nothing at all is created.
	r = cli(t, dir, "restore", "--gamertag", "Newcomer", "--backup", folder, "--force")
	if r.Code != 3 {
		t.Errorf("exit %d, want 3", r.Code)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "players", "Newcomer")); !os.IsNotExist(err) {
		t.Errorf("a refused restore created the player's folder: %v", err)
	}

	// The good one restores; an edited manifest is refused too.
	out := filepath.Join(dir, "old.duckdb")
	mustCLI(t, dir, "restore", "--db", out, "--backup", folder, "--snapshot", old)
	mpath := filepath.Join(folder, snapshot.ManifestName(old))
	raw, _ := os.ReadFile(mpath)
	edited := strings.Replace(string(raw), `"gamertag": "Corrupt"`, `"gamertag": "Corrupt2"`, 1)
	os.WriteFile(mpath, []byte(edited), 0o644)
	r = cli(t, dir, "restore", "--db", filepath.Join(dir, "edited.duckdb"), "--backup", folder, "--snapshot", old, "--force")
	if r.Code != 3 || !strings.Contains(r.Stderr, "manifest_corrupt") {
		t.Errorf("edited manifest: exit %d: %s", r.Code, r.Stderr)
	}
}

// TestRestoreKilled kills a large --replace at several moments: the target
// is always either exactly as before or exactly restored.
func TestRestoreKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a large restore at many moments; skipped with -short")
	}
	fx := rsSetup(t, "Big", 3000)
	target := filepath.Join(fx.dir, "target.duckdb")
	mustCLI(t, fx.dir, "sample", "--gamertag", "Other", "--matches", "30", "--seed", "7")
	other := filepath.Join(fx.dir, "data", "players", "Other", "stats.duckdb")
	reference := filepath.Join(fx.dir, "reference.duckdb")
	testutil.CopyFile(t, other, reference)

	testutil.CopyFile(t, reference, target)
	start := time.Now()
	mustCLI(t, fx.dir, "restore", "--db", target, "--backup", fx.folder, "--replace")
	full := time.Since(start)
	t.Logf("one restore takes %v", full)
	rsCompare(t, fx.db, target, rsCmpOpts{})

	testutil.CopyFile(t, reference, target)
	os.Remove(target + ".wal")
	killed := 0
	const runs = 7
	for i := 1; i <= runs; i++ {
		delay := full * time.Duration(i) / (runs + 1)
		cmd := command(binPath, fx.dir, nil, "restore", "--db", target, "--backup", fx.folder, "--replace")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			t.Logf("run %d (after %v): finished before the kill", i, delay)
			rsCompare(t, fx.db, target, rsCmpOpts{})
			testutil.CopyFile(t, reference, target)
			os.Remove(target + ".wal")
			continue
		}
		// Killed: the target is exactly the database it was before, or,
		// if the kill came after the commit, exactly the restored one;
		// never a mix (DuckDB's WAL holds only whole commits).
		if d := rsDiffDBs(t, reference, target, rsCmpOpts{}); len(d) == 0 {
			killed++
			continue
		}
		if d := rsDiffDBs(t, fx.db, target, rsCmpOpts{}); len(d) != 0 {
			t.Fatalf("run %d (killed after %v) left the target neither as before nor restored:\n%s", i, delay, strings.Join(d, "\n"))
		}
		t.Logf("run %d (killed after %v): killed after the commit", i, delay)
		testutil.CopyFile(t, reference, target)
		os.Remove(target + ".wal")
	}
	if killed == 0 {
		t.Fatal("no restore was killed before its commit; the test proved nothing")
	}
	t.Logf("%d of %d restores killed before their commit left the target as it was", killed, runs)
	// The next restore removes the work folders the killed ones left.
	mustCLI(t, fx.dir, "restore", "--db", target, "--backup", fx.folder, "--replace")
	if w := rsWorkDirs(t, fx.dir); len(w) != 0 {
		t.Errorf("work folders left after a clean run: %v", w)
	}
	rsCompare(t, fx.db, target, rsCmpOpts{})
}

// TestRestoreLockedTarget: a database held open by another process is
// refused in one sentence, exit 1, without waiting or changing it.
func TestRestoreLockedTarget(t *testing.T) {
	fx := rsSetup(t, "Locked", 10)
	holder, err := sql.Open("duckdb", fx.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Ping(); err != nil {
		t.Fatal(err)
	}
	var before int64
	holder.QueryRow("SELECT count(*) FROM match_stats").Scan(&before)
	// DuckDB's lock is the process's: only another process meets it.
	r := binCLI(t, fx.dir, nil, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--replace")
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "is open in process") || !strings.Contains(lines[0], "nothing was changed") {
		t.Errorf("want one sentence naming the holder, got:\n%s", r.Stderr)
	}
	var after int64
	holder.QueryRow("SELECT count(*) FROM match_stats").Scan(&after)
	if before != after {
		t.Errorf("rows changed %d → %d", before, after)
	}
	holder.Close()
	if w := rsWorkDirs(t, filepath.Dir(fx.db)); len(w) != 0 {
		t.Errorf("work folders left: %v", w)
	}
}

// TestRestoreAppendConflict: appending a snapshot onto the database it was
// taken from hits primary keys; everything rolls back and the message
// names the table and a key.
func TestRestoreAppendConflict(t *testing.T) {
	fx := rsSetup(t, "Conflict", 15)
	ref := filepath.Join(fx.dir, "ref.duckdb")
	testutil.CopyFile(t, fx.db, ref)
	// A table missing from the target would be created: it must not be,
	// since the whole restore rolls back.
	db, _ := sql.Open("duckdb", fx.db)
	db.Exec("DROP TABLE weapon_kills")
	db.Close()
	testutil.CopyFile(t, fx.db, ref)

	r := cli(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "table antagonists") || !strings.Contains(r.Stderr, "opponent_xuid: ") {
		t.Errorf("message does not name the table and key: %s", r.Stderr)
	}
	rsCompare(t, ref, fx.db, rsCmpOpts{})

	// The dry run finds the same conflict without writing.
	h := testutil.FileBLAKE3(t, fx.db)
	r = cli(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--dry-run")
	if r.Code != 1 || !strings.Contains(r.Stderr, "opponent_xuid: ") {
		t.Errorf("dry run: exit %d: %s", r.Code, r.Stderr)
	}
	if testutil.FileBLAKE3(t, fx.db) != h {
		t.Error("dry run changed the target")
	}
}

// TestRestoreAppendIncompatible: a target table lacking a column is
// refused before anything is written.
func TestRestoreAppendIncompatible(t *testing.T) {
	fx := rsSetup(t, "Incompat", 10)
	db, _ := sql.Open("duckdb", fx.db)
	for _, q := range []string{
		"DELETE FROM skill_history", "ALTER TABLE skill_history DROP COLUMN tier",
		"DELETE FROM sessions", "ALTER TABLE sessions ALTER COLUMN notes TYPE INTEGER USING NULL",
		"DELETE FROM antagonists",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	ref := filepath.Join(fx.dir, "ref.duckdb")
	testutil.CopyFile(t, fx.db, ref)
	r := cli(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--tables", "antagonists,skill_history,sessions")
	if r.Code != 1 || !strings.Contains(r.Stderr, `table skill_history has no column "tier"`) || !strings.Contains(r.Stderr, `column "notes" of table sessions is INTEGER in the target but VARCHAR in the snapshot`) {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
	rsCompare(t, ref, fx.db, rsCmpOpts{})
	// Appending into the emptied antagonists alone works.
	d, r := rsRestore(t, fx.dir, "--gamertag", fx.gamertag, "--backup", fx.folder, "--tables", "antagonists")
	if r.Code != 0 || len(d.Tables) != 1 || d.Tables[0].Action != "append" || !d.Tables[0].Checked {
		t.Errorf("exit %d: %+v %s", r.Code, d.Tables, r.Stderr)
	}
}

// TestRestoreOtherGamertag: a snapshot of another player is refused unless
// --force.
func TestRestoreOtherGamertag(t *testing.T) {
	fx := rsSetup(t, "Alice", 10)
	r := cli(t, fx.dir, "restore", "--gamertag", "Bob", "--backup", fx.folder, "--replace")
	if r.Code != 1 || !strings.Contains(r.Stderr, `"Alice"`) || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
	bob := filepath.Join(fx.dir, "data", "players", "Bob")
	if _, err := os.Stat(bob); !os.IsNotExist(err) {
		t.Errorf("refused restore created %s", bob)
	}
	mustCLI(t, fx.dir, "restore", "--gamertag", "Bob", "--backup", fx.folder, "--replace", "--force")
	rsCompare(t, fx.db, filepath.Join(bob, "stats.duckdb"), rsCmpOpts{})
}

// TestRestoreMigration: the seed guide's migration story, on a machine
// whose data folder is empty: backup --all --output ./export on the old
// one, copy the folder, restore --replace on the new one.
func TestRestoreMigration(t *testing.T) {
	old := t.TempDir()
	src := samplePlayer(t, old, "Chocoboflor", 25)
	mustCLI(t, old, "backup", "--all", "--output", "./export")
	fresh := t.TempDir()
	testutil.CopyDir(t, filepath.Join(old, "export", "Chocoboflor"), filepath.Join(fresh, "export", "Chocoboflor"))
	r := mustCLI(t, fresh, "restore", "--gamertag", "Chocoboflor", "--backup", "./export/Chocoboflor", "--replace")
	if !strings.Contains(r.Stdout, "new database") {
		t.Errorf("stdout: %s", r.Stdout)
	}
	restored := filepath.Join(fresh, "data", "players", "Chocoboflor", "stats.duckdb")
	rsCompare(t, src, restored, rsCmpOpts{})
	if w := rsWorkDirs(t, filepath.Dir(restored)); len(w) != 0 {
		t.Errorf("work folders left: %v", w)
	}
	// And the new machine can back it up again.
	mustCLI(t, fresh, "backup", "--gamertag", "Chocoboflor")
}

// TestRestoreDryRunAndList: --dry-run plans and writes nothing; --list
// shows the tables with their verification status.
func TestRestoreDryRunAndList(t *testing.T) {
	fx := rsSetup(t, "Dry", 10)
	h := testutil.FileBLAKE3(t, fx.db)
	d, r := rsRestore(t, fx.dir, "--gamertag", fx.gamertag, "--backup", fx.folder, "--replace", "--dry-run")
	if r.Code != 0 || !d.DryRun || d.Mode != "replace" || len(d.Tables) != 15 {
		t.Fatalf("exit %d: %+v %s", r.Code, d, r.Stderr)
	}
	for _, tb := range d.Tables {
		if tb.Action != "replace" || tb.RowsBefore != tb.Rows {
			t.Errorf("plan %+v", tb)
		}
	}
	if testutil.FileBLAKE3(t, fx.db) != h || len(rsWorkDirs(t, filepath.Dir(fx.db))) != 0 {
		t.Error("dry run wrote something")
	}
	nowhere := filepath.Join(fx.dir, "nowhere", "x.duckdb")
	os.MkdirAll(filepath.Dir(nowhere), 0o755)
	d, r = rsRestore(t, fx.dir, "--db", nowhere, "--backup", fx.folder, "--dry-run")
	if r.Code != 0 || d.Tables[0].Action != "create" {
		t.Errorf("dry run into a new file: exit %d %+v", r.Code, d.Tables)
	}
	if des, _ := os.ReadDir(filepath.Dir(nowhere)); len(des) != 0 {
		t.Errorf("dry run created files: %v", des)
	}

	var l struct {
		Snapshot string `json:"snapshot"`
		OK       bool   `json:"ok"`
		Tables   []struct {
			Table     string `json:"table"`
			Rows      int64  `json:"rows"`
			SizeBytes int64  `json:"size_bytes"`
			Status    string `json:"status"`
		} `json:"tables"`
	}
	r = mustCLI(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--list", "--json")
	jsonOut(t, r, &l)
	if !l.OK || l.Snapshot != fx.id || len(l.Tables) != 15 {
		t.Errorf("list: %+v", l)
	}
	for _, tb := range l.Tables {
		if tb.Status != "ok" || tb.SizeBytes <= 0 {
			t.Errorf("list table %+v", tb)
		}
	}
	victim := filepath.Join(fx.folder, "sessions_"+fx.id+".parquet")
	data, _ := os.ReadFile(victim)
	data[len(data)/3] ^= 1
	os.WriteFile(victim, data, 0o644)
	r = cli(t, fx.dir, "restore", "--gamertag", fx.gamertag, "--backup", fx.folder, "--list")
	if r.Code != 3 || !strings.Contains(r.Stdout, "DOES NOT VERIFY") || !strings.Contains(r.Stdout, "hash_mismatch") {
		t.Errorf("list of a damaged snapshot: exit %d: %s", r.Code, r.Stdout)
	}
}

// TestRestoreUsage: usage errors exit 2.
func TestRestoreUsage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	for _, args := range [][]string{
		{"restore"},
		{"restore", "--backup", "b"},
		{"restore", "--gamertag", "../x", "--backup", "b"},
		{"restore", "--gamertag", "x", "--backup", "b", "--snapshot", "yesterday"},
		{"restore", "--gamertag", "x", "--backup", "b", "--tables", "a,,b"},
		{"restore", "--gamertag", "x", "--backup", "b", "--list", "--replace"},
	} {
		if r := cli(t, dir, args...); r.Code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, r.Code, r.Stderr)
		}
	}
	if r := cli(t, dir, "restore", "--gamertag", "x", "--backup", "nope"); r.Code != 1 {
		t.Errorf("missing backup folder: exit %d", r.Code)
	}
	// Without --backup, --gamertag reads {--output}/{gamertag}: here a
	// folder that does not exist, which the message names.
	if r := cli(t, dir, "restore", "--gamertag", "x"); r.Code != 1 || !strings.Contains(r.Stderr, filepath.Join("data", "backups", "x")) {
		t.Errorf("--gamertag without --backup: exit %d %q", r.Code, r.Stderr)
	}
	if r := cli(t, dir, "restore", "--gamertag", "x", "--backup", "b"); r.Code != 1 || !strings.Contains(r.Stderr, "no snapshot") {
		t.Errorf("empty backup folder: exit %d: %s", r.Code, r.Stderr)
	}
}

// TestRestoreSeedSnapshots: a legacy (seed metadata) or bare (no metadata)
// snapshot is refused unless --allow-unverified; then a new database gets
// the Parquet files' tables, and --replace into the app's database keeps
// the app's own tables (their primary keys) and replaces their rows.
func TestRestoreSeedSnapshots(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "Seed", 20)
	for _, bare := range []bool{false, true} {
		name := map[bool]string{false: "legacy", true: "bare"}[bare]
		t.Run(name, func(t *testing.T) {
			folder := filepath.Join(dir, "seed-"+name)
			testutil.SeedExport(t, src, folder, "Seed", "20260201_143025", !bare)
			out := filepath.Join(dir, name+".duckdb")
			r := cli(t, dir, "restore", "--db", out, "--backup", folder)
			if r.Code != 3 || !strings.Contains(r.Stderr, "unverifiable") || !strings.Contains(r.Stderr, "--allow-unverified") {
				t.Fatalf("without --allow-unverified: exit %d: %s", r.Code, r.Stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatal("a refused restore created the database")
			}
			d, r := rsRestore(t, dir, "--db", out, "--backup", folder, "--allow-unverified")
			if r.Code != 0 || len(d.Tables) != 14 {
				t.Fatalf("exit %d, %d tables: %s", r.Code, len(d.Tables), r.Stderr)
			}
			for _, tb := range d.Tables {
				if tb.Action != "create" || !tb.Checked {
					t.Errorf("%+v", tb)
				}
			}
			rsCompare(t, out, src, rsCmpOpts{rowsOnly: true})

			// --replace into the app's database: rows replaced, keys kept.
			app := filepath.Join(dir, name+"-app.duckdb")
			testutil.CopyFile(t, src, app)
			db, _ := sql.Open("duckdb", app)
			db.Exec("DELETE FROM match_stats WHERE match_id IN (SELECT match_id FROM match_stats LIMIT 4)")
			db.Close()
			d, r = rsRestore(t, dir, "--db", app, "--backup", folder, "--allow-unverified", "--replace")
			if r.Code != 0 {
				t.Fatalf("replace: exit %d: %s", r.Code, r.Stderr)
			}
			rsCompare(t, src, app, rsCmpOpts{})
			db, _ = sql.Open("duckdb", app)
			defer db.Close()
			if _, err := db.Exec(`INSERT OR REPLACE INTO match_stats SELECT * FROM match_stats LIMIT 2`); err != nil {
				t.Errorf("INSERT OR REPLACE after a seed restore: %v", err)
			}
		})
	}
}

// TestRestoreKeys: with a key, a snapshot without the right MAC is refused.
func TestRestoreKeys(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "Keyed", 5)
	mustCLI(t, dir, "key", "generate", "good.key")
	mustCLI(t, dir, "key", "generate", "other.key")
	mustCLI(t, dir, "backup", "--gamertag", "Keyed", "--key-file", "good.key")
	folder := filepath.Join(dir, "data", "backups", "Keyed")
	r := cli(t, dir, "restore", "--db", "x.duckdb", "--backup", folder, "--key-file", "other.key")
	if r.Code != 3 || !strings.Contains(r.Stderr, "does not authenticate") {
		t.Errorf("wrong key: exit %d: %s", r.Code, r.Stderr)
	}
	mustCLI(t, dir, "restore", "--db", "x.duckdb", "--backup", folder, "--key-file", "good.key")
}
