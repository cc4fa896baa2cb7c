package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// diffPlayer makes a sample player with two snapshots between which
// matches were added, one value edited, a view created and a macro
// dropped.
func diffPlayer(t *testing.T) (dir, db, folder string) {
	t.Helper()
	dir = t.TempDir()
	db = samplePlayer(t, dir, "P", 20)
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-01T03:00:00Z")
	testutil.WriteDB(t, db,
		`INSERT INTO medals_earned SELECT * REPLACE ('added-' || match_id AS match_id) FROM medals_earned LIMIT 3`,
		`UPDATE teammates_aggregate SET teammate_gamertag = 'Renamed' WHERE rowid = 0`,
		`CREATE VIEW v_added AS SELECT 1 AS one`,
		`DROP MACRO kda_ratio`,
		`SELECT nextval('sessions_id_seq')`,
	)
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-08T03:00:00Z")
	return dir, db, filepath.Join(dir, "data", "backups", "P")
}

type diffDoc struct {
	A, B   string
	Tables []struct {
		Table         string
		Change        string
		RowsBefore    *int64 `json:"rows_before"`
		RowsAfter     *int64 `json:"rows_after"`
		RowsDelta     int64  `json:"rows_delta"`
		SchemaChanged bool   `json:"schema_changed"`
		Data, Basis   string
	}
	Unchanged []string
	Objects   []struct{ Kind, Schema, Name, Change string }
	Rows      *struct {
		Table        string
		Columns      []string
		AddedCount   int64 `json:"added_count"`
		RemovedCount int64 `json:"removed_count"`
		Added        [][]*string
		Removed      [][]*string
		Truncated    bool
	}
	Error *struct {
		ExitCode int `json:"exit_code"`
		Message  string
	}
}

