package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// sharedFixture is two snapshots of a growing table, the second held by
// the first's file plus a file of its own with the rows added since, as
// an incremental backup writes it.
type sharedFixture struct {
	dir           string
	folder        *local.Folder
	first, second string
	parts         []snapshot.Part
}

func newSharedFixture(t *testing.T) sharedFixture {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE log (n INTEGER NOT NULL, s VARCHAR)`,
		`INSERT INTO log SELECT range, 'row ' || range FROM range(100)`,
		`CREATE TABLE other (x INTEGER)`,
		`INSERT INTO other VALUES (1), (2)`)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	take := func(at time.Time) string {
		res, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "tester", Folder: folder, CompressionLevel: 3, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	first := take(time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC))
	testutil.WriteDB(t, src, `INSERT INTO log SELECT range, 'row ' || range FROM range(100, 150)`)
	second := take(time.Date(2026, 2, 8, 12, 0, 0, 0, time.UTC))
	parts := testutil.ShareRows(t, folder.Dir, first, second, "log", nil)
	if len(parts) != 2 || parts[0].File != "log_"+first+".parquet" || parts[1].Rows != 50 {
		t.Fatalf("parts %+v", parts)
	}
	return sharedFixture{dir: dir, folder: folder, first: first, second: second, parts: parts}
}

// order returns log's n column in rowid order.
func order(t *testing.T, path string) []int64 {
	t.Helper()
	db := testutil.OpenDB(t, path, false)
	rows, err := db.Query(`SELECT n FROM log ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestRestoreTableInPartsKeepsTheManifestsOrder(t *testing.T) {
	fx := newSharedFixture(t)
	ctx := context.Background()
	snaps, err := snapshot.Scan(ctx, fx.folder)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := snapshot.Find(snaps, fx.second)
	if res := verify.Snapshot(ctx, fx.folder, s, nil, verify.Options{}); !res.OK || len(res.Files) != 3 {
		t.Fatalf("the snapshot sharing a file does not verify: %+v", res)
	}

	out := filepath.Join(fx.dir, "out.duckdb")
	if _, err := Run(ctx, Options{Folder: fx.folder, Target: out, Gamertag: "tester", Snapshot: fx.second}); err != nil {
		t.Fatal(err)
	}
	got := order(t, out)
	if len(got) != 150 {
		t.Fatalf("restored %d rows, want 150", len(got))
	}
	for i, n := range got {
		if n != int64(i) {
			t.Fatalf("row %d holds %d: the files were not loaded in order", i, n)
		}
	}

	// The same files listed the other way round load the other way
	// round: the order is the manifest's, not the names' or the sizes'.
	m := testutil.ReadManifest(t, fx.folder.Dir, fx.second)
	a, b := fx.parts[0], fx.parts[1]
	b.RowidLo, b.RowidHi = 0, 50
	a.RowidLo, a.RowidHi = 50, 150
	testutil.SetParts(m, "log", []snapshot.Part{b, a})
	testutil.WriteManifest(t, fx.folder.Dir, m, nil)
	out2 := filepath.Join(fx.dir, "out2.duckdb")
	rep, err := Run(ctx, Options{Folder: fx.folder, Target: out2, Gamertag: "tester", Snapshot: fx.second})
	if err != nil {
		t.Fatal(err)
	}
	got = order(t, out2)
	if len(got) != 150 || got[0] != 100 || got[49] != 149 || got[50] != 0 || got[149] != 99 {
		t.Fatalf("reversed parts restored as %v...", got[:min(len(got), 3)])
	}
	if !rep.Verified {
		t.Errorf("report %+v", rep)
	}

	// The first snapshot, whose file the second shares, is unchanged.
	out3 := filepath.Join(fx.dir, "out3.duckdb")
	if _, err := Run(ctx, Options{Folder: fx.folder, Target: out3, Gamertag: "tester", Snapshot: fx.first}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, out3, "log"); n != 100 {
		t.Errorf("first snapshot: %d rows", n)
	}
}

func TestRestoreRefusesWhenASharedFileIsDamaged(t *testing.T) {
	fx := newSharedFixture(t)
	ctx := context.Background()
	// The damaged file is the first snapshot's, which the second names.
	testutil.FlipByte(t, filepath.Join(fx.folder.Dir, fx.parts[0].File))
	out := filepath.Join(fx.dir, "out.duckdb")
	_, err := Run(ctx, Options{Folder: fx.folder, Target: out, Gamertag: "tester", Snapshot: fx.second})
	var ie *IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("want an integrity error, got %v", err)
	}
	found := false
	for _, p := range ie.Problems {
		if p.File == fx.parts[0].File && p.Table == "log" && p.Kind == verify.KindHashMismatch {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %+v do not name the shared file", ie.Problems)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the target was touched: %v", err)
	}

	// --list shows the table's files and the damaged one's problem.
	l, err := List(ctx, ListOptions{Folder: fx.folder, Snapshot: fx.second})
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range l.Tables {
		if lt.Table != "log" {
			continue
		}
		if len(lt.Files) != 2 || lt.Files[0] != fx.parts[0].File || lt.Files[1] != fx.parts[1].File || lt.Status != "hash_mismatch" || lt.Rows != 150 {
			t.Errorf("listed %+v", lt)
		}
	}
}
