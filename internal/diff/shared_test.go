package diff_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/diff"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

func part(file, sum string, rows int64) snapshot.Part {
	return snapshot.Part{File: file, BLAKE3: sum, Rows: rows, FileSizeBytes: rows * 10}
}

func TestSharedParts(t *testing.T) {
	cols := []snapshot.Column{{Name: "id", Type: "BIGINT"}}
	h := func(c byte) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c
		}
		return string(b)
	}
	table := func(ps ...snapshot.Part) *snapshot.Table {
		return &snapshot.Table{Files: ps, File: ps[0].File, BLAKE3: ps[0].BLAKE3, Columns: cols}
	}
	a := table(part("t_20261101_030000.parquet", h('1'), 2048), part("t_20261101_030000.1.parquet", h('2'), 100))
	// B shares A's first file, rewrote its tail and appended.
	b := table(part("t_20261101_030000.parquet", h('1'), 2048), part("t_20261108_030000.parquet", h('3'), 130))
	pa, pb, n := diff.SharedParts(a, b)
	if n != 1 || len(pa) != 1 || pa[0].BLAKE3 != h('2') || len(pb) != 1 || pb[0].BLAKE3 != h('3') {
		t.Errorf("tail rewritten: %v %v %d", pa, pb, n)
	}
	// Everything shared: the smallest file is kept on both sides.
	pa, pb, n = diff.SharedParts(a, a)
	if n != 1 || len(pa) != 1 || len(pb) != 1 || pa[0].BLAKE3 != h('2') || pb[0].BLAKE3 != h('2') {
		t.Errorf("all shared: %v %v %d", pa, pb, n)
	}
	// The same bytes under other encodings are not the same rows.
	c := table(b.Files...)
	c.Columns = []snapshot.Column{{Name: "id", Type: "HUGEINT", Encoding: "hugeint-text"}}
	if pa, pb, n = diff.SharedParts(a, c); n != 0 || len(pa) != 2 || len(pb) != 2 {
		t.Errorf("other encodings: %v %v %d", pa, pb, n)
	}
	// Two files with the same bytes on one side, one on the other: one
	// pair cancels, as multisets do.
	d := table(part("t_20261101_030000.parquet", h('1'), 5), part("t_20261101_030000.1.parquet", h('1'), 5))
	e := table(part("t_20261108_030000.parquet", h('1'), 5))
	if pa, pb, n = diff.SharedParts(d, e); n != 1 || len(pa) != 1 || len(pb) != 0 {
		t.Errorf("duplicate bytes: %v %v %d", pa, pb, n)
	}
	// Seed-made entries record no hashes: nothing is shared.
	l := &snapshot.Table{File: "t_20261101_030000.parquet", Rows: 5}
	if _, _, n = diff.SharedParts(l, l); n != 0 {
		t.Errorf("legacy: %d shared", n)
	}
}

// A later snapshot that names the earlier one's file for the rows that
// did not change, plus a file of its own for the new ones: --rows reads
// only the new file, and finds the new rows.
func TestRowsReadOnlyUnsharedFiles(t *testing.T) {
	f := newFixture(t)
	dir := f.folder.Location()
	old := f.a.Manifest.Tables["grows"]
	cur := f.b.Manifest.Tables["grows"]
	m := testutil.ReadManifest(t, dir, f.b.ID)
	// b's rows after a's 50, in a file of b's own.
	tail := snapshot.PartFileName(cur.File, 1)
	db := testutil.OpenDB(t, ":memory:", true)
	if _, err := db.Exec("COPY (SELECT * FROM read_parquet(" + sqlq.Literal(filepath.Join(dir, cur.File)) + ") OFFSET 50) TO " +
		sqlq.Literal(filepath.Join(dir, tail)) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, cur.File)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, tail))
	if err != nil {
		t.Fatal(err)
	}
	first := old.DataFiles()[0]
	first.RowidLo, first.RowidHi = 0, 50
	e := m.Tables["grows"]
	e.Files = []snapshot.Part{first, {File: tail, Rows: 3, FileSizeBytes: fi.Size(), BLAKE3: testutil.FileBLAKE3(t, filepath.Join(dir, tail)), RowidLo: 50, RowidHi: 53}}
	e.File, e.BLAKE3, e.FileSizeBytes = first.File, first.BLAKE3, first.FileSizeBytes+fi.Size()
	testutil.WriteManifest(t, dir, m, nil)
	f.rescan(t)

	ta, tb := f.a.Manifest.Tables["grows"], f.b.Manifest.Tables["grows"]
	pa, pb, n := diff.SharedParts(ta, tb)
	if n != 1 || len(pa) != 0 || len(pb) != 1 || pb[0].File != tail {
		t.Fatalf("shared parts: %v %v %d", pa, pb, n)
	}
	// Only the new file is verified and copied; the shared one is not
	// even opened (its damage would not matter to the rows compared).
	testutil.FlipByte(t, filepath.Join(dir, first.File))
	work := t.TempDir()
	paths, res, err := diff.CheckParts(context.Background(), f.folder, f.b, f.entries, []string{"grows"}, map[string][]snapshot.Part{"grows": pb}, work, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].File != tail || len(paths["grows"]) != 1 {
		t.Fatalf("checked %+v, copies %v", res.Files, paths)
	}
	rb, err := diff.FilesRelation("b", tb, paths["grows"])
	if err != nil {
		t.Fatal(err)
	}
	ra := diff.Relation{Label: "a", SQL: "SELECT * FROM (" + rb.SQL + ") WHERE false"}
	r, err := diff.Rows(context.Background(), memConn(t), "grows", ra, rb, diff.RowsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.AddedCount != 3 || r.RemovedCount != 0 {
		t.Errorf("rows: %+v", r)
	}
	// A subset that is not the table's own files is refused.
	bogus := []snapshot.Part{{File: tail, Rows: 1}}
	if _, _, err := diff.CheckParts(context.Background(), f.folder, f.b, f.entries, []string{"grows"}, map[string][]snapshot.Part{"grows": bogus}, t.TempDir(), verify.Options{}); err == nil {
		t.Error("CheckParts accepted a part the table does not list")
	}
}
