// Package diff says what changed between two snapshots of a player, or
// between a snapshot and the live database: tables added, removed and
// changed with their row counts, and the database objects (schemas, types,
// sequences, indexes, views, macros, comments) that differ. It never
// prints: the command renders its Report.
//
// Compare answers from the manifests alone, reading no data: a table is
// unchanged when the two sides prove it (the same fingerprint over every
// row, or the same file bytes), changed when they prove the opposite, and
// unknown when they record too little to tell (a seed-made snapshot whose
// row counts agree); Rows then compares the rows themselves.
package diff

import (
	"sort"

	"github.com/openspartan/statsnap/snapshot"
)

// Change is what became of a table or an object between A and B.
type Change string

// The changes of a table or an object.
const (
	Added     Change = "added"
	Removed   Change = "removed"
	Changed   Change = "changed"
	Unchanged Change = "unchanged"
	// Unknown: the manifests do not tell whether the rows changed (the
	// row counts agree but nothing proves the values do); diff --rows
	// reads them.
	Unknown Change = "unknown"
)

// Data says whether a table's rows changed.
type Data string

// The verdicts on a table's rows.
const (
	DataChanged   Data = "changed"
	DataUnchanged Data = "unchanged"
	DataUnknown   Data = "unknown"
)

// Basis is what a verdict on rows rests on.
type Basis string

// The bases of a verdict.
const (
	// BasisFingerprint: both sides record a fingerprint over every value
	// of every row, computed the same way (same DuckDB version, same
	// columns).
	BasisFingerprint Basis = "fingerprint"
	// BasisFiles: both sides name files with the same BLAKE3 hashes, in
	// the same order, under the same column encodings: the same bytes.
	BasisFiles Basis = "files"
	// BasisRows: the row counts differ.
	BasisRows Basis = "rows"
	// BasisNone: nothing proves either way.
	BasisNone Basis = "none"
)

// Side is one end of a comparison, described as a manifest: a snapshot's
// own, or the live database read into one (Live).
type Side struct {
	// Label is the snapshot id, or "live".
	Label    string
	Manifest *snapshot.Manifest
	// Live marks the database itself: its tables carry row counts and,
	// where computed, fingerprints, but no files.
	Live bool
}

// Report is the difference between A and B.
type Report struct {
	A         string       `json:"a"`
	B         string       `json:"b"`
	Tables    []TableDiff  `json:"tables"`    // every table that is not proven unchanged
	Unchanged []string     `json:"unchanged"` // the tables proven unchanged
	Objects   []ObjectDiff `json:"objects"`   // only the objects that differ
}

// Same reports whether nothing differs: every table proven unchanged and
// no object differs.
func (r *Report) Same() bool { return len(r.Tables) == 0 && len(r.Objects) == 0 }

// TableDiff is one table's difference.
type TableDiff struct {
	Table  string `json:"table"`
	Change Change `json:"change"`
	// RowsBefore and RowsAfter are A's and B's counts (absent on the side
	// that lacks the table).
	RowsBefore *int64 `json:"rows_before,omitempty"`
	RowsAfter  *int64 `json:"rows_after,omitempty"`
	RowsDelta  int64  `json:"rows_delta"`
	// SchemaChanged: the table's DDL or its columns (names, types,
	// generated) differ. SchemaOnly: they do and the rows are proven the
	// same.
	SchemaChanged bool     `json:"schema_changed"`
	SchemaOnly    bool     `json:"schema_only"`
	Columns       []string `json:"columns_changed,omitempty"` // columns added, removed or retyped
	Data          Data     `json:"data"`
	Basis         Basis    `json:"basis"`
}

// Compare compares A and B from their manifests, reading no data.
func Compare(a, b Side) *Report {
	r := &Report{A: a.Label, B: b.Label, Tables: []TableDiff{}, Unchanged: []string{}, Objects: []ObjectDiff{}}
	keys := map[string]bool{}
	for k := range a.Manifest.Tables {
		keys[k] = true
	}
	for k := range b.Manifest.Tables {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		d := compareTable(k, a, b)
		if d.Change == Unchanged {
			r.Unchanged = append(r.Unchanged, k)
			continue
		}
		r.Tables = append(r.Tables, d)
	}
	r.Objects = compareObjects(a.Manifest, b.Manifest)
	return r
}

