package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// incrementalFixture is a source with a table big enough to be chunked,
// a small one, an empty one, and a backup folder.
type incrementalFixture struct {
	t      *testing.T
	src    string
	dir    string
	folder *local.Folder
	when   time.Time
}

func newIncremental(t *testing.T) *incrementalFixture {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE events (id BIGINT, match VARCHAR, x DOUBLE)`,
		`INSERT INTO events SELECT range, 'm' || (range // 60), range / 7 FROM range(300000)`,
		`CREATE TABLE matches AS SELECT range AS id, 'match ' || range AS name FROM range(5000)`,
		`CREATE TABLE empty (id INTEGER)`,
	)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	return &incrementalFixture{t: t, src: src, dir: dir, folder: folder, when: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)}
}

func (x *incrementalFixture) write(stmts ...string) { testutil.WriteDB(x.t, x.src, stmts...) }

func (x *incrementalFixture) backup(full bool) *backup.Result {
	x.t.Helper()
	x.when = x.when.Add(7 * 24 * time.Hour)
	res, err := backup.Backup(context.Background(), backup.Options{
		Source: x.src, Gamertag: "tester", Folder: x.folder, CompressionLevel: 3, Time: x.when, Full: full,
	})
	if err != nil {
		x.t.Fatal(err)
	}
	return res
}

// sameRows checks, in DuckDB, that the files a snapshot lists for each
// table, read in order with read_parquet, hold exactly the source's rows
// in the source's rowid order.
func (x *incrementalFixture) sameRows(m *snapshot.Manifest) {
	x.t.Helper()
	db := testutil.OpenDB(x.t, x.src, false)
	for key, tb := range m.Tables {
		var files []string
		for _, p := range tb.DataFiles() {
			files = append(files, sqlq.Literal(filepath.Join(x.folder.Dir, p.File)))
		}
		var diff int64
		q := fmt.Sprintf(`SELECT count(*) FROM (
			(SELECT row_number() OVER () AS n, * FROM read_parquet([%s]) EXCEPT ALL SELECT row_number() OVER () AS n, * FROM (SELECT * FROM %s ORDER BY rowid))
			UNION ALL
			(SELECT row_number() OVER () AS n, * FROM (SELECT * FROM %s ORDER BY rowid) EXCEPT ALL SELECT row_number() OVER () AS n, * FROM read_parquet([%s])))`,
			strings.Join(files, ", "), sqlq.Ident(key), sqlq.Ident(key), strings.Join(files, ", "))
		if err := db.QueryRow(q).Scan(&diff); err != nil {
			x.t.Fatalf("%s: %v", key, err)
		}
		if diff != 0 {
			x.t.Errorf("table %s: its %d files differ from the source in %d rows", key, len(files), diff)
		}
	}
	db.Close()
}

// filesOf splits the files holding table in res's snapshot into those
// res's backup wrote and those it shares with earlier snapshots.
func filesOf(res *backup.Result, table string) (written, shared []string) {
	for _, p := range res.Manifest.Tables[table].DataFiles() {
		if _, id := snapshot.Classify(p.File); id == res.ID {
			written = append(written, p.File)
		} else {
			shared = append(shared, p.File)
		}
	}
	return written, shared
}

// onlyRewrote checks that res's backup wrote every file of table, which
// changed since the last backup (why says how), and shared every file of
// the tables that did not.
func (x *incrementalFixture) onlyRewrote(res *backup.Result, table, why string) {
	x.t.Helper()
	if _, ok := res.Manifest.Tables[table]; !ok {
		x.t.Fatalf("snapshot %s has no table %s", res.ID, table)
	}
	for key := range res.Manifest.Tables {
		written, shared := filesOf(res, key)
		if key == table && len(shared) != 0 {
			x.t.Errorf("%s %s, but %s was shared", table, why, shared)
		}
		if key != table && len(written) != 0 {
			x.t.Errorf("%s did not change, but %s was written again", key, written)
		}
	}
}