func TestDiffSnapshots(t *testing.T) {
	dir, _, folder := diffPlayer(t)
	const a, b = "20261101_030000", "20261108_030000"

	var doc diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--json"), &doc)
	if doc.A != a || doc.B != b {
		t.Errorf("a, b = %s, %s", doc.A, doc.B)
	}
	tables := map[string]int{}
	for i, d := range doc.Tables {
		tables[d.Table] = i
	}
	i, ok := tables["medals_earned"]
	if !ok {
		t.Fatalf("medals_earned not listed: %+v", doc.Tables)
	}
	if d := doc.Tables[i]; d.Change != "changed" || d.RowsDelta != 3 || *d.RowsAfter != *d.RowsBefore+3 || d.Basis != "rows" {
		t.Errorf("medals_earned: %+v", d)
	}
	if i, ok := tables["teammates_aggregate"]; !ok || (doc.Tables[i].Change != "unknown" && doc.Tables[i].Change != "changed") || doc.Tables[i].RowsDelta != 0 {
		t.Errorf("teammates_aggregate (one value edited): %+v", doc.Tables)
	}
	if len(doc.Unchanged) < 5 {
		t.Errorf("only %d tables proven unchanged: %v", len(doc.Unchanged), doc.Unchanged)
	}
	for _, u := range doc.Unchanged {
		if u == "medals_earned" || u == "teammates_aggregate" {
			t.Errorf("%s reported unchanged", u)
		}
	}
	objs := map[string]string{}
	for _, o := range doc.Objects {
		objs[o.Kind+" "+o.Name] = o.Change
	}
	if objs["view v_added"] != "added" || objs["macro kda_ratio"] != "removed" {
		t.Errorf("objects: %+v", doc.Objects)
	}

	// Text: one line per table that differs, then the counts.
	r := mustCLI(t, dir, "diff", "--backup", folder, a, "latest")
	for _, want := range []string{"changed   medals_earned", "(+3)", "added     view main.v_added", "removed   macro main.kda_ratio", "unchanged"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.Stdout)
		}
	}

	// A sequence that only moved says so, with its values, not "DDL changed".
	if !regexp.MustCompile(`changed +sequence main\.sessions_id_seq: next value (\d+) -> (\d+)\n`).MatchString(r.Stdout) {
		t.Errorf("the moved sequence is not reported by its values:\n%s", r.Stdout)
	}

	// --rows: the three added medals, decoded; nothing removed.
	doc = diffDoc{}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--rows", "medals_earned", "--limit", "2", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.AddedCount != 3 || doc.Rows.RemovedCount != 0 || len(doc.Rows.Added) != 2 || !doc.Rows.Truncated {
		t.Fatalf("rows: %+v", doc.Rows)
	}
	if doc.Rows.Columns[0] != "match_id" || !strings.HasPrefix(*doc.Rows.Added[0][0], "added-") {
		t.Errorf("added rows: %v %v", doc.Rows.Columns, *doc.Rows.Added[0][0])
	}
	doc = diffDoc{}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--rows", "teammates_aggregate", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.AddedCount != 1 || doc.Rows.RemovedCount != 1 {
		t.Fatalf("teammates_aggregate rows: %+v", doc.Rows)
	}
	if !strings.Contains(fmt.Sprint(values(doc.Rows.Added[0])), "Renamed") || strings.Contains(fmt.Sprint(values(doc.Rows.Removed[0])), "Renamed") {
		t.Errorf("edited row: added %v removed %v", values(doc.Rows.Added[0]), values(doc.Rows.Removed[0]))
	}
	r = mustCLI(t, dir, "diff", "--backup", folder, a, b, "--rows", "teammates_aggregate")
	if !strings.Contains(r.Stdout, "1 added, 1 removed") || !strings.Contains(r.Stdout, "+ ") || !strings.Contains(r.Stdout, "- ") {
		t.Errorf("--rows text:\n%s", r.Stdout)
	}

	// Completion: A and B are the folder's ids, --rows and files' TABLE
	// its tables.
	if r := mustCLI(t, dir, "__complete", "diff", "--backup", folder, ""); !strings.Contains(r.Stdout, "latest\n"+a+"\n"+b+"\n") {
		t.Errorf("diff completion:\n%s", r.Stdout)
	}
	if r := mustCLI(t, dir, "__complete", "diff", "--backup", folder, a, b, "--rows", "medal"); !strings.HasPrefix(r.Stdout, "medals_earned\n:4") {
		t.Errorf("--rows completion:\n%s", r.Stdout)
	}
	if r := mustCLI(t, dir, "__complete", "files", "--backup", folder, "teammates"); !strings.HasPrefix(r.Stdout, "teammates_aggregate\n:4") {
		t.Errorf("files completion:\n%s", r.Stdout)
	}

	// A table only one side has: all its rows added.
	testutil.WriteDB(t, filepath.Join(dir, "data", "players", "P", "stats.duckdb"), `CREATE TABLE fresh AS SELECT range AS id FROM range(4)`)
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-15T03:00:00Z")
	doc = diffDoc{}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, "20261115_030000", "--rows", "fresh", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.AddedCount != 4 || doc.Rows.RemovedCount != 0 {
		t.Errorf("fresh rows: %+v", doc.Rows)
	}
}

func values(row []*string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		if v == nil {
			out[i] = "NULL"
		} else {
			out[i] = *v
		}
	}
	return out
}

func TestDiffLive(t *testing.T) {
	dir, db, folder := diffPlayer(t)
	testutil.WriteDB(t, db, `DELETE FROM medals_earned WHERE match_id LIKE 'added-%'`)
	var doc diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--gamertag", "P", "latest", "--json"), &doc)
	if doc.B != "live" {
		t.Errorf("b = %q, want live", doc.B)
	}
	found := false
	for _, d := range doc.Tables {
		if d.Table == "medals_earned" {
			found = d.RowsDelta == -3 && d.Change == "changed"
		}
	}
	if !found {
		t.Errorf("medals_earned -3 not reported: %+v", doc.Tables)
	}
	doc = diffDoc{}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, "latest", "--db", db, "--rows", "medals_earned", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.RemovedCount != 3 || doc.Rows.AddedCount != 0 {
		t.Errorf("rows vs live: %+v", doc.Rows)
	}
}

