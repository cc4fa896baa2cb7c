package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/testutil"
)

// nestedVariants hold, inside VARIANT objects and lists, a value of every
// type the Parquet Variant binary lacks (INTERVAL, TIMETZ, BIT, BIGNUM,
// TIME_NS, TIMESTAMP_S, TIMESTAMP_MS, GEOMETRY, HUGEINT, UHUGEINT), with
// mixed lists, deep nesting, NULLs and plain values between them.
var nestedVariants = []string{
	"{'a': INTERVAL '1 day'}",
	"[1::HUGEINT << 70]",
	"{'i': INTERVAL '-1 month 2 days 00:00:01.000001', 't': '12:00:00-00:00:01'::TIMETZ, 'b': '010110'::BIT, " +
		"'n': '-123456789012345678901234567890123456789012345678901234567890'::BIGNUM, 'tn': '12:00:00.123456789'::TIME_NS, " +
		"'s': 'infinity'::TIMESTAMP_S, 'ms': '2020-02-29 23:59:59.999'::TIMESTAMP_MS, 'g': 'POINT(1 2)'::GEOMETRY, " +
		"'h': (-170141183460469231731687303715884105728)::HUGEINT, 'u': 340282366920938463463374607431768211455::UHUGEINT}",
	"[[INTERVAL '1 month', NULL], [], NULL]",
	"{'deep': {'er': {'still': [{'x': '01:02:03+04:05'::TIMETZ, 'y': NULL::INTEGER}, {'x': '00:00:00-15:59:59'::TIMETZ, 'y': 7}]}}}",
	"[INTERVAL '1 day'::VARIANT, 'x'::VARIANT, NULL::VARIANT, {'k': 1::UHUGEINT}::VARIANT, 2::UTINYINT::VARIANT]",
	"{'we\"ird k''ey': ['1'::BIT::VARIANT, '2020-01-01 00:00:01'::TIMESTAMP_S::VARIANT], 'e': '{}'::JSON::VARIANT, 'f': 'nan'::DOUBLE, 'z': '-0.0'::DOUBLE}",
	"['POLYGON((0 0, 1 0, 1 1, 0 0))'::GEOMETRY]",
	"{'n': 'a' || chr(0) || 'b', 'blob': '\\x00\\xFF'::BLOB, 'd': 1.50::DECIMAL(20,2), 'u': 255::UTINYINT, 'tn': ['00:00:00.000000001'::TIME_NS]}",
	"42",
	"NULL",
	"'{\"b\": [1, \"x\", null]}'::JSON",
	"INTERVAL '5 minutes'",
	"{'k': 2.5::DOUBLE}",
}

// nestedRows describes every VARIANT of tables vn and vn2 of the database
// at path, row by row (see testutil.VariantTree).
func nestedRows(t *testing.T, path string) []string {
	t.Helper()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	var out []string
	for _, table := range []string{"vn", "vn2"} {
		ids := testutil.Strings(t, conn, "SELECT CAST(id AS VARCHAR) FROM "+table+" ORDER BY id")
		for _, id := range ids {
			for _, col := range []string{"v", "l[1]", "l[2]", "s.v"} {
				out = append(out, table+" "+id+" "+col+" "+testutil.VariantTree(t, conn, table, "id = "+id, col))
			}
		}
	}
	return out
}

// catalogOf is every table's DDL and every column's type.
func catalogOf(t *testing.T, path string) []string {
	t.Helper()
	db, done := testutil.Conn(t, path, false)
	defer done()
	return append(testutil.Strings(t, db, "SELECT table_name || ': ' || sql FROM duckdb_tables() WHERE database_name = current_database() ORDER BY ALL"),
		testutil.Strings(t, db, "SELECT table_name || '.' || column_name || ' ' || data_type FROM duckdb_columns() WHERE database_name = current_database() ORDER BY ALL")...)
}

