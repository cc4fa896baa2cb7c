package codec_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/internal/typezoo"
)

// NestedVariantValues are VARIANTs that hold, inside an object or a list,
// values the Parquet Variant binary cannot: every such type, in objects,
// lists, lists of objects, lists whose elements differ, deep nesting, odd
// keys and exact leaves (NaN, -0.0, infinities, NUL bytes), between plain
// values and NULLs. cmd/statsnap's test uses them too (exported through
// this file's copy there).
var nestedVariantValues = []string{
	"{'a': INTERVAL '1 day'}",
	"[1::HUGEINT << 70]",
	"{'i': INTERVAL '-1 month 2 days 00:00:01.000001', 't': '12:00:00-00:00:01'::TIMETZ, 'b': '010110'::BIT, " +
		"'n': '-123456789012345678901234567890123456789012345678901234567890'::BIGNUM, 'tn': '12:00:00.123456789'::TIME_NS, " +
		"'s': '2020-02-29 23:59:59'::TIMESTAMP_S, 'ms': '2020-02-29 23:59:59.999'::TIMESTAMP_MS, 'g': 'POINT(1 2)'::GEOMETRY, " +
		"'h': 170141183460469231731687303715884105727::HUGEINT, 'u': 340282366920938463463374607431768211455::UHUGEINT}",
	"[INTERVAL '1 month', INTERVAL '-25 hours']",
	"['12:00:00+01'::TIMETZ, '00:00:00-15:59:59'::TIMETZ]",
	"['1'::BIT, '000111'::BIT]",
	"[(-1606938044258990275541962092341162602522202993782792835301376)::BIGNUM]",
	"['23:59:59.999999999'::TIME_NS]",
	"['infinity'::TIMESTAMP_S, '-infinity'::TIMESTAMP_S, '1970-01-01 00:00:01'::TIMESTAMP_S]",
	"['1999-12-31 23:59:59.001'::TIMESTAMP_MS]",
	"['POLYGON((0 0, 1 0, 1 1, 0 0))'::GEOMETRY, 'POINT(1 2)'::GEOMETRY]",
	"[(-170141183460469231731687303715884105728)::HUGEINT, 0::HUGEINT]",
	"[340282366920938463463374607431768211455::UHUGEINT]",
	"{'z': 1::UTINYINT, 'a': {'deep': [{'x': INTERVAL '1 hour', 'y': NULL::INTEGER}, {'x': INTERVAL '2 hours', 'y': 7}]}, 'e': '{}'::JSON::VARIANT, 'l': []::INTEGER[]}",
	"[INTERVAL '1 day'::VARIANT, 'x'::VARIANT, NULL::VARIANT, {'k': 1::HUGEINT << 70}::VARIANT, 2::UTINYINT::VARIANT, {'k': 'other'}::VARIANT]",
	"{'a': {'b': {'c': {'d': {'e': {'f': {'g': {'h': {'i': [INTERVAL '3 days']}}}}}}}}}",
	"{'we\"ird k''ey é': INTERVAL '2 days', 'UPPER': 1, 'sp ace': [NULL, '1'::BIT]}",
	"{'nan': 'nan'::DOUBLE, 'neg0': '-0.0'::DOUBLE, 'f': 0.1::FLOAT, 'd': 1.50::DECIMAL(20,2), 'd38': 1.5::DECIMAL(38,10), 'i': INTERVAL '1 second'}",
	"{'blob': '\\x00\\xFF'::BLOB, 'nul': 'a' || chr(0) || 'b', 'uuid': '8e0f5a7a-1d3f-4b8e-9a5e-2f1f2b3c4d5e'::UUID, 'date': 'infinity'::DATE, " +
		"'ts': '2020-01-01 01:02:03.456789'::TIMESTAMP, 'tsns': '2020-01-01 01:02:03.456789123'::TIMESTAMP_NS, 'tz': '2020-01-01 01:02:03+05:30'::TIMESTAMPTZ, " +
		"'t': '23:59:59.999999'::TIME, 'yes': true, 'no': false, 'u8': 255::UTINYINT, 'u16': 65535::USMALLINT, 'u32': 4294967295::UINTEGER, " +
		"'u64': 18446744073709551615::UBIGINT, 'i8': (-128)::TINYINT, 'i64': (-9223372036854775808)::BIGINT, 'h': 1::HUGEINT}",
	"[[INTERVAL '1 day'], [], NULL, [INTERVAL '2 days', NULL]]",
	"[{'a': 1::HUGEINT}, NULL, {'a': 2::HUGEINT}]",
	"{'t': '12:00:00+01'::TIMETZ}",
	// JSON makes UBIGINTs of non-negative integers; above 2^63-1 the
	// Parquet Variant binary has none.
	"'[18446744073709551615, -1, 2.5, \"s\"]'::JSON",
	// A STRUCT of INTEGERs, which JSON would turn into UBIGINTs.
	"{'b': 1, 'a': [2, 3]}",
	// Values every earlier encoding already carried, between them.
	"42",
	"'x'",
	"NULL",
	"'null'::JSON",
	"'{\"b\": [1, \"x\", null], \"a\": {}}'::JSON",
	"{'k': 2.5::DOUBLE}",
	"INTERVAL '5 minutes'",
	"[1, 2, 3]",
}