// TestDiffMovedRows: rows deleted and inserted again unchanged keep their
// values but not their rowids, which the fingerprint covers. diff says
// the table changed without claiming its values did, and --rows finds no
// row that differs.
func TestDiffMovedRows(t *testing.T) {
	dir, db, folder := diffPlayer(t)
	testutil.WriteDB(t, db,
		`CREATE TEMP TABLE keep AS SELECT * FROM antagonists ORDER BY rowid LIMIT 2`,
		`DELETE FROM antagonists WHERE rowid IN (SELECT rowid FROM antagonists ORDER BY rowid LIMIT 2)`,
		`INSERT INTO antagonists SELECT * FROM keep`)
	r := mustCLI(t, dir, "diff", "--gamertag", "P", "latest")
	line := ""
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.Contains(l, " antagonists ") {
			line = l
		}
	}
	if !strings.Contains(line, "values or row order changed") || !strings.Contains(line, "--rows antagonists") {
		t.Errorf("diff line for moved rows: %q in\n%s", line, r.Stdout)
	}
	var doc diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, "latest", "--db", db, "--rows", "antagonists", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.AddedCount != 0 || doc.Rows.RemovedCount != 0 {
		t.Errorf("moved rows listed as changed: %+v", doc.Rows)
	}
}

// TestDiffFingerprintVersions: fingerprints made by two constructions
// are not compared. A table unchanged between two snapshots that share no
// file, whose older entry is of version 1, is reported as not compared,
// not as unchanged (nor changed); the others are proven unchanged.
func TestDiffFingerprintVersions(t *testing.T) {
	dir, _, folder := diffPlayer(t)
	// The same rows at another compression level: new files, of other
	// bytes (files of the same bytes prove a table unchanged on their own).
	mustCLI(t, dir, "backup", "--gamertag", "P", "--compression-level", "3", "--time", "2026-11-15T03:00:00Z")
	id := snapshot.FormatID(time.Date(2026, 11, 8, 3, 0, 0, 0, time.UTC))
	m := testutil.ReadManifest(t, folder, id)
	m.Tables["antagonists"].FingerprintVersion = 0
	testutil.WriteManifest(t, folder, m, nil)
	var doc diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--gamertag", "P", id, "latest", "--json"), &doc)
	for _, u := range doc.Unchanged {
		if u == "antagonists" {
			t.Error("antagonists is said unchanged from fingerprints of two constructions")
		}
	}
	found := false
	for _, d := range doc.Tables {
		if d.Table == "antagonists" {
			found = d.Data == "unknown" && d.Change != "unchanged"
		}
	}
	if !found || len(doc.Tables) != 1 {
		t.Errorf("want only antagonists, not compared: %+v", doc.Tables)
	}
}

