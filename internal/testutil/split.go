package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// SplitTable rewrites snapshot id of the player folder dir so that table
// key is held by two files, as an incremental backup writes them: its
// first `first` rows stay in {table}_{id}.parquet, the others move to
// {table}_{id}.1.parquet, in order. The manifest gets the format 2 files
// list (rowid ranges as the rows' positions) and is marshalled again, so
// its checksum holds (and its MAC, with key).
func SplitTable(t testing.TB, dir, id, key string, first int64, mac []byte) {
	t.Helper()
	m := ReadManifest(t, dir, id)
	e, ok := m.Tables[key]
	if !ok {
		t.Fatalf("snapshot %s has no table %q", id, key)
	}
	if n := len(e.DataFiles()); n != 1 {
		t.Fatalf("split %s: it is already held by %d files", key, n)
	}
	if first <= 0 || first >= e.Rows {
		t.Fatalf("split %s at %d: it has %d rows", key, first, e.Rows)
	}
	src := filepath.Join(dir, e.File)
	name := e.File
	own := true
	if _, by := snapshot.Classify(e.File); by != id {
		// The table shares an earlier snapshot's file (an incremental
		// backup): that file stays as it is, the split files are new.
		own = false
		name = snapshot.TableFileName(key, id, map[string]bool{})
	} else {
		src = src + ".whole"
		if err := os.Rename(filepath.Join(dir, e.File), src); err != nil {
			t.Fatal(err)
		}
	}
	second := snapshot.PartFileName(name, 1)
	db := OpenDB(t, ":memory:", true)
	from := "read_parquet(" + sqlq.Literal(src) + ", file_row_number = true)"
	for _, q := range []string{
		fmt.Sprintf("COPY (SELECT * EXCLUDE (file_row_number) FROM %s WHERE file_row_number < %d ORDER BY file_row_number) TO %s (FORMAT parquet, COMPRESSION zstd)", from, first, sqlq.Literal(filepath.Join(dir, name))),
		fmt.Sprintf("COPY (SELECT * EXCLUDE (file_row_number) FROM %s WHERE file_row_number >= %d ORDER BY file_row_number) TO %s (FORMAT parquet, COMPRESSION zstd)", from, first, sqlq.Literal(filepath.Join(dir, second))),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if own {
		if err := os.Remove(src); err != nil {
			t.Fatal(err)
		}
	}
	part := func(name string, lo, hi int64) snapshot.Part {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return snapshot.Part{File: name, Rows: hi - lo, FileSizeBytes: fi.Size(), BLAKE3: FileBLAKE3(t, filepath.Join(dir, name)), RowidLo: lo, RowidHi: hi}
	}
	e.Files = []snapshot.Part{part(name, 0, first), part(second, first, e.Rows)}
	e.File, e.BLAKE3 = name, e.Files[0].BLAKE3
	e.FileSizeBytes = e.Files[0].FileSizeBytes + e.Files[1].FileSizeBytes
	total(m)
	WriteManifest(t, dir, m, mac)
}

// total makes the manifest's total size the sum of its tables'.
func total(m *snapshot.Manifest) {
	m.TotalSizeBytes = 0
	for _, e := range m.Tables {
		m.TotalSizeBytes += e.FileSizeBytes
	}
}

// ShareTable rewrites snapshot id so that table key names the files of
// the same table in snapshot earlier instead of its own, which it
// deletes: what an incremental backup does for a table proven unchanged.
func ShareTable(t testing.TB, dir, id, earlier, key string, mac []byte) {
	t.Helper()
	m := ReadManifest(t, dir, id)
	old := ReadManifest(t, dir, earlier)
	e, prev := m.Tables[key], old.Tables[key]
	if e == nil || prev == nil {
		t.Fatalf("table %q is not in both %s and %s", key, id, earlier)
	}
	keep := map[string]bool{}
	for _, p := range prev.DataFiles() {
		keep[p.File] = true
	}
	for _, p := range e.DataFiles() {
		// Only id's own files: one an earlier snapshot wrote (shared
		// already) belongs to that snapshot too.
		if _, by := snapshot.Classify(p.File); by == id && !keep[p.File] {
			if err := os.Remove(filepath.Join(dir, p.File)); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.Files = append([]snapshot.Part(nil), prev.DataFiles()...)
	if len(prev.Files) == 0 {
		e.Files[0].RowidHi = prev.Rows
	}
	e.File, e.BLAKE3, e.FileSizeBytes, e.Rows = e.Files[0].File, e.Files[0].BLAKE3, prev.FileSizeBytes, prev.Rows
	e.Fingerprint = prev.Fingerprint
	total(m)
	WriteManifest(t, dir, m, mac)
}
