package codec_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/internal/typezoo"
)

// TestDuckDBTraps pins the DuckDB 1.5.6 behaviours the encodings work
// around. If one of these starts failing after a DuckDB upgrade, the trap is
// gone and the matching encoding may be simplified (keep decoding the old
// name for old snapshots).
func TestDuckDBTraps(t *testing.T) {
	e := newEnv(t)
	file := func(name string) string { return sqlq.Literal(filepath.Join(e.dir, name+".parquet")) }
	copyErr := func(sel, name string) error {
		_, err := e.db.Exec("COPY (" + sel + ") TO " + file(name) + " (FORMAT parquet)")
		return err
	}
	str := func(q string) string {
		t.Helper()
		var s string
		if err := e.db.QueryRow(q).Scan(&s); err != nil {
			t.Fatalf("%v\nSQL: %s", err, q)
		}
		return s
	}
	mustCopy := func(sel, name string) {
		t.Helper()
		if err := copyErr(sel, name); err != nil {
			t.Fatalf("COPY %s: %v", sel, err)
		}
	}

	t.Run("HUGEINT is written as DOUBLE", func(t *testing.T) {
		mustCopy("SELECT 170141183460469231731687303715884105727::HUGEINT AS h, 340282366920938463463374607431768211455::UHUGEINT AS u", "huge")
		if got := str("SELECT typeof(h) || ' ' || typeof(u) FROM " + file("huge")); got != "DOUBLE DOUBLE" {
			t.Errorf("read back as %s", got)
		}
	})
	t.Run("negative INTERVAL fails COPY", func(t *testing.T) {
		err := copyErr("SELECT INTERVAL '-1 day' AS i", "negiv")
		if err == nil || !strings.Contains(err.Error(), "negative intervals") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("INTERVAL loses sub-millisecond parts", func(t *testing.T) {
		mustCopy("SELECT INTERVAL '1.0015 seconds' AS i", "subms")
		if got := str("SELECT CAST(i AS VARCHAR) FROM " + file("subms")); got != "00:00:01.001" {
			t.Errorf("read back as %s", got)
		}
	})
	t.Run("TIMETZ loses its offset", func(t *testing.T) {
		mustCopy("SELECT '12:00:00+05:30'::TIMETZ AS t", "ttz")
		if got := str("SELECT CAST(t AS VARCHAR) FROM " + file("ttz")); got != "06:30:00+00" {
			t.Errorf("read back as %s", got)
		}
	})
	t.Run("TIMETZ text is not exact for offsets under a minute", func(t *testing.T) {
		if got := str("SELECT CAST('12:00:00-00:00:01'::TIMETZ AS VARCHAR)"); got != "12:00:00-00:01" {
			t.Errorf("printed as %s", got)
		}
	})
	t.Run("TIMESTAMP_S infinity fails COPY", func(t *testing.T) {
		err := copyErr("SELECT 'infinity'::TIMESTAMP_S AS t", "tsinf")
		if err == nil || !strings.Contains(err.Error(), "Timestamp(S)") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("UNION with a LIST member does not read back", func(t *testing.T) {
		mustCopy("SELECT union_value(l := [1, 2])::UNION(n INTEGER, l INTEGER[]) AS u", "union")
		if got := str("SELECT typeof(u) FROM " + file("union")); !strings.HasPrefix(got, "STRUCT(") {
			t.Errorf("read back as %s", got)
		}
		if _, err := e.db.Exec("SELECT CAST(u AS UNION(n INTEGER, l INTEGER[])) FROM " + file("union")); err == nil {
			t.Error("the stored struct now casts back to the UNION")
		}
	})
	t.Run("types that come back as other types", func(t *testing.T) {
		mustCopy(`SELECT 'ok'::ENUM('ok', 'no') AS e, '101'::BIT AS b, 12345678901234567890123::BIGNUM AS n, [1, 2]::INTEGER[2] AS a,
			'2020-01-01 00:00:01'::TIMESTAMP_S AS s, '2020-01-01 00:00:01.5'::TIMESTAMP_MS AS ms, 'POINT(1 2)'::GEOMETRY AS g`, "others")
		want := "VARCHAR VARCHAR VARCHAR INTEGER[] TIMESTAMP TIMESTAMP"
		if got := str("SELECT concat_ws(' ', typeof(e), typeof(b), typeof(n), typeof(a), typeof(s), typeof(ms)) FROM " + file("others")); got != want {
			t.Errorf("read back as %s, want %s", got, want)
		}
		// A GEOMETRY without CRS comes back as a BLOB, or with the CRS
		// OGC:CRS84 it never had, depending on the other rows.
		if got := str("SELECT typeof(g) FROM " + file("others")); got == "GEOMETRY" {
			t.Errorf("GEOMETRY read back as %s", got)
		}
	})
	t.Run("VARIANT needs storage v1.5.0", func(t *testing.T) {
		e.exec(t, "ATTACH "+sqlq.Literal(filepath.Join(e.dir, "old.duckdb"))+" AS old")
		_, err := e.db.Exec("CREATE TABLE old.v (v VARIANT)")
		if err == nil || !strings.Contains(err.Error(), "storage version") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("VARIANT is written with the Parquet VARIANT annotation", func(t *testing.T) {
		// Polars fails on it: "LogicalType union has no variant set".
		mustCopy("SELECT 42::VARIANT AS v", "variant")
		if got := readWithArrow(t, filepath.Join(e.dir, "variant.parquet")); !strings.Contains(got, "variant") {
			t.Errorf("arrow schema %s", got)
		}
	})
	t.Run("a named ENUM is inlined in duckdb_tables().sql", func(t *testing.T) {
		e.exec(t, "CREATE TYPE src.main.color AS ENUM ('red', 'green')")
		e.exec(t, "CREATE TABLE src.main.painted (c color)")
		if got := str("SELECT sql FROM duckdb_tables() WHERE database_name = 'src' AND table_name = 'painted'"); strings.Contains(got, "color") {
			t.Errorf("DDL keeps the type name: %s", got)
		}
	})
	t.Run("INTERVAL = ignores how it is made up", func(t *testing.T) {
		if got := str("SELECT CAST(INTERVAL '1 month' = INTERVAL '30 days' AS VARCHAR)"); got != "true" {
			t.Errorf("1 month = 30 days is %s", got)
		}
	})
}

// TestVariantLimits pins what the Parquet Variant binary, which earlier
// encodings fell back to, cannot keep (object key order, the exact integer
// and DECIMAL type): EncodingVariant keeps all of it.
func TestVariantLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tbl := typezoo.Table{Schema: "main", Name: "vlim"}
	e.exec(t, `CREATE TABLE vlim (id INTEGER, v VARIANT)`)
	e.exec(t, `INSERT INTO vlim VALUES (1, {'b': 1, 'a': 2}), (2, 1::UTINYINT), (3, [9223372036854775807::BIGINT]),
		(4, '{"b": 1, "a": [2, "x", null]}'::JSON), (5, 1.5::DECIMAL(4,1))`)
	plans, err := codec.PlanTable(ctx, e.db, tbl.Schema, tbl.Name)
	if err != nil {
		t.Fatal(err)
	}
	path := e.backup(t, tbl, plans)
	e.restore(t, tbl, plans, path)
	rows, err := e.db.Query(`SELECT a.id, a.v = b.v, CAST(a.v AS VARCHAR), CAST(b.v AS VARCHAR), variant_typeof(a.v), variant_typeof(b.v),
		CAST(variant_typeof(variant_extract(a.v, 1::UINTEGER)) AS VARCHAR), CAST(variant_typeof(variant_extract(b.v, 1::UINTEGER)) AS VARCHAR)
		FROM src.vlim a JOIN dst.vlim b USING (id) ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]string{}
	for rows.Next() {
		var id int
		var eq bool
		var at, bt, aty, bty string
		var ae, be *string
		if err := rows.Scan(&id, &eq, &at, &bt, &aty, &bty, &ae, &be); err != nil {
			t.Fatal(err)
		}
		if !eq {
			t.Errorf("row %d: %s came back as %s, not equal", id, at, bt)
		}
		switch {
		case at != bt:
			got[id] = "text " + at + " -> " + bt
		case aty != bty:
			got[id] = "type " + aty + " -> " + bty
		case ae != nil && be != nil && *ae != *be:
			got[id] = "element type " + *ae + " -> " + *be
		default:
			got[id] = "exact"
		}
	}
	// The Parquet Variant binary would sort the keys, widen the UTINYINT
	// to a SMALLINT, make the BIGINT a UBIGINT (JSON) and the DECIMAL
	// DECIMAL(2,1); the typed tree carries each exactly.
	for id := 1; id <= 5; id++ {
		if got[id] != "exact" {
			t.Errorf("row %d: %s, want exact", id, got[id])
		}
	}
}

// TestVariantTyped: a VARIANT whose whole value is of a type the Parquet
// Variant binary lacks (INTERVAL, TIMETZ, BIT, BIGNUM, TIME_NS,
// TIMESTAMP_S, TIMESTAMP_MS, GEOMETRY, HUGEINT, UHUGEINT, and UBIGINT,
// which it would turn into a BIGINT) comes back equal, with the same
// variant_typeof and exactly the same fields, among NULLs and values that
// take the JSON and binary branches.
func TestVariantTyped(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	values := []string{
		"INTERVAL '-1 month 2 days 00:00:01.000001'",
		"INTERVAL '14 months -40 days -00:00:00.5'",
		"'12:00:00-00:00:01'::TIMETZ",
		"'23:59:59.999999+15:59:59'::TIMETZ",
		"'010110'::BIT",
		"'1'::BIT",
		"'-123456789012345678901234567890123456789012345678901234567890'::BIGNUM",
		"'12:00:00.123456789'::TIME_NS",
		"'infinity'::TIMESTAMP_S",
		"'-infinity'::TIMESTAMP_S",
		"'1970-01-01 00:00:01'::TIMESTAMP_S",
		"'2020-02-29 23:59:59.999'::TIMESTAMP_MS",
		"'POINT(1 2)'::GEOMETRY",
		"'POLYGON((0 0, 1 0, 1 1, 0 0))'::GEOMETRY",
		"170141183460469231731687303715884105727::HUGEINT",
		"(-170141183460469231731687303715884105728)::HUGEINT",
		"340282366920938463463374607431768211455::UHUGEINT",
		"18446744073709551615::UBIGINT",
		"0::UBIGINT",
		"NULL",
		"'null'::JSON",
		"'{\"b\": [1, \"x\"]}'::JSON",
		"{'k': 1::UTINYINT}",
		"42",
	}
	e.exec(t, `CREATE TABLE vt (id INTEGER, v VARIANT, l VARIANT[])`)
	e.exec(t, "INSERT INTO vt (id, v) VALUES "+testutil.Numbered(values))
	// A VARIANT inside a LIST column takes the same rule, per element.
	e.exec(t, "UPDATE vt SET l = [v, NULL, v]")
	tbl := typezoo.Table{Schema: "main", Name: "vt"}
	plans, err := codec.PlanTable(ctx, e.db, tbl.Schema, tbl.Name)
	if err != nil {
		t.Fatal(err)
	}
	if plans[1].Encoding != codec.EncodingVariant || plans[2].Encoding != codec.EncodingNestedV3 {
		t.Fatalf("encodings %+v", plans)
	}
	path := e.backup(t, tbl, plans)
	e.restore(t, tbl, plans, path)

	// Field by field: DuckDB's = on a VARIANT ignores how an INTERVAL is
	// made up, and its text of a TIMETZ rounds sub-minute offsets.
	exact := func(c string) string {
		return "concat_ws('|', variant_typeof(" + c + "), CAST(" + c + " AS VARCHAR)," +
			" CASE variant_typeof(" + c + ") WHEN 'INTERVAL' THEN concat_ws(',', datepart('year', CAST(" + c + " AS INTERVAL)) * 12 + datepart('month', CAST(" + c + " AS INTERVAL))," +
			" datepart('day', CAST(" + c + " AS INTERVAL)), datepart('epoch', CAST(" + c + " AS INTERVAL)) * 0 + datepart('microseconds', CAST(" + c + " AS INTERVAL)) + datepart('minute', CAST(" + c + " AS INTERVAL)) * 60000000 + datepart('hour', CAST(" + c + " AS INTERVAL)) * 3600000000)" +
			" WHEN 'TIME_MICROS_TZ' THEN CAST(datepart('timezone', CAST(" + c + " AS TIMETZ)) AS VARCHAR)" +
			" WHEN 'GEOMETRY' THEN to_hex(ST_AsWKB(CAST(" + c + " AS GEOMETRY))) ELSE '' END)"
	}
	q := "SELECT a.id, " + exact("a.v") + ", " + exact("b.v") + ", a.v IS NULL, b.v IS NULL, " +
		"coalesce(len(a.l), -1), coalesce(len(b.l), -1), " + exact("a.l[1]") + ", " + exact("b.l[1]") + ", " + exact("b.l[3]") + ", b.l[2] IS NULL " +
		"FROM src.vt a JOIN dst.vt b USING (id) ORDER BY a.id"
	res, err := e.db.Query(q)
	if err != nil {
		t.Fatalf("%v\nSQL: %s", err, q)
	}
	defer res.Close()
	n := 0
	for res.Next() {
		var id int
		var a, b, al, bl, bl3 sql.NullString
		var an, bn, b2 bool
		var la, lb int
		if err := res.Scan(&id, &a, &b, &an, &bn, &la, &lb, &al, &bl, &bl3, &b2); err != nil {
			t.Fatal(err)
		}
		n++
		if a != b || an != bn {
			t.Errorf("%s: came back as %q (null %v), was %q (null %v)", values[id], b.String, bn, a.String, an)
		}
		if la != lb || al != bl || al != bl3 || (lb > 0 && !b2) {
			t.Errorf("[%s, NULL, ...]: came back as %d elements %q, %q, was %d elements %q", values[id], lb, bl.String, bl3.String, la, al.String)
		}
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(values) {
		t.Errorf("%d rows compared, want %d", n, len(values))
	}
}