func TestDiffRefusesDamageAndBadUsage(t *testing.T) {
	dir, _, folder := diffPlayer(t)
	const a, b = "20261101_030000", "20261108_030000"
	for _, args := range [][]string{
		{"diff", "--backup", folder, a},                        // no B, no live database
		{"diff", "--backup", folder, a, b, "--db", "x.duckdb"}, // both
		{"diff", "--backup", folder, "2026-11-01", b},          // not an id
		{"diff", "--backup", folder, a, b, "--limit", "5"},     // --limit without --rows
		{"diff", "--backup", folder, a, b, "--rows", "nosuch"}, // neither side has it
		{"diff", "--backup", folder, a, b, "--rows", "x", "--limit", "0"},
		{"diff", "--backup", folder},
	} {
		if r := cli(t, dir, args...); r.Code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.Code, r.Stderr)
		}
	}
	if r := cli(t, dir, "diff", "--backup", folder, a, "20261102_030000"); r.Code != exitError || !strings.Contains(r.Stderr, "no such snapshot") {
		t.Errorf("unknown snapshot: exit %d\n%s", r.Code, r.Stderr)
	}

	// A damaged file of a table: its rows are refused (3) and nothing of
	// it is read; the manifests still compare.
	m := testutil.ReadManifest(t, folder, b)
	testutil.FlipByte(t, filepath.Join(folder, m.Tables["medals_earned"].File))
	r := cli(t, dir, "diff", "--backup", folder, a, b, "--rows", "medals_earned", "--json")
	var doc diffDoc
	jsonOut(t, r, &doc)
	if r.Code != exitIntegrity || doc.Error == nil || doc.Error.ExitCode != exitIntegrity || !strings.Contains(doc.Error.Message, "hash_mismatch") {
		t.Errorf("--rows over a damaged file: exit %d %+v\n%s", r.Code, doc.Error, r.Stderr)
	}
	if r := cli(t, dir, "diff", "--backup", folder, a, b, "--rows", "sessions"); r.Code != 0 {
		t.Errorf("--rows over an intact table of the same snapshot: exit %d\n%s", r.Code, r.Stderr)
	}
	mustCLI(t, dir, "diff", "--backup", folder, a, b)

	// An edited manifest: refused even without --rows.
	mpath := filepath.Join(folder, snapshot.ManifestName(a))
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, []byte(strings.Replace(string(raw), `"gamertag": "P"`, `"gamertag": "Q"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, dir, "diff", "--backup", folder, a, b); r.Code != exitIntegrity || !strings.Contains(r.Stderr, "manifest_corrupt") {
		t.Errorf("edited manifest: exit %d\n%s", r.Code, r.Stderr)
	}
}

// files --sql | duckdb: every table of a snapshot reads as in the
// database, also one held by two files and one sharing an earlier
// snapshot's file.
func TestFilesSQLMatchesDatabase(t *testing.T) {
	dir := t.TempDir()
	db := samplePlayer(t, dir, "P", 20)
	folder := filepath.Join(dir, "data", "backups", "P")
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-01T03:00:00Z")
	// --full: the split and the share below are made by hand.
	mustCLI(t, dir, "backup", "--full", "--gamertag", "P", "--time", "2026-11-08T03:00:00Z")
	const id = "20261108_030000"
	testutil.SplitTable(t, folder, id, "highlight_events", 100, nil)
	testutil.ShareTable(t, folder, id, "20261101_030000", "medals_earned", nil)

	var doc struct {
		Snapshot string
		Tables   []struct {
			Table string
			Rows  int64
			Files []struct{ File, Path, WrittenBy string }
		}
	}
	jsonOut(t, mustCLI(t, dir, "files", "--backup", folder, "--json", "highlight_events", "medals_earned"), &doc)
	if doc.Snapshot != id || len(doc.Tables) != 2 {
		t.Fatalf("files --json: %+v", doc)
	}
	if f := doc.Tables[0].Files; len(f) != 2 || f[1].File != "highlight_events_"+id+".1.parquet" || !filepath.IsAbs(f[0].Path) {
		t.Errorf("highlight_events files: %+v", f)
	}
	if f := doc.Tables[1].Files; len(f) != 1 || f[0].File != "medals_earned_20261101_030000.parquet" {
		t.Errorf("medals_earned files: %+v", f)
	}
	r := mustCLI(t, dir, "files", "--backup", folder, "highlight_events")
	if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[1], ".1.parquet") {
		t.Errorf("files text:\n%s", r.Stdout)
	}
	if r := cli(t, dir, "files", "--backup", folder, "nosuch"); r.Code != exitUsage {
		t.Errorf("files of an unknown table: exit %d", r.Code)
	}

	script := mustCLI(t, dir, "files", "--backup", folder, "--sql").Stdout
	conn := testutil.OpenDB(t, ":memory:", true)
	if _, err := conn.Exec(script); err != nil {
		t.Fatalf("run the script: %v\n%s", err, script)
	}
	if _, err := conn.Exec("ATTACH " + sqlq.Literal(db) + " AS src (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	m := testutil.ReadManifest(t, folder, id)
	for key, e := range m.Tables {
		q := sqlq.Qualified(e.Schema, e.Name)
		var cols []string
		for _, c := range e.Columns {
			if !c.Generated {
				cols = append(cols, sqlq.Ident(c.Name))
			}
		}
		list := strings.Join(cols, ", ")
		var diff, n int64
		query := fmt.Sprintf(`SELECT (SELECT count(*) FROM (SELECT %[1]s FROM memory.%[2]s EXCEPT ALL SELECT %[1]s FROM src.%[2]s)) +
			(SELECT count(*) FROM (SELECT %[1]s FROM src.%[2]s EXCEPT ALL SELECT %[1]s FROM memory.%[2]s)), (SELECT count(*) FROM memory.%[2]s)`, list, q)
		if err := conn.QueryRow(query).Scan(&diff, &n); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if diff != 0 || n != e.Rows {
			t.Errorf("%s: %d rows differ from the database, view has %d rows, manifest %d", key, diff, n, e.Rows)
		}
	}
}

// Seed-made snapshots record rows only: diff says what it can (row
// deltas) and "unknown" for the rest, with a warning; --rows reads them
// only with --allow-unverified, as restore does.
func TestDiffLegacySnapshots(t *testing.T) {
	dir := t.TempDir()
	db := samplePlayer(t, dir, "P", 20)
	folder := filepath.Join(dir, "data", "backups", "P")
	testutil.SeedExport(t, db, folder, "P", "20261101_030000", true)
	testutil.WriteDB(t, db, `INSERT INTO medals_earned SELECT * REPLACE ('seed-' || match_id AS match_id) FROM medals_earned LIMIT 2`)
	testutil.SeedExport(t, db, folder, "P", "20261108_030000", true)

	var doc struct {
		diffDoc
		Warnings []struct{ Kind string }
	}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, "20261101_030000", "20261108_030000", "--json"), &doc)
	unknown := 0
	for _, d := range doc.Tables {
		switch {
		case d.Table == "medals_earned":
			if d.Change != "changed" || d.RowsDelta != 2 || d.Basis != "rows" {
				t.Errorf("medals_earned: %+v", d)
			}
		case d.Change == "unknown" && d.Basis == "none":
			unknown++
		default:
			t.Errorf("%s: %+v", d.Table, d)
		}
	}
	// The seed's files are DuckDB's default export, not written the same
	// way twice, and no hash is recorded: nothing else is proven.
	if unknown == 0 || len(doc.Unchanged) != 0 {
		t.Errorf("%d unknown, unchanged %v", unknown, doc.Unchanged)
	}
	if len(doc.Warnings) != 2 || doc.Warnings[0].Kind != "unverifiable" {
		t.Errorf("warnings: %+v", doc.Warnings)
	}

	r := cli(t, dir, "diff", "--backup", folder, "20261101_030000", "20261108_030000", "--rows", "medals_earned")
	if r.Code != exitIntegrity || !strings.Contains(r.Stderr, "--allow-unverified") {
		t.Errorf("--rows on a seed snapshot: exit %d\n%s", r.Code, r.Stderr)
	}
	var rows diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, "20261101_030000", "20261108_030000", "--rows", "medals_earned", "--allow-unverified", "--json"), &rows)
	if rows.Rows == nil || rows.Rows.AddedCount != 2 || rows.Rows.RemovedCount != 0 {
		t.Errorf("rows: %+v", rows.Rows)
	}

	// files --sql over a seed snapshot: plain views of what DuckDB reads.
	script := mustCLI(t, dir, "files", "--backup", folder, "--sql").Stdout
	conn := testutil.OpenDB(t, ":memory:", true)
	if _, err := conn.Exec(script); err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	var n int64
	if err := conn.QueryRow(`SELECT count(*) FROM medals_earned`).Scan(&n); err != nil || n == 0 {
		t.Errorf("medals_earned view: %d rows, %v", n, err)
	}
}

// Given a key, a manifest the key does not authenticate is refused by
// diff and files alike (exit 3), though no file is read; --allow-unverified
// lets diff compare it with a warning.
func TestDiffAndFilesRefuseUnauthenticated(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "P", 5)
	key := filepath.Join(dir, "key")
	other := filepath.Join(dir, "other")
	mustCLI(t, dir, "key", "generate", key)
	mustCLI(t, dir, "key", "generate", other)
	folder := filepath.Join(dir, "data", "backups", "P")
	mustCLI(t, dir, "backup", "--gamertag", "P", "--key-file", key, "--time", "2026-11-01T03:00:00Z")
	mustCLI(t, dir, "backup", "--gamertag", "P", "--key-file", key, "--time", "2026-11-08T03:00:00Z")
	const a, b = "20261101_030000", "20261108_030000"
	mustCLI(t, dir, "diff", "--backup", folder, a, b, "--key-file", key)
	mustCLI(t, dir, "files", "--backup", folder, "--key-file", key)
	for _, args := range [][]string{
		{"diff", "--backup", folder, a, b, "--key-file", other},
		{"files", "--backup", folder, "--key-file", other},
	} {
		if r := cli(t, dir, args...); r.Code != exitIntegrity || !strings.Contains(r.Stderr, "unauthenticated") {
			t.Errorf("%v: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
	if r := cli(t, dir, "diff", "--backup", folder, a, b, "--key-file", other, "--allow-unverified"); r.Code != 0 || !strings.Contains(r.Stdout, "warning") {
		t.Errorf("--allow-unverified: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// Without a key, a MAC cannot be checked: a warning, not a refusal.
	if r := mustCLI(t, dir, "diff", "--backup", folder, a, b); !strings.Contains(r.Stdout, "warning") {
		t.Errorf("no key: %s", r.Stdout)
	}
}