func TestIncremental(t *testing.T) {
	x := newIncremental(t)
	first := x.backup(false)
	if first.Base != "" || first.SharedFiles != 0 {
		t.Fatalf("first backup shared %d files with %q", first.SharedFiles, first.Base)
	}
	if n := len(first.Manifest.Tables["events"].Files); n != 2 {
		t.Errorf("events (300,000 rows) in %d files, want a chunk and its partial tail granule", n)
	}
	x.sameRows(first.Manifest)

	// Nothing changed: nothing is written but the manifest, and the
	// ledger's records of the first backup vouch for every shared file.
	same := x.backup(false)
	if same.Base != first.ID || same.NewFiles != 0 || same.SharedFiles != first.NewFiles || same.Rehashed != 0 {
		t.Errorf("unchanged source: base %q, %d new files, %d shared, %d hashed again; want base %s, 0 new, %d shared, none hashed",
			same.Base, same.NewFiles, same.SharedFiles, same.Rehashed, first.ID, first.NewFiles)
	}
	x.sameRows(same.Manifest)
	// Without the ledger every shared file is hashed again first.
	if err := os.Remove(filepath.Join(x.folder.Dir, snapshot.LedgerName)); err != nil {
		t.Fatal(err)
	}
	if again := x.backup(false); again.Rehashed != first.NewFiles || again.NewFiles != 0 {
		t.Errorf("without a ledger: %d files hashed again, %d new; want %d, 0", again.Rehashed, again.NewFiles, first.NewFiles)
	}

	// 1 % appended: the small table is rewritten, the big one keeps its
	// chunk and rewrites its tail granule plus the new rows.
	x.write(`INSERT INTO events SELECT range, 'm' || (range // 60), range / 7 FROM range(300000, 303000)`,
		`INSERT INTO matches SELECT range, 'match ' || range FROM range(5000, 5050)`)
	grown := x.backup(false)
	ev := grown.Manifest.Tables["events"]
	var newRows int64
	for _, p := range ev.Files {
		if _, id := snapshot.Classify(p.File); id == grown.ID {
			newRows += p.Rows
		}
	}
	if want := int64(3000 + 300000%2048); newRows != want {
		t.Errorf("after appending 3,000 rows, %d rows of events written anew, want %d", newRows, want)
	}
	if grown.NewBytes >= first.NewBytes/10 {
		t.Errorf("appending 1%% wrote %d bytes, a full backup %d", grown.NewBytes, first.NewBytes)
	}
	if ev.Rows != 303000 {
		t.Errorf("events: %d rows", ev.Rows)
	}
	x.sameRows(grown.Manifest)

	// A change in the middle rewrites the chunk holding it.
	x.write(`UPDATE events SET x = -1 WHERE id = 1000`)
	changed := x.backup(false)
	if f := changed.Manifest.Tables["events"].Files[0].File; !strings.Contains(f, changed.ID) {
		t.Errorf("the chunk holding a changed row was shared: %s", f)
	}
	x.sameRows(changed.Manifest)

	// --full writes everything.
	full := x.backup(true)
	if full.SharedFiles != 0 || full.Base != "" {
		t.Errorf("--full shared %d files", full.SharedFiles)
	}
	x.sameRows(full.Manifest)
	for _, res := range []*backup.Result{first, same, grown, changed, full} {
		testutil.ReadManifest(t, x.folder.Dir, res.ID) // it parses
	}
}

// TestIncrementalNeverSharesCorruption: a shared file that no longer has
// its recorded bytes is hashed again (its modification time voids the
// ledger's record), refused, and its rows are written from the source.
func TestIncrementalNeverSharesCorruption(t *testing.T) {
	x := newIncremental(t)
	first := x.backup(false)
	victim := first.Manifest.Tables["matches"].File
	testutil.FlipByte(t, filepath.Join(x.folder.Dir, victim))
	next := x.backup(false)
	if len(next.Refused) != 1 || next.Refused[0] != victim {
		t.Fatalf("refused %v, want [%s]", next.Refused, victim)
	}
	for key, tb := range next.Manifest.Tables {
		for _, p := range tb.DataFiles() {
			if p.File == victim {
				t.Fatalf("table %s shares the corrupt file %s", key, victim)
			}
		}
	}
	if next.SharedFiles == 0 {
		t.Error("the intact files were not shared")
	}
	x.sameRows(next.Manifest)
}

// TestIncrementalShapeChange: a table whose columns change is written
// whole, never shared with files of the old shape.
func TestIncrementalShapeChange(t *testing.T) {
	x := newIncremental(t)
	x.backup(false)
	x.write(`ALTER TABLE matches ADD COLUMN extra INTEGER`)
	next := x.backup(false)
	x.onlyRewrote(next, "matches", "changed shape")
	x.sameRows(next.Manifest)
}

// TestIncrementalFingerprintVersion: a base entry whose fingerprints were
// made by another construction (version 1, before the field existed)
// shares nothing, even with unchanged rows: its fingerprints say nothing
// about what this build computes. The new entries record the version.
func TestIncrementalFingerprintVersion(t *testing.T) {
	x := newIncremental(t)
	first := x.backup(false)
	m := testutil.ReadManifest(t, x.folder.Dir, first.ID)
	for k, e := range m.Tables {
		if e.FingerprintVersion != 2 {
			t.Errorf("%s: fingerprint_version %d, want 2", k, e.FingerprintVersion)
		}
	}
	m.Tables["matches"].FingerprintVersion = 0
	testutil.WriteManifest(t, x.folder.Dir, m, nil)
	next := x.backup(false)
	x.onlyRewrote(next, "matches", "has fingerprints of version 1")
	x.sameRows(next.Manifest)
}

// TestIncrementalRowsMove: deleting rows and rewriting the table (rowids
// shift) is never mistaken for unchanged data.
func TestIncrementalRowsMove(t *testing.T) {
	x := newIncremental(t)
	x.backup(false)
	x.write(`CREATE TABLE tmp AS SELECT * FROM events WHERE id <> 5 ORDER BY id`, `DROP TABLE events`, `ALTER TABLE tmp RENAME TO events`)
	next := x.backup(false)
	x.onlyRewrote(next, "events", "lost a row at the start")
	x.sameRows(next.Manifest)
}
