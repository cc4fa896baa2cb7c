package diff_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/diff"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// fixture is a player folder with two real snapshots of a database that
// changed in between in every way diff reports.
type fixture struct {
	dir, src string
	folder   storage.Folder
	a, b     snapshot.Info
	entries  []storage.Entry
}

var (
	t1 = time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	t2 = time.Date(2026, 11, 8, 3, 0, 0, 0, time.UTC)
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE SEQUENCE seq_id START 1`,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		// big: HUGEINT and INTERVAL are stored encoded (hugeint-text,
		// interval-struct): diff --rows must show them decoded.
		`CREATE TABLE grows (id BIGINT DEFAULT nextval('seq_id'), big HUGEINT, span INTERVAL, m mood, note VARCHAR)`,
		`INSERT INTO grows (big, span, m, note) SELECT 170141183460469231731687303715884105727 - range, INTERVAL (range) DAY, 'ok', 'row ' || range FROM range(50)`,
		`CREATE TABLE edited AS SELECT range AS id, 'v' || range AS v FROM range(20)`,
		`CREATE TABLE same AS SELECT range AS id, range * 2 AS twice FROM range(30)`,
		`CREATE TABLE dropped AS SELECT range AS id FROM range(5)`,
		`CREATE TABLE altered AS SELECT range AS id FROM range(7)`,
		`CREATE SCHEMA extra`,
		`CREATE TABLE extra.kept AS SELECT range AS id FROM range(3)`,
		`CREATE VIEW v_old AS SELECT count(*) AS n FROM grows`,
		`CREATE MACRO twice(x) AS x * 2`,
		`CREATE INDEX grows_note ON grows (note)`,
	)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups", "p"), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: "p", Folder: folder, CompressionLevel: 3, Time: t1}); err != nil {
		t.Fatal(err)
	}
	testutil.WriteDB(t, src,
		`INSERT INTO grows (big, span, m, note) VALUES (-170141183460469231731687303715884105728, INTERVAL '-3 months 2 days 00:00:01.5', 'happy', 'added one'), (42, INTERVAL '1 second', NULL, 'added two'), (NULL, NULL, 'sad', 'added three')`,
		`UPDATE edited SET v = 'changed' WHERE id = 7`,
		`DROP TABLE dropped`,
		`ALTER TABLE altered ADD COLUMN label VARCHAR DEFAULT 'x'`,
		`CREATE TABLE fresh AS SELECT range AS id FROM range(4)`,
		`CREATE VIEW v_new AS SELECT 1 AS one`,
		`DROP MACRO twice`,
	)
	if _, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: "p", Folder: folder, CompressionLevel: 3, Time: t2}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, src: src, folder: folder}
	f.rescan(t)
	return f
}

func (f *fixture) rescan(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	all, err := snapshot.Scan(ctx, f.folder)
	if err != nil || len(all) != 2 {
		t.Fatalf("scan: %d snapshots, %v", len(all), err)
	}
	f.a, f.b = all[0], all[1]
	if f.entries, err = f.folder.List(ctx); err != nil {
		t.Fatal(err)
	}
}

func side(s snapshot.Info) diff.Side {
	return diff.Side{Label: s.ID, Manifest: s.Manifest.Manifest}
}

func byTable(r *diff.Report) map[string]diff.TableDiff {
	out := map[string]diff.TableDiff{}
	for _, d := range r.Tables {
		out[d.Table] = d
	}
	return out
}

func TestCompareSnapshots(t *testing.T) {
	f := newFixture(t)
	r := diff.Compare(side(f.a), side(f.b))
	got := byTable(r)

	if d := got["grows"]; d.Change != diff.Changed || d.RowsDelta != 3 || *d.RowsBefore != 50 || *d.RowsAfter != 53 || d.Basis != diff.BasisRows || d.SchemaChanged {
		t.Errorf("grows: %+v", d)
	}
	if d := got["dropped"]; d.Change != diff.Removed || d.RowsDelta != -5 || d.RowsAfter != nil {
		t.Errorf("dropped: %+v", d)
	}
	if d := got["fresh"]; d.Change != diff.Added || d.RowsDelta != 4 || d.RowsBefore != nil {
		t.Errorf("fresh: %+v", d)
	}
	if d := got["altered"]; d.Change != diff.Changed || !d.SchemaChanged || strings.Join(d.Columns, ",") != "+label" || d.RowsDelta != 0 {
		t.Errorf("altered: %+v", d)
	}
	// One value changed, the row count did not: only a fingerprint proves
	// it. Snapshots without one say they cannot tell.
	d := got["edited"]
	if f.b.Manifest.Tables["edited"].Fingerprint != "" {
		if d.Change != diff.Changed || d.Data != diff.DataChanged || d.Basis != diff.BasisFingerprint {
			t.Errorf("edited (fingerprinted): %+v", d)
		}
	} else if d.Change != diff.Unknown || d.Data != diff.DataUnknown || d.Basis != diff.BasisNone {
		t.Errorf("edited (no fingerprint): %+v", d)
	}
	// Unchanged tables are proven so, not listed.
	for _, k := range []string{"same", "extra.kept"} {
		if _, listed := got[k]; listed {
			t.Errorf("%s listed as %+v, want unchanged", k, got[k])
		}
	}
	if strings.Join(r.Unchanged, ",") != "extra.kept,same" {
		t.Errorf("unchanged = %v", r.Unchanged)
	}

	objs := map[string]diff.ObjectDiff{}
	for _, o := range r.Objects {
		objs[o.Kind+" "+o.Name] = o
	}
	if o, ok := objs["view v_new"]; !ok || o.Change != diff.Added || !strings.Contains(o.SQLAfter, "v_new") {
		t.Errorf("view v_new: %+v (objects %+v)", o, r.Objects)
	}
	if o, ok := objs["macro twice"]; !ok || o.Change != diff.Removed {
		t.Errorf("macro twice: %+v", o)
	}
	if o, ok := objs["sequence seq_id"]; !ok || o.Change != diff.Changed || *o.NextBefore != 51 || *o.NextAfter != 54 {
		t.Errorf("sequence seq_id: %+v", o)
	}
	if _, ok := objs["view v_old"]; ok {
		t.Errorf("v_old did not change but is listed: %+v", objs["view v_old"])
	}
	if r.Same() {
		t.Error("Same() on a report with differences")
	}
	// A snapshot against itself: nothing.
	if self := diff.Compare(side(f.b), side(f.b)); !self.Same() || len(self.Unchanged) != len(f.b.Manifest.Tables) {
		t.Errorf("self diff: %+v", self)
	}
}

// rowsOf verifies both snapshots' files of table into copies and compares
// their rows.
func rowsOf(t *testing.T, f *fixture, table string) *diff.RowsReport {
	t.Helper()
	ctx := context.Background()
	work := t.TempDir()
	var rels []diff.Relation
	for i, s := range []snapshot.Info{f.a, f.b} {
		dir := filepath.Join(work, string(rune('a'+i)))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		paths, _, err := diff.Check(ctx, f.folder, s, f.entries, []string{table}, dir, verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths[table] {
			if filepath.Dir(p) != dir {
				t.Fatalf("copy %s is outside %s", p, dir)
			}
		}
		rel, err := diff.FilesRelation(s.ID, s.Manifest.Tables[table], paths[table])
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	conn := memConn(t)
	r, err := diff.Rows(ctx, conn, table, rels[0], rels[1], diff.RowsOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func memConn(t *testing.T) *sql.Conn {
	t.Helper()
	conn, _ := testutil.Conn(t, ":memory:", true)
	return conn
}

func str(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

func rowText(rows [][]*string) []string {
	var out []string
	for _, r := range rows {
		var vals []string
		for _, v := range r {
			vals = append(vals, str(v))
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out
}

func TestRowsBetweenSnapshots(t *testing.T) {
	f := newFixture(t)

	// Three rows added, listed at most two (--limit), ordered by text,
	// their HUGEINT and INTERVAL values decoded from the stored encodings.
	r := rowsOf(t, f, "grows")
	if r.AddedCount != 3 || r.RemovedCount != 0 || !r.Truncated || len(r.Added) != 2 || len(r.Removed) != 0 {
		t.Fatalf("grows: %+v", r)
	}
	if enc := f.b.Manifest.Tables["grows"].Columns[1].Encoding; enc != "hugeint-text" {
		t.Fatalf("big is stored as %q; the test means an encoded column", enc)
	}
	want := []string{
		"51|-170141183460469231731687303715884105728|-3 months 2 days 00:00:01.5|happy|added one",
		"52|42|00:00:01|NULL|added two",
	}
	if got := rowText(r.Added); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("added rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(r.Columns, ",") != "id,big,span,m,note" {
		t.Errorf("columns %v", r.Columns)
	}

	// One value changed: one row out, one in.
	r = rowsOf(t, f, "edited")
	if r.AddedCount != 1 || r.RemovedCount != 1 || r.Truncated {
		t.Fatalf("edited: %+v", r)
	}
	if a, rm := rowText(r.Added), rowText(r.Removed); a[0] != "7|changed" || rm[0] != "7|v7" {
		t.Errorf("edited: added %v, removed %v", a, rm)
	}

	// A new column: compared on the columns both have, the new one named.
	r = rowsOf(t, f, "altered")
	if r.AddedCount != 0 || r.RemovedCount != 0 || strings.Join(r.OnlyB, ",") != "label" || strings.Join(r.Columns, ",") != "id" {
		t.Errorf("altered: %+v", r)
	}

	// Unchanged: nothing either way.
	if r = rowsOf(t, f, "same"); r.AddedCount != 0 || r.RemovedCount != 0 || len(r.Added) != 0 {
		t.Errorf("same: %+v", r)
	}
}

func TestRowsAgainstLive(t *testing.T) {
	f := newFixture(t)
	testutil.WriteDB(t, f.src, `DELETE FROM edited WHERE id = 3`, `INSERT INTO same VALUES (100, 7)`, `CREATE VIEW v_live AS SELECT 2 AS two`)
	ctx := context.Background()
	conn, done := testutil.Conn(t, f.src, false)
	defer done()
	live, err := diff.ReadLive(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := diff.Compare(side(f.b), diff.Side{Label: "live", Manifest: live, Live: true})
	got := byTable(r)
	if d := got["edited"]; d.Change != diff.Changed || d.RowsDelta != -1 {
		t.Errorf("edited: %+v", d)
	}
	if d := got["same"]; d.Change != diff.Changed || d.RowsDelta != 1 {
		t.Errorf("same: %+v", d)
	}
	if d := got["grows"]; d.SchemaChanged || d.Data == diff.DataChanged {
		t.Errorf("grows did not change since the snapshot: %+v", d)
	}
	found := false
	for _, o := range r.Objects {
		switch {
		case o.Kind == "view" && o.Name == "v_live" && o.Change == diff.Added:
			found = true
		default:
			// Nothing else changed: the catalog reads the live database as
			// backup read it into the snapshot.
			t.Errorf("unexpected object difference %+v", o)
		}
	}
	if !found {
		t.Errorf("v_live not reported added: %+v", r.Objects)
	}

	dir := t.TempDir()
	paths, _, err := diff.Check(ctx, f.folder, f.b, f.entries, []string{"edited"}, dir, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := diff.FilesRelation(f.b.ID, f.b.Manifest.Tables["edited"], paths["edited"])
	if err != nil {
		t.Fatal(err)
	}
	rb, err := diff.LiveRelation(live.Tables["edited"])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := diff.Rows(ctx, conn, "edited", ra, rb, diff.RowsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rows.AddedCount != 0 || rows.RemovedCount != 1 || rowText(rows.Removed)[0] != "3|v3" {
		t.Errorf("edited vs live: %+v", rows)
	}
}

func TestCheckRefusesDamage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	file := f.b.Manifest.Tables["edited"].File
	testutil.FlipByte(t, filepath.Join(f.folder.Location(), file))
	dir := t.TempDir()
	_, _, err := diff.Check(ctx, f.folder, f.b, f.entries, []string{"edited"}, dir, verify.Options{})
	var ie *diff.IntegrityError
	if !errors.As(err, &ie) || ie.Snapshot != f.b.ID || len(ie.Problems) == 0 || ie.Problems[0].Kind != verify.KindHashMismatch {
		t.Fatalf("Check of a damaged file: %v", err)
	}
	// The manifest alone still checks: its other tables are intact.
	if _, _, err := diff.Check(ctx, f.folder, f.b, f.entries, []string{"same"}, t.TempDir(), verify.Options{}); err != nil {
		t.Errorf("Check of an intact table of the same snapshot: %v", err)
	}

	// An edited manifest (rows changed by hand) fails its checksum, even
	// when no file is read.
	mpath := filepath.Join(f.folder.Location(), snapshot.ManifestName(f.a.ID))
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `"rows": 30`, `"rows": 31`, 1)
	if edited == string(raw) {
		t.Fatal("the manifest has no \"rows\": 30 to edit")
	}
	if err := os.WriteFile(mpath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	f.rescan(t)
	_, _, err = diff.Check(ctx, f.folder, f.a, f.entries, nil, "", verify.Options{})
	if !errors.As(err, &ie) || ie.Problems[0].Kind != verify.KindManifestCorrupt {
		t.Fatalf("Check of an edited manifest: %v", err)
	}
}

// manifest builds a one-table manifest by hand, for the decisions that
// rest on fingerprints and hashes.
func manifest(version string, t *snapshot.Table) *snapshot.Manifest {
	return &snapshot.Manifest{DuckDBVersion: version, Tables: map[string]*snapshot.Table{"t": t}}
}

func TestCompareFingerprints(t *testing.T) {
	cols := []snapshot.Column{{Name: "id", Type: "BIGINT"}, {Name: "v", Type: "VARCHAR"}}
	hugeCols := []snapshot.Column{{Name: "id", Type: "BIGINT"}, {Name: "v", Type: "HUGEINT", Encoding: "hugeint-text"}}
	const fp1, fp2 = "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdee"
	const h1, h2 = "1111111111111111111111111111111111111111111111111111111111111111", "2222222222222222222222222222222222222222222222222222222222222222"
	const s1, s2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	entry := func(rows int64, blake, fp, shape string, c []snapshot.Column) *snapshot.Table {
		return &snapshot.Table{Rows: rows, BLAKE3: blake, Fingerprint: fp, Shape: shape, Columns: c, CreateSQL: "CREATE TABLE t(...);"}
	}
	for _, tc := range []struct {
		name       string
		a, b       *snapshot.Manifest
		liveB      bool
		change     diff.Change
		data       diff.Data
		basis      diff.Basis
		schemaOnly bool
	}{
		{"same fingerprint, other files", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, h2, fp1, s1, cols)), false,
			diff.Unchanged, diff.DataUnchanged, diff.BasisFingerprint, false},
		{"other fingerprint, same rows", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, h2, fp2, s1, cols)), false,
			diff.Changed, diff.DataChanged, diff.BasisFingerprint, false},
		// Another compression level gives another shape, not another hash.
		{"other shape, same columns and DuckDB", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, h2, fp1, s2, cols)), false,
			diff.Unchanged, diff.DataUnchanged, diff.BasisFingerprint, false},
		// Another DuckDB may hash otherwise: nothing is proven.
		{"other DuckDB version", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.6.0", entry(10, h2, fp1, s2, cols)), false,
			diff.Unknown, diff.DataUnknown, diff.BasisNone, false},
		{"other column type", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, h2, fp1, s2, hugeCols)), false,
			diff.Changed, diff.DataUnknown, diff.BasisNone, false},
		{"rows differ", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(11, h2, fp1, s1, cols)), false,
			diff.Changed, diff.DataChanged, diff.BasisRows, false},
		// Format 1: no fingerprints; the same bytes prove the same rows.
		{"same file hash", manifest("v1.5.6", entry(10, h1, "", "", cols)), manifest("v1.5.6", entry(10, h1, "", "", cols)), false,
			diff.Unchanged, diff.DataUnchanged, diff.BasisFiles, false},
		{"other file hash, no fingerprint", manifest("v1.5.6", entry(10, h1, "", "", cols)), manifest("v1.5.6", entry(10, h2, "", "", cols)), false,
			diff.Unknown, diff.DataUnknown, diff.BasisNone, false},
		// Seed-made: rows only.
		{"legacy, same rows", manifest("", &snapshot.Table{Rows: 10}), manifest("", &snapshot.Table{Rows: 10}), false,
			diff.Unknown, diff.DataUnknown, diff.BasisNone, false},
		{"legacy, other rows", manifest("", &snapshot.Table{Rows: 10}), manifest("", &snapshot.Table{Rows: 9}), false,
			diff.Changed, diff.DataChanged, diff.BasisRows, false},
		// The live database: by fingerprint, never by files.
		{"live, same fingerprint", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, "", fp1, "", cols)), true,
			diff.Unchanged, diff.DataUnchanged, diff.BasisFingerprint, false},
		{"live, no fingerprint", manifest("v1.5.6", entry(10, h1, fp1, s1, cols)), manifest("v1.5.6", entry(10, "", "", "", cols)), true,
			diff.Unknown, diff.DataUnknown, diff.BasisNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := diff.Compare(diff.Side{Label: "a", Manifest: tc.a}, diff.Side{Label: "b", Manifest: tc.b, Live: tc.liveB})
			if tc.change == diff.Unchanged {
				if len(r.Tables) != 0 || len(r.Unchanged) != 1 {
					t.Fatalf("want unchanged, got %+v", r)
				}
				return
			}
			if len(r.Tables) != 1 {
				t.Fatalf("want one table, got %+v", r)
			}
			d := r.Tables[0]
			if d.Change != tc.change || d.Data != tc.data || d.Basis != tc.basis || d.SchemaOnly != tc.schemaOnly {
				t.Errorf("got change %s data %s basis %s schema_only %v, want %s %s %s %v", d.Change, d.Data, d.Basis, d.SchemaOnly, tc.change, tc.data, tc.basis, tc.schemaOnly)
			}
		})
	}

	// Only the DDL changed (a default), the rows proven the same.
	a := manifest("v1.5.6", entry(10, h1, fp1, s1, cols))
	b := manifest("v1.5.6", entry(10, h2, fp1, s1, cols))
	b.Tables["t"].CreateSQL = "CREATE TABLE t(id BIGINT DEFAULT 1, v VARCHAR);"
	r := diff.Compare(diff.Side{Label: "a", Manifest: a}, diff.Side{Label: "b", Manifest: b})
	if len(r.Tables) != 1 || !r.Tables[0].SchemaOnly || r.Tables[0].Change != diff.Changed || len(r.Tables[0].Columns) != 0 {
		t.Errorf("DDL-only change: %+v", r.Tables)
	}
}

// readLive reads the fixture's live database, with fingerprints.
func readLive(t *testing.T, path string) *snapshot.Manifest {
	t.Helper()
	ctx := context.Background()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	m, err := diff.ReadLive(ctx, conn, diff.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The live database against a snapshot that records fingerprints: a value
// edited in place (same row count) is proven changed, the other tables
// proven unchanged, without reading the snapshot's data.
func TestLiveFingerprint(t *testing.T) {
	f := newFixture(t)
	before := readLive(t, f.src)
	snap := *f.b.Manifest.Manifest
	snap.Tables = map[string]*snapshot.Table{}
	for k, e := range f.b.Manifest.Tables {
		c := *e
		if c.Fingerprint == "" {
			// What a backup of this instant records.
			c.Fingerprint = before.Tables[k].Fingerprint
		}
		if c.Fingerprint != before.Tables[k].Fingerprint {
			t.Fatalf("%s: the snapshot's fingerprint %s is not the live one %s, though nothing changed", k, c.Fingerprint, before.Tables[k].Fingerprint)
		}
		snap.Tables[k] = &c
	}
	if r := diff.Compare(diff.Side{Label: "b", Manifest: &snap}, diff.Side{Label: "live", Manifest: before, Live: true}); len(r.Tables) != 0 {
		t.Fatalf("nothing changed, yet: %+v", r.Tables)
	}
	testutil.WriteDB(t, f.src, `UPDATE edited SET v = 'again' WHERE id = 2`, `UPDATE same SET twice = twice WHERE id = 1`)
	after := readLive(t, f.src)
	r := diff.Compare(diff.Side{Label: "b", Manifest: &snap}, diff.Side{Label: "live", Manifest: after, Live: true})
	got := byTable(r)
	if d := got["edited"]; d.Change != diff.Changed || d.Data != diff.DataChanged || d.Basis != diff.BasisFingerprint || d.RowsDelta != 0 {
		t.Errorf("edited: %+v", d)
	}
	// An UPDATE that writes the same value leaves the rows as they were.
	if d, listed := got["same"]; listed {
		t.Errorf("same: %+v", d)
	}
	if len(r.Tables) != 1 {
		t.Errorf("tables: %+v", r.Tables)
	}
}
