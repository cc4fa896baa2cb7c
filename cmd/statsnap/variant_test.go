package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/testutil"
)

// variantValues are VARIANTs whose whole value is of a type the Parquet
// Variant binary lacks, between NULLs and values of the other branches.
var variantValues = []string{
	"INTERVAL '-1 month 2 days 00:00:01.000001'",
	"'12:00:00-00:00:01'::TIMETZ",
	"'010110'::BIT",
	"'-123456789012345678901234567890123456789012345678901234567890'::BIGNUM",
	"'12:00:00.123456789'::TIME_NS",
	"'infinity'::TIMESTAMP_S",
	"'2020-02-29 23:59:59'::TIMESTAMP_S",
	"'2020-02-29 23:59:59.999'::TIMESTAMP_MS",
	"'POINT(1 2)'::GEOMETRY",
	"170141183460469231731687303715884105727::HUGEINT",
	"340282366920938463463374607431768211455::UHUGEINT",
	"18446744073709551615::UBIGINT",
	"NULL",
	"'{\"b\": [1, \"x\", null]}'::JSON",
	"{'k': 2.5::DOUBLE}",
}

// variantRows describes every row of the table vt: its VARIANT v and
// each element of its VARIANT[] l, exactly (see testutil.VariantTree).
func variantRows(t *testing.T, path string) []string {
	t.Helper()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	var out []string
	for _, row := range testutil.Strings(t, conn, "SELECT CAST(id AS VARCHAR) || ' ' || coalesce(CAST(len(l) AS VARCHAR), 'NULL') FROM vt ORDER BY id") {
		id, n, _ := strings.Cut(row, " ")
		where := "id = " + id
		line := id + " " + testutil.VariantTree(t, conn, "vt", where, "v") + " l "
		if n == "NULL" {
			out = append(out, line+"NULL")
			continue
		}
		var k int
		if _, err := fmt.Sscan(n, &k); err != nil {
			t.Fatal(err)
		}
		var elems []string
		for i := 1; i <= k; i++ {
			elems = append(elems, testutil.VariantTree(t, conn, "vt", where, fmt.Sprintf("l[%d]", i)))
		}
		out = append(out, line+"["+strings.Join(elems, "; ")+"]")
	}
	return out
}

// variantDB makes the database at src (and its folder) with statements,
// in the storage version that stores VARIANT (1.5.0).
func variantDB(t *testing.T, src string, stmts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteDBWith(t, src, dbfile.Options{StorageVersion: "v1.5.0"}, stmts...)
}

// TestVariantTypedValues carries VARIANTs holding an INTERVAL, TIMETZ,
// BIT, BIGNUM, TIME_NS, TIMESTAMP_S, TIMESTAMP_MS, GEOMETRY, HUGEINT,
// UHUGEINT or UBIGINT, top level and as elements of a VARIANT[] column,
// with NULLs and JSON-made values, through backup, verify --deep, restore
// and diff --rows: every value comes back with the same type and fields.
// Such values nested inside a VARIANT's own object or list are
// TestVariantNested's.
func TestVariantTypedValues(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data", "players", "var", "stats.duckdb")
	variantDB(t, src,
		"CREATE TABLE vt (id INTEGER PRIMARY KEY, v VARIANT, l VARIANT[])",
		"INSERT INTO vt (id, v) VALUES "+testutil.Numbered(variantValues),
		"UPDATE vt SET l = [v, NULL, v] WHERE id % 2 = 0")
	want := variantRows(t, src)
	if len(want) != len(variantValues) || !strings.Contains(strings.Join(want, "\n"), "0 INTERVAL(-1 month 2 days 00:00:01.000001|-1,2,1000001) l [") {
		t.Fatalf("source rows %q", want)
	}

	var doc backupJSONDoc
	jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "var", "--json"), &doc)
	p, _ := readManifest(t, filepath.Join(dir, doc.Snapshots[0].Manifest))
	var encs []string
	for _, c := range p.Tables["vt"].Columns {
		encs = append(encs, c.Encoding)
	}
	if !reflect.DeepEqual(encs, []string{"", "variant-typed-v3", "nested-v3"}) {
		t.Errorf("encodings %q", encs)
	}
	folder := filepath.Join(dir, "data", "backups", "var")
	mustCLI(t, dir, "verify", "--deep", "--backup", folder)
	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--gamertag", "var", "--db", target)
	if got := variantRows(t, target); !reflect.DeepEqual(got, want) {
		t.Errorf("restored rows differ:\n got %q\nwant %q", got, want)
	}
	// diff decodes the snapshot's values as restore does: against the
	// live database, nothing changed.
	r := mustCLI(t, dir, "diff", "--backup", folder, doc.Snapshots[0].Snapshot, "--gamertag", "var", "--rows", "vt", "--json")
	var d struct {
		Rows struct {
			Added   int64 `json:"added_count"`
			Removed int64 `json:"removed_count"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || d.Rows.Added != 0 || d.Rows.Removed != 0 {
		t.Errorf("diff --rows: %v\n%s", err, r.Stdout)
	}
}