// variantTree describes the VARIANT col of row id of table exactly (see
// testutil.VariantTree).
func variantTree(t *testing.T, db *sql.DB, table string, id int, col string) string {
	t.Helper()
	return testutil.VariantTree(t, db, table, "id = "+fmt.Sprint(id), col)
}

// TestVariantTrees: VARIANTs holding values the Parquet Variant binary
// lacks inside objects and lists, top level and inside a VARIANT[] and a
// STRUCT column, come back exactly: the same tree, keys in order, leaf
// types and fields.
func TestVariantTrees(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.exec(t, `CREATE TABLE vt (id INTEGER, v VARIANT, l VARIANT[], s STRUCT(v VARIANT, n INTEGER))`)
	e.exec(t, "INSERT INTO vt (id, v) VALUES "+testutil.Numbered(nestedVariantValues))
	e.exec(t, "UPDATE vt SET l = [v, NULL, v], s = {'v': v, 'n': id} WHERE id % 2 = 0")
	tbl := typezoo.Table{Schema: "main", Name: "vt"}
	plans, err := codec.PlanTable(ctx, e.db, tbl.Schema, tbl.Name)
	if err != nil {
		t.Fatal(err)
	}
	if plans[1].Encoding != codec.EncodingVariant || plans[2].Encoding != codec.EncodingNestedV3 || plans[3].Encoding != codec.EncodingNestedV3 {
		t.Fatalf("encodings %+v", plans)
	}
	if err := codec.PlanVariants(ctx, e.db, tbl.Schema, tbl.Name, plans); err != nil {
		t.Fatal(err)
	}
	if len(plans[1].Shapes) < 15 || len(plans[2].Shapes) == 0 || len(plans[3].Shapes) == 0 || plans[0].Shapes != nil {
		t.Fatalf("shapes %q", [][]string{plans[0].Shapes, plans[1].Shapes, plans[2].Shapes, plans[3].Shapes})
	}
	for _, s := range plans[1].Shapes {
		if err := codec.ParseShape(s); err != nil {
			t.Errorf("backup wrote a shape restore refuses: %v", err)
		}
	}
	path := e.backup(t, tbl, plans)
	e.restore(t, tbl, plans, path)

	for i, v := range nestedVariantValues {
		for _, col := range []string{"v", "l[1]", "l[3]", "s.v"} {
			if col != "v" && i%2 != 0 {
				continue
			}
			want := variantTree(t, e.db, "src.vt", i, col)
			got := variantTree(t, e.db, "dst.vt", i, col)
			if got != want {
				t.Errorf("%s in %s came back as\n%s\nwas\n%s", v, col, got, want)
			}
		}
	}
	// The oracle can tell: a nested INTERVAL read back as text.
	e.exec(t, "CREATE TABLE blind (id INTEGER, v VARIANT)")
	e.exec(t, "INSERT INTO blind VALUES (0, {'a': INTERVAL '1 day'}), (1, {'a': '1 day'})")
	a := variantTree(t, e.db, "src.blind", 0, "v")
	b := variantTree(t, e.db, "src.blind", 1, "v")
	if a == b || !strings.Contains(a, `"a": INTERVAL(1 day|0,1,0)`) {
		t.Errorf("the comparison is blind: %s and %s", a, b)
	}
	if n := e.count(t, "SELECT count(*) FROM src.vt a JOIN dst.vt b USING (id) WHERE (a.v IS NULL) != (b.v IS NULL) OR CAST(a.v AS VARCHAR) != CAST(b.v AS VARCHAR)"); n != 0 {
		t.Errorf("%d rows differ by their text", n)
	}
	if n := e.count(t, "SELECT count(*) FROM dst.vt WHERE variant_typeof(variant_extract(v, 'a')) = 'INTERVAL' AND id = 0"); n != 1 {
		t.Errorf("row 0's nested INTERVAL did not come back as one")
	}

	// ComparableItem (diff --rows) finds the restored rows equal to the
	// source's, made up differently as they are, and tells a nested
	// INTERVAL from its text.
	var items []string
	for _, p := range plans {
		item, _, err := codec.ComparableItem(p.Name, p.Type)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item)
	}
	list := strings.Join(items, ", ")
	for _, q := range []string{
		"SELECT " + list + " FROM src.vt EXCEPT ALL SELECT " + list + " FROM dst.vt",
		"SELECT " + list + " FROM dst.vt EXCEPT ALL SELECT " + list + " FROM src.vt",
	} {
		if n := e.count(t, "SELECT count(*) FROM ("+q+")"); n != 0 {
			t.Errorf("%d rows differ by ComparableItem", n)
		}
	}
	v, _, err := codec.ComparableItem("v", "VARIANT")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count(DISTINCT "+strings.TrimSuffix(v, ` AS "v"`)+") FROM src.blind"); n != 2 {
		t.Errorf("ComparableItem finds {'a': INTERVAL '1 day'} and {'a': '1 day'} alike")
	}
}

