package codec_test

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/internal/typezoo"
)

// env is one DuckDB instance with two attached databases: src holds the zoo
// and dst is a fresh database that restores go into. One connection is used
// throughout so that USE sticks.
type env struct {
	db  *sql.DB
	dir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	e := &env{db: db, dir: dir}
	// v1.5.0 storage, or DuckDB refuses the zoo's VARIANT columns.
	for _, name := range []string{"src", "dst"} {
		e.exec(t, "ATTACH "+sqlq.Literal(filepath.Join(dir, name+".duckdb"))+" AS "+name+" (STORAGE_VERSION 'v1.5.0')")
	}
	e.exec(t, "USE src")
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%v\nSQL: %s", err, q)
	}
}

func (e *env) count(t *testing.T, q string) int64 {
	t.Helper()
	return testutil.Int64(t, e.db, q)
}

// backup writes one table of src to a zstd Parquet file as statsnap does.
func (e *env) backup(t *testing.T, tbl typezoo.Table, plans []codec.ColumnPlan) string {
	t.Helper()
	path := filepath.Join(e.dir, fmt.Sprintf("%s_%s.parquet", sanitize(tbl.Schema), sanitize(tbl.Name)))
	// The shapes of the VARIANTs stored as typed trees go into the plans
	// (the caller's slice), as backup records them in the manifest.
	if err := codec.PlanVariants(context.Background(), e.db, tbl.Schema, tbl.Name, plans); err != nil {
		t.Fatalf("plan VARIANTs: %v", err)
	}
	q := "COPY (SELECT " + codec.SelectList(plans) + " FROM src." + tbl.Qualified() + ") TO " + sqlq.Literal(path) +
		" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9, RETURN_STATS)"
	rows, err := e.db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("COPY: %v\nSQL: %s", err, q)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("COPY: %v\nSQL: %s", err, q)
	}
	rows.Close()
	return path
}

// restore recreates the table in dst from its original DDL and inserts the
// file's rows by column name through DecodeExpr.
func (e *env) restore(t *testing.T, tbl typezoo.Table, plans []codec.ColumnPlan, path string) {
	t.Helper()
	var ddl string
	if err := e.db.QueryRow("SELECT sql FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = ? AND table_name = ?",
		tbl.Schema, tbl.Name).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "USE dst")
	defer e.exec(t, "USE src")
	e.exec(t, "CREATE SCHEMA IF NOT EXISTS "+sqlq.Ident(tbl.Schema))
	e.exec(t, ddl)
	cols, sel, err := codec.InsertLists(plans)
	if err != nil {
		t.Fatal(err)
	}
	e.exec(t, "INSERT INTO dst."+tbl.Qualified()+" "+cols+" SELECT "+sel+" FROM read_parquet("+sqlq.Literal(path)+")")
}

// differences compares two tables as multisets of rows with EXCEPT ALL, both
// ways, twice: by the values themselves (DuckDB's =), and by every column
// cast to VARCHAR, because = is not exact for NaN, -0.0 or INTERVAL (1 month
// = 30 days). A VARIANT is compared by its Parquet Variant binary (which
// holds the type of each value), its text (which shows key order) and
// variant_typeof. It returns the first difference found, or "".
func (e *env) differences(t *testing.T, a, b string, plans []codec.ColumnPlan) string {
	t.Helper()
	var raw, text []string
	for _, p := range plans {
		c := sqlq.Ident(p.Name)
		text = append(text, "CAST("+c+" AS VARCHAR)")
		switch {
		case p.Type == "VARIANT":
			// Its Parquet Variant binary encodes the type of every value in
			// it; its text shows object key order.
			text = append(text, "variant_typeof("+c+")")
			raw = append(raw, `CAST(variant_to_parquet_variant(`+c+`) AS STRUCT("metadata" BLOB, "value" BLOB))`)
		case strings.Contains(p.Type, "VARIANT"):
			// EXCEPT ALL hashes, and DuckDB 1.5.6 hashes a VARIANT by its
			// internal layout: the same value can hash differently.
			raw = append(raw, "CAST("+c+" AS VARCHAR)")
		default:
			raw = append(raw, c)
		}
	}
	if n, m := e.count(t, "SELECT count(*) FROM "+a), e.count(t, "SELECT count(*) FROM "+b); n != m {
		return fmt.Sprintf("row counts differ: %d and %d", n, m)
	}
	proj := map[string]string{"rows": strings.Join(raw, ", "), "text": strings.Join(text, ", ")}
	for _, kind := range []string{"rows", "text"} {
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			q := "SELECT " + proj[kind] + " FROM " + pair[0] + " EXCEPT ALL SELECT " + proj[kind] + " FROM " + pair[1]
			if n := e.count(t, "SELECT count(*) FROM ("+q+")"); n != 0 {
				return fmt.Sprintf("%d %s in %s missing from %s (compared by %s)", n, plural(n, "row"), pair[0], pair[1], kind)
			}
		}
	}
	return ""
}

