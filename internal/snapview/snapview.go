// Package snapview reads a snapshot's tables as DuckDB relations over its
// Parquet files: the SELECT that turns a table's files back into its rows
// (values decoded through the manifest's column encodings, with the
// codec's own decode expressions), and a script of one view per table
// that a DuckDB user runs without statsnap.
//
// Manifests are untrusted: every identifier is quoted with sqlq, every
// type goes through the codec's type parser (which refuses what it does
// not know) and every file name must be a Parquet file name of a snapshot
// (snapshot.Classify) without characters that DuckDB would expand as a
// glob.
package snapview

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// ErrUnsafeFile is a file name from a manifest that snapview will not put
// into a read_parquet list.
var ErrUnsafeFile = errors.New("file name cannot be read safely")

// globChars are what DuckDB's read_parquet expands in a path. A snapshot
// never writes them (TableFileName keeps [A-Za-z0-9_.-]), so a manifest
// naming one was not written by statsnap.
const globChars = "*?[]{}"

// CheckFile refuses a name that is not a plain Parquet file name of a
// snapshot, or that read_parquet would take as a glob pattern.
func CheckFile(name string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeFile, err)
	}
	if k, _ := snapshot.Classify(name); k != snapshot.KindParquet {
		return fmt.Errorf("%w: %q is not a snapshot's Parquet file name", ErrUnsafeFile, name)
	}
	if strings.ContainsAny(name, globChars) {
		return fmt.Errorf("%w: %q holds a character read_parquet expands as a glob (%s)", ErrUnsafeFile, name, globChars)
	}
	return nil
}

// Files returns the names of the files holding a table's rows, in row
// order, each checked with CheckFile.
func Files(t *snapshot.Table) ([]string, error) {
	parts := t.DataFiles()
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if err := CheckFile(p.File); err != nil {
			return nil, err
		}
		out = append(out, p.File)
	}
	return out, nil
}

// ReadParquet returns read_parquet([...]) over paths, each quoted as a
// string literal. Paths must not hold glob characters (see CheckFile).
func ReadParquet(paths []string) string {
	lits := make([]string, len(paths))
	for i, p := range paths {
		lits[i] = sqlq.Literal(p)
	}
	return "read_parquet([" + strings.Join(lits, ", ") + "])"
}

// Column is one column of the relation Select returns.
type Column struct {
	Name string
	// Type is the declared DuckDB type, "" for a seed-made snapshot (the
	// type is then whatever DuckDB reads from the file).
	Type string
	// Encoding is the stored form the select decodes, "" when none.
	Encoding string
}

// Select returns the SELECT that reads a table's rows from paths (the
// table's files, in order, wherever they are) with every stored column
// decoded to its declared type, and the columns it yields. Generated
// columns are not stored, so they are not in it. A seed-made (legacy)
// entry records no columns: its select is every column as DuckDB reads
// it.
func Select(t *snapshot.Table, paths []string) (string, []Column, error) {
	if len(paths) == 0 {
		return "", nil, errors.New("snapview: no files")
	}
	from := ReadParquet(paths)
	if len(t.Columns) == 0 {
		return "SELECT * FROM " + from, nil, nil
	}
	var exprs []string
	var cols []Column
	for _, c := range t.Columns {
		if c.Generated {
			continue
		}
		if !codec.Known(c.Encoding) {
			return "", nil, fmt.Errorf("column %q: unknown encoding %q; upgrade statsnap to read this snapshot", c.Name, c.Encoding)
		}
		e, err := codec.DecodeItem(codec.ColumnPlan{Name: c.Name, Type: c.Type, Encoding: c.Encoding, Shapes: c.VariantShapes})
		if err != nil {
			return "", nil, err
		}
		exprs = append(exprs, e)
		cols = append(cols, Column{Name: c.Name, Type: c.Type, Encoding: c.Encoding})
	}
	if len(exprs) == 0 {
		return "", nil, errors.New("snapview: the table has no stored column")
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + from, cols, nil
}