// TestVariantTreeRefusals: what DuckDB 1.5.6 cannot rebuild is refused by
// PlanVariants, naming the column and why, before anything is written.
func TestVariantTreeRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	deep := "[INTERVAL '1 day']"
	for range 10 {
		deep = "{'a': " + deep + "}"
	}
	e.exec(t, `CREATE TABLE vbad (id INTEGER, v VARIANT)`)
	for _, c := range []struct{ value, msg string }{
		{deep, `column "v": a VARIANT value nests objects and lists more than 10 levels deep`},
	} {
		e.exec(t, "DELETE FROM vbad")
		e.exec(t, "INSERT INTO vbad VALUES (1, "+c.value+"), (2, {'a': INTERVAL '1 day'})")
		plans, err := codec.PlanTable(ctx, e.db, "main", "vbad")
		if err != nil {
			t.Fatal(err)
		}
		err = codec.PlanVariants(ctx, e.db, "main", "vbad", plans)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("VARIANT %s: err = %v, want %q", c.value, err, c.msg)
		}
	}
	// Ten levels are carried.
	ok := "[INTERVAL '1 day']"
	for range 9 {
		ok = "{'a': " + ok + "}"
	}
	e.exec(t, "DELETE FROM vbad")
	e.exec(t, "INSERT INTO vbad VALUES (1, "+ok+")")
	plans, err := codec.PlanTable(ctx, e.db, "main", "vbad")
	if err != nil {
		t.Fatal(err)
	}
	if err := codec.PlanVariants(ctx, e.db, "main", "vbad", plans); err != nil || len(plans[1].Shapes) != 1 {
		t.Fatalf("10 levels: %v, shapes %q", err, plans[1].Shapes)
	}
}

// TestVariantJSONStaysJSON: JSON-made values, read back from storage, take
// the JSON form (no shape to list), however many key sets they have; a
// STRUCT-made one beside them, whose integers JSON would retype, does not.
func TestVariantJSONStaysJSON(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.exec(t, `CREATE TABLE vj AS SELECT i AS id, ('{"k' || i || '": ' || i || ', "s": "v", "l": [1, -2, 2.5, {"z": null, "y": true}]}')::JSON::VARIANT AS v FROM range(300) t(i)`)
	e.exec(t, `INSERT INTO vj SELECT 500 + i, ('{"k": ' || i || ', "s": "v' || i || '", "l": [1, 2, {"z": null}]}')::JSON::VARIANT FROM range(300) t(i)`)
	e.exec(t, `INSERT INTO vj VALUES (1000, {'id': 5::BIGINT, 'n': [1::INTEGER]})`)
	e.exec(t, "CHECKPOINT src")
	plans, err := codec.PlanTable(ctx, e.db, "main", "vj")
	if err != nil {
		t.Fatal(err)
	}
	if err := codec.PlanVariants(ctx, e.db, "main", "vj", plans); err != nil {
		t.Fatal(err)
	}
	if want := []string{`STRUCT("id" BIGINT, "n" INTEGER[])`}; !reflect.DeepEqual(plans[1].Shapes, want) {
		t.Errorf("shapes %q, want %q", plans[1].Shapes, want)
	}
	tbl := typezoo.Table{Schema: "main", Name: "vj"}
	e.restore(t, tbl, plans, e.backup(t, tbl, plans))
	for _, id := range []int{0, 299, 500, 799, 1000} {
		if a, b := variantTree(t, e.db, "src.vj", id, "v"), variantTree(t, e.db, "dst.vj", id, "v"); a != b {
			t.Errorf("row %d came back as\n%s\nwas\n%s", id, b, a)
		}
	}
}