func plural(n int64, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// readWithArrow opens a Parquet file with arrow-go, as pyarrow would: it
// derives the Arrow schema and reads every row. It returns the schema.
func readWithArrow(t *testing.T, path string) string {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow-go: open %s: %v", path, err)
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow-go: reader: %v", err)
	}
	schema, err := fr.Schema()
	if err != nil {
		t.Fatalf("arrow-go: schema: %v", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow-go: read: %v", err)
	}
	defer tbl.Release()
	if tbl.NumRows() != r.NumRows() {
		t.Fatalf("arrow-go read %d rows, footer says %d", tbl.NumRows(), r.NumRows())
	}
	return schema.String()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// TestZooRoundTrip backs up every zoo table, reads each file with arrow-go,
// restores it into a fresh database and checks the rows are exactly the same.
// The files are then read by pyarrow and Polars where those are installed.
func TestZooRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := typezoo.Create(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	tables, err := typezoo.Created(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != len(typezoo.Tables) {
		t.Fatalf("zoo made %d of %d tables", len(tables), len(typezoo.Tables))
	}
	var files []string
	for _, tbl := range tables {
		t.Run(sanitize(tbl.Key()), func(t *testing.T) {
			plans, err := codec.PlanTable(ctx, e.db, tbl.Schema, tbl.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range plans {
				if !codec.Known(p.Encoding) {
					t.Fatalf("column %q: plan uses unknown encoding %q", p.Name, p.Encoding)
				}
			}
			path := e.backup(t, tbl, plans)
			files = append(files, path)
			schema := readWithArrow(t, path)
			if testing.Verbose() {
				t.Logf("%s\n%s", planSummary(plans), schema)
			}
			e.restore(t, tbl, plans, path)
			if d := e.differences(t, "src."+tbl.Qualified(), "dst."+tbl.Qualified(), plans); d != "" {
				t.Fatalf("restored table differs from the original: %s", d)
			}
		})
	}
	t.Run("pyarrow and polars", func(t *testing.T) { readWithPython(t, files) })
	t.Run("nodejs-polars", func(t *testing.T) { readWithNodePolars(t, files) })
}

func planSummary(plans []codec.ColumnPlan) string {
	var b strings.Builder
	for _, p := range plans {
		fmt.Fprintf(&b, "  %q %s -> %q", p.Name, p.Type, p.Encoding)
		if p.Generated {
			b.WriteString(" (generated)")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPlanZoo checks the plans that matter: the encodings chosen for the
// lossy types and the generated columns.
func TestPlanZoo(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := typezoo.Create(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"zoo_integers":  {"i64": "", "i128": "hugeint-text", "u64": "", "u128": "uhugeint-text"},
		"zoo_decimals":  {"d38": "", "big": "bignum-text"},
		"zoo_text":      {"v": "", "bits": "bit-text", "u": "", "j": "json-text"},
		"zoo_intervals": {"i": "interval-struct"},
		"zoo_times":     {"ttz": "timetz-text", "ts_s": "timestamp_s-micros", "ts_ms": "", "ts_ns": "", "tns": ""},
		"zoo_enums":     {"m": "", "e": "", "ml": ""},
		"zoo_nested":    {"l": "", "a": "", "m": "", "lsh": codec.EncodingNested, "su": codec.EncodingNested, "lbit": codec.EncodingNested},
		"zoo_unions":    {"u1": codec.EncodingUnion, "u3": codec.EncodingUnion},
		"zoo_geometry":  {"g": "geometry-wkb", "gc": "geometry-wkb"},
		"zoo_variant":   {"v": codec.EncodingVariant, "lv": codec.EncodingNestedV3, "sv": codec.EncodingNestedV3},
	}
	for table, cols := range want {
		plans, err := codec.PlanTable(ctx, e.db, "main", table)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range plans {
			got[p.Name] = p.Encoding
		}
		for c, enc := range cols {
			if got[c] != enc {
				t.Errorf("%s.%s: encoding %q, want %q", table, c, got[c], enc)
			}
		}
	}
	plans, err := codec.PlanTable(ctx, e.db, "main", "zoo_generated")
	if err != nil {
		t.Fatal(err)
	}
	var gen []string
	for _, p := range plans {
		if p.Generated {
			gen = append(gen, p.Name)
		}
	}
	if strings.Join(gen, ",") != "b,d" {
		t.Errorf("generated columns %v, want [b d]", gen)
	}
	if s := codec.SelectList(plans); strings.Contains(s, `"b"`) || strings.Contains(s, `"d"`) {
		t.Errorf("select list stores a generated column: %s", s)
	}
	if _, err := codec.PlanTable(ctx, e.db, "main", "no such table"); err == nil {
		t.Error("planning a missing table succeeded")
	}
}

// TestCompareCanFail shows that the round-trip check catches real losses:
// DuckDB's native encoding of HUGEINT (a DOUBLE) restored by a plain cast,
// and an INTERVAL of 30 days where there was 1 month (equal under =).
func TestCompareCanFail(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := typezoo.Create(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	tbl := typezoo.Table{Schema: "main", Name: "zoo_integers"}
	plans, err := codec.PlanTable(ctx, e.db, tbl.Schema, tbl.Name)
	if err != nil {
		t.Fatal(err)
	}
	// Write natively: every column as it is.
	path := filepath.Join(e.dir, "native.parquet")
	e.exec(t, "COPY (SELECT * FROM src."+tbl.Qualified()+") TO "+sqlq.Literal(path)+" (FORMAT parquet, COMPRESSION zstd)")
	var typ string
	if err := e.db.QueryRow("SELECT typeof(i128) FROM read_parquet(" + sqlq.Literal(path) + ") LIMIT 1").Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != "DOUBLE" {
		t.Logf("DuckDB now writes HUGEINT as %s", typ)
	}
	native := make([]codec.ColumnPlan, len(plans))
	copy(native, plans)
	for i := range native {
		native[i].Encoding = ""
	}
	restoreErr := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		e.exec(t, "USE dst")
		defer e.exec(t, "USE src")
		e.exec(t, "CREATE TABLE zoo_integers AS SELECT * FROM src.zoo_integers LIMIT 0")
		cols, sel, err := codec.InsertLists(native)
		if err != nil {
			return err
		}
		_, err = e.db.Exec("INSERT INTO dst.zoo_integers " + cols + " SELECT " + sel + " FROM read_parquet(" + sqlq.Literal(path) + ")")
		return err
	}()
	// A DOUBLE near the HUGEINT bounds does not even cast back; either way
	// the data is not what was backed up.
	if restoreErr == nil {
		if d := e.differences(t, "src.main.zoo_integers", "dst.main.zoo_integers", plans); d == "" {
			t.Fatal("native HUGEINT round trip compared equal: the check cannot fail")
		} else {
			t.Logf("native HUGEINT detected: %s", d)
		}
	} else {
		t.Logf("native HUGEINT does not even restore: %v", restoreErr)
	}
	// Same rows without the extreme values: the restore succeeds and only
	// the comparison can tell.
	e.exec(t, "CREATE TABLE src.main.mid AS SELECT id, i128 FROM src.zoo_integers WHERE id IN (3, 4, 5)")
	e.exec(t, "CREATE TABLE dst.main.mid AS SELECT id, CAST(CAST(i128 AS DOUBLE) AS HUGEINT) AS i128 FROM src.mid")
	midPlans := []codec.ColumnPlan{{Name: "id", Type: "INTEGER"}, {Name: "i128", Type: "HUGEINT"}}
	if d := e.differences(t, "src.main.mid", "dst.main.mid", midPlans); d == "" {
		t.Fatal("HUGEINT through DOUBLE compared equal")
	}

	e.exec(t, "CREATE TABLE src.main.iv AS SELECT INTERVAL '1 month' AS i")
	e.exec(t, "CREATE TABLE dst.main.iv AS SELECT INTERVAL '30 days' AS i")
	ivPlans := []codec.ColumnPlan{{Name: "i", Type: "INTERVAL"}}
	if n := e.count(t, "SELECT count(*) FROM (SELECT * FROM src.main.iv EXCEPT ALL SELECT * FROM dst.main.iv)"); n != 0 {
		t.Log("DuckDB no longer treats 1 month = 30 days")
	}
	if d := e.differences(t, "src.main.iv", "dst.main.iv", ivPlans); d == "" {
		t.Fatal("1 month and 30 days compared equal")
	}
}

// pythonReader reads every file given on the command line with pyarrow and
// Polars and fails on the first one either cannot read.
const pythonReader = `
import sys
import pyarrow.parquet as pq
import polars as pl
for path in sys.argv[1:]:
    t = pq.read_table(path)
    d = pl.read_parquet(path)
    if t.num_rows != d.height:
        sys.exit("%s: pyarrow read %d rows, polars %d" % (path, t.num_rows, d.height))
`

func readWithPython(t *testing.T, files []string) {
	if len(files) == 0 {
		t.Skip("no files")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if out, err := exec.Command(py, "-c", "import pyarrow, polars").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import pyarrow and polars (Debian 12 packages neither): %s", strings.TrimSpace(lastLine(string(out))))
	}
	out, err := exec.Command(py, append([]string{"-c", pythonReader}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow/polars: %v\n%s", err, out)
	}
}

// nodeReader reads every file with nodejs-polars, the Polars engine's
// Node.js binding, which stands in for Python's Polars where PyPI is out of
// reach. It fails on the first file it cannot read.
const nodeReader = `
const pl = require("nodejs-polars");
for (const f of process.argv.slice(1)) {
  let df;
  try { df = pl.readParquet(f); } catch (e) { console.error(f + ": " + e); process.exit(1); }
  if (typeof df.height !== "number") { console.error(f + ": no rows"); process.exit(1); }
}
`

func readWithNodePolars(t *testing.T, files []string) {
	if len(files) == 0 {
		t.Skip("no files")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	if out, err := exec.Command(node, "-e", `require("nodejs-polars")`).CombinedOutput(); err != nil {
		t.Skipf("node cannot load nodejs-polars (set NODE_PATH to a node_modules holding nodejs-polars and its linux binary): %s",
			strings.TrimSpace(firstLine(string(out))))
	}
	cmd := exec.Command(node, append([]string{"-e", nodeReader}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nodejs-polars: %v\n%s", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