func compareTable(key string, a, b Side) TableDiff {
	ta, tb := a.Manifest.Tables[key], b.Manifest.Tables[key]
	d := TableDiff{Table: key, Data: DataUnknown, Basis: BasisNone}
	if ta != nil {
		n := ta.Rows
		d.RowsBefore = &n
	}
	if tb != nil {
		n := tb.Rows
		d.RowsAfter = &n
	}
	switch {
	case ta == nil:
		d.Change, d.RowsDelta = Added, tb.Rows
		return d
	case tb == nil:
		d.Change, d.RowsDelta = Removed, -ta.Rows
		return d
	}
	d.RowsDelta = tb.Rows - ta.Rows
	d.Columns = columnChanges(ta, tb)
	d.SchemaChanged = len(d.Columns) > 0 || ta.CreateSQL != tb.CreateSQL
	d.Data, d.Basis = compareRows(a, b, ta, tb)
	switch {
	case d.Data == DataChanged || (d.SchemaChanged && d.Data == DataUnchanged):
		d.Change = Changed
	case d.SchemaChanged:
		// The DDL changed and nothing says whether the rows did.
		d.Change = Changed
	case d.Data == DataUnchanged:
		d.Change = Unchanged
	default:
		d.Change = Unknown
	}
	d.SchemaOnly = d.SchemaChanged && d.Data == DataUnchanged
	return d
}

// compareRows decides whether a table's rows changed, from what the two
// entries record.
func compareRows(a, b Side, ta, tb *snapshot.Table) (Data, Basis) {
	if ta.Rows != tb.Rows {
		return DataChanged, BasisRows
	}
	if sameFiles(a, b, ta, tb) {
		return DataUnchanged, BasisFiles
	}
	if ta.Fingerprint != "" && tb.Fingerprint != "" && fingerprintsComparable(a, b, ta, tb) {
		if ta.Fingerprint == tb.Fingerprint {
			return DataUnchanged, BasisFingerprint
		}
		return DataChanged, BasisFingerprint
	}
	return DataUnknown, BasisNone
}

// sameFiles: both entries name the same bytes (every file's BLAKE3, in
// order) stored under the same column encodings, so they hold the same
// rows. Seed-made manifests record no hashes and never qualify.
func sameFiles(a, b Side, ta, tb *snapshot.Table) bool {
	if a.Live || b.Live || ta.BLAKE3 == "" || tb.BLAKE3 == "" {
		return false
	}
	pa, pb := ta.DataFiles(), tb.DataFiles()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i].BLAKE3 == "" || pa[i].BLAKE3 != pb[i].BLAKE3 || pa[i].Rows != pb[i].Rows {
			return false
		}
	}
	if len(ta.Columns) != len(tb.Columns) {
		return false
	}
	for i := range ta.Columns {
		if !sameColumn(ta.Columns[i], tb.Columns[i]) {
			return false
		}
	}
	return true
}

// fingerprintsComparable: the two fingerprints hash the same typed values
// the same way. The fingerprint is DuckDB's hash of each row's values, so
// it is comparable when the DuckDB versions and the columns (names and
// types, in order) are the same; the shape also covers the compression
// level and the encodings, which change the files but not the hash.
func fingerprintsComparable(a, b Side, ta, tb *snapshot.Table) bool {
	if ta.FingerprintConstruction() != tb.FingerprintConstruction() {
		return false
	}
	if ta.Shape != "" && ta.Shape == tb.Shape {
		return true
	}
	if a.Manifest.DuckDBVersion == "" || a.Manifest.DuckDBVersion != b.Manifest.DuckDBVersion {
		return false
	}
	if len(ta.Columns) == 0 || len(ta.Columns) != len(tb.Columns) {
		return false
	}
	for i := range ta.Columns {
		ca, cb := ta.Columns[i], tb.Columns[i]
		if ca.Name != cb.Name || ca.Type != cb.Type || ca.Generated != cb.Generated {
			return false
		}
	}
	return true
}

// columnChanges names the columns added, removed or changed in type, in
// B's order then A's. A seed-made entry records no columns: nothing can
// be said, and nothing is reported.
func columnChanges(ta, tb *snapshot.Table) []string {
	if len(ta.Columns) == 0 || len(tb.Columns) == 0 {
		return nil
	}
	before := map[string]snapshot.Column{}
	for _, c := range ta.Columns {
		before[c.Name] = c
	}
	var out []string
	after := map[string]bool{}
	for _, c := range tb.Columns {
		after[c.Name] = true
		old, ok := before[c.Name]
		switch {
		case !ok:
			out = append(out, "+"+c.Name)
		case old.Type != c.Type || old.Generated != c.Generated:
			out = append(out, "~"+c.Name)
		}
	}
	for _, c := range ta.Columns {
		if !after[c.Name] {
			out = append(out, "-"+c.Name)
		}
	}
	if out == nil && !sameOrder(ta.Columns, tb.Columns) {
		out = append(out, "(column order)")
	}
	return out
}

func sameOrder(a, b []snapshot.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}
