package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// ReadManifest reads and parses the manifest of snapshot id in dir.
func ReadManifest(t testing.TB, dir, id string) *snapshot.Manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, snapshot.ManifestName(id)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := snapshot.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p.Manifest
}

// WriteManifest writes m as the manifest of its snapshot in dir, with a
// fresh checksum (and a MAC when key is not nil). What it writes must
// parse: a helper that shares or splits files must not make a manifest
// the tests then read as corrupt.
func WriteManifest(t testing.TB, dir string, m *snapshot.Manifest, key []byte) {
	t.Helper()
	data, err := snapshot.Marshal(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.ParseManifest(data); err != nil {
		t.Fatalf("the rewritten manifest does not parse: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshot.ManifestName(m.BackupTimestamp)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ShareRows rewrites the manifest of snapshot later, in the local folder
// dir, as an incremental backup writes it when table key only gained rows
// since snapshot earlier: the table is then held by every file earlier
// names for it, in order, followed (when it has more rows now) by one new
// file of later holding the rows after them, written by DuckDB from
// later's own file. later's own files for the table are deleted; key
// signs the new manifest when not nil. It returns the table's new parts.
// Both snapshots must be statsnap's, of the same table.
func ShareRows(t testing.TB, dir, earlier, later, table string, key []byte) []snapshot.Part {
	t.Helper()
	em, lm := ReadManifest(t, dir, earlier), ReadManifest(t, dir, later)
	et, lt := em.Tables[table], lm.Tables[table]
	if et == nil || lt == nil {
		t.Fatalf("table %s is not in both snapshots %s and %s", table, earlier, later)
	}
	var parts []snapshot.Part
	var rows, hi int64
	for _, p := range et.DataFiles() {
		if len(et.Files) == 0 {
			p.RowidLo, p.RowidHi = 0, p.Rows
		}
		parts = append(parts, p)
		rows += p.Rows
		hi = p.RowidHi
	}
	if lt.Rows < rows {
		t.Fatalf("table %s has %d rows in %s, fewer than the %d of %s", table, lt.Rows, later, rows, earlier)
	}
	old := lt.DataFiles()
	if lt.Rows > rows {
		first := lt.File
		if _, id := snapshot.Classify(first); id != later {
			first = snapshot.TableFileName(table, later, map[string]bool{})
		}
		name := snapshot.PartFileName(first, 1)
		path := filepath.Join(dir, name)
		var lits []string
		for _, p := range old {
			lits = append(lits, sqlq.Literal(filepath.Join(dir, p.File)))
		}
		db := OpenDB(t, ":memory:", true)
		q := "COPY (SELECT * FROM read_parquet([" + strings.Join(lits, ", ") + "]) OFFSET " + strconv.FormatInt(rows, 10) + ") TO " +
			sqlq.Literal(path) + " (FORMAT parquet, COMPRESSION zstd)"
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		n := lt.Rows - rows
		parts = append(parts, snapshot.Part{File: name, Rows: n, FileSizeBytes: fi.Size(), BLAKE3: FileBLAKE3(t, path),
			RowidLo: hi, RowidHi: hi + n})
	}
	keep := map[string]bool{}
	for _, p := range parts {
		keep[p.File] = true
	}
	for _, p := range old {
		if _, id := snapshot.Classify(p.File); id == later && !keep[p.File] {
			if err := os.Remove(filepath.Join(dir, p.File)); err != nil {
				t.Fatal(err)
			}
		}
	}
	SetParts(lm, table, parts)
	WriteManifest(t, dir, lm, key)
	return parts
}

// SetParts makes parts the files of table in m, with the members that
// sum or repeat them (the first file, the table's size, the total size)
// to match, and m a format 2 manifest.
func SetParts(m *snapshot.Manifest, table string, parts []snapshot.Part) {
	t := m.Tables[table]
	t.Files = parts
	t.File, t.BLAKE3 = parts[0].File, parts[0].BLAKE3
	t.FileSizeBytes = 0
	for _, p := range parts {
		t.FileSizeBytes += p.FileSizeBytes
	}
	m.FormatVersion = snapshot.FormatVersion
	m.TotalSizeBytes = 0
	for _, t := range m.Tables {
		m.TotalSizeBytes += t.FileSizeBytes
	}
}