// TestVariantNested carries VARIANTs holding, inside objects and lists,
// values the Parquet Variant binary lacks, top level, in a VARIANT[] and in
// a STRUCT, through backup (the manifest lists their shapes), verify,
// verify --deep, restore into a new file and with --replace, an
// incremental backup that shares a file, its restore, and diff --rows:
// every value comes back with the same tree, key order, types and fields.
// What DuckDB 1.5.6 cannot rebuild is refused up front naming the table and
// the column, and --skip-table passes it.
func TestVariantNested(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data", "players", "vn", "stats.duckdb")
	variantDB(t, src,
		"CREATE TABLE vn (id INTEGER PRIMARY KEY, v VARIANT, l VARIANT[], s STRUCT(v VARIANT, n INTEGER))",
		"INSERT INTO vn (id, v) VALUES "+testutil.Numbered(nestedVariants),
		"UPDATE vn SET l = [NULL, v], s = {'v': v, 'n': id} WHERE id % 2 = 0",
		"CREATE TABLE vn2 AS SELECT * FROM vn WHERE id < 4")
	want := nestedRows(t, src)
	wantCatalog := catalogOf(t, src)
	if !strings.Contains(strings.Join(want, "\n"), `vn 0 v OBJECT(a)["a"]{"a": INTERVAL(1 day|0,1,0), }`) {
		t.Fatalf("the oracle does not see the nested INTERVAL: %q", want[:4])
	}

	const a, b = "20261101_030000", "20261108_030000"
	mustCLI(t, dir, "backup", "--gamertag", "vn", "--time", "2026-11-01T03:00:00Z")
	folder := filepath.Join(dir, "data", "backups", "vn")
	m := testutil.ReadManifest(t, folder, a)
	var encs []string
	for _, c := range m.Tables["vn"].Columns {
		encs = append(encs, c.Encoding)
	}
	if !reflect.DeepEqual(encs, []string{"", "variant-typed-v3", "nested-v3", "nested-v3"}) {
		t.Errorf("encodings %q", encs)
	}
	if shapes := m.Tables["vn"].Columns[1].VariantShapes; !strings.Contains(strings.Join(shapes, "\n"), `STRUCT("a" INTERVAL)`) {
		t.Errorf("the manifest's shapes of v: %q", shapes)
	}
	mustCLI(t, dir, "verify", "--backup", folder)
	mustCLI(t, dir, "verify", "--deep", "--backup", folder)

	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--gamertag", "vn", "--db", target)
	if got := nestedRows(t, target); !reflect.DeepEqual(got, want) {
		t.Errorf("restored rows differ:\n%s", firstDiff(got, want))
	}
	if got := catalogOf(t, target); !reflect.DeepEqual(got, wantCatalog) {
		t.Errorf("restored catalog differs:\n%s", firstDiff(got, wantCatalog))
	}
	// Over a changed copy, --replace brings back the same rows.
	testutil.WriteDB(t, target, "DELETE FROM vn WHERE id < 5; UPDATE vn2 SET v = {'a': '1 day'}")
	mustCLI(t, dir, "restore", "--gamertag", "vn", "--db", target, "--replace")
	if got := nestedRows(t, target); !reflect.DeepEqual(got, want) {
		t.Errorf("rows restored with --replace differ:\n%s", firstDiff(got, want))
	}

	// An incremental backup shares vn's unchanged file, and still lists
	// its shapes; vn2 gains a row.
	testutil.WriteDB(t, src, "INSERT INTO vn2 VALUES (100, [{'late': INTERVAL '7 days'}], NULL, NULL)")
	want = nestedRows(t, src)
	mustCLI(t, dir, "backup", "--gamertag", "vn", "--time", "2026-11-08T03:00:00Z")
	m2 := testutil.ReadManifest(t, folder, b)
	if m2.Tables["vn"].Files[0].File != m.Tables["vn"].Files[0].File {
		t.Errorf("vn's file is not shared: %s and %s", m.Tables["vn"].Files[0].File, m2.Tables["vn"].Files[0].File)
	}
	if !reflect.DeepEqual(m2.Tables["vn"].Columns, m.Tables["vn"].Columns) {
		t.Errorf("vn's columns changed: %+v", m2.Tables["vn"].Columns)
	}
	if shapes := m2.Tables["vn2"].Columns[1].VariantShapes; !strings.Contains(strings.Join(shapes, "\n"), `STRUCT("late" INTERVAL)[]`) {
		t.Errorf("vn2's shapes: %q", shapes)
	}
	mustCLI(t, dir, "verify", "--deep", "--backup", folder)
	target2 := filepath.Join(dir, "restored2.duckdb")
	mustCLI(t, dir, "restore", "--gamertag", "vn", "--db", target2)
	if got := nestedRows(t, target2); !reflect.DeepEqual(got, want) {
		t.Errorf("rows restored from the incremental snapshot differ:\n%s", firstDiff(got, want))
	}

	type rowsDoc struct {
		Rows struct {
			Added   int64 `json:"added_count"`
			Removed int64 `json:"removed_count"`
		} `json:"rows"`
	}
	for _, c := range []struct {
		args         []string
		added, gone  int64
		table, label string
	}{
		{[]string{a, b}, 1, 0, "vn2", "between the snapshots"},
		{[]string{a, b}, 0, 0, "vn", "between the snapshots (shared file)"},
		{[]string{b, "--gamertag", "vn"}, 0, 0, "vn", "against the live database"},
		{[]string{b, "--gamertag", "vn"}, 0, 0, "vn2", "against the live database"},
		{[]string{a, "--gamertag", "vn"}, 1, 0, "vn2", "the first snapshot against the live database"},
	} {
		var d rowsDoc
		args := append(append([]string{"diff", "--backup", folder}, c.args...), "--rows", c.table, "--json")
		r := mustCLI(t, dir, args...)
		if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || d.Rows.Added != c.added || d.Rows.Removed != c.gone {
			t.Errorf("diff --rows %s %s: %v %+v, want +%d -%d\n%s", c.table, c.label, err, d.Rows, c.added, c.gone, r.Stdout)
		}
	}

	// Too deep for the SQL restore can build: refused before anything is
	// written, naming the table, the column and why.
	deep := "[INTERVAL '1 day']"
	for range 11 {
		deep = "{'a': " + deep + "}"
	}
	testutil.WriteDB(t, src, "CREATE TABLE vdeep (v VARIANT); INSERT INTO vdeep VALUES ("+deep+")")
	r := cli(t, dir, "backup", "--gamertag", "vn")
	if r.Code != 1 || !strings.Contains(r.Stderr, `table vdeep cannot be carried: column "v": a VARIANT value nests objects and lists more than 10 levels deep`) ||
		!strings.Contains(r.Stderr, `--skip-table "vdeep"`) {
		t.Errorf("too deep: exit %d\n%s", r.Code, r.Stderr)
	}
	mustCLI(t, dir, "backup", "--gamertag", "vn", "--skip-table", "vdeep")
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []string) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return fmt.Sprintf(" got %s\nwant %s", got[i], want[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(got), len(want))
}
