package codec

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTypeRoundTrip(t *testing.T) {
	cases := map[string]string{
		"INTEGER":                  "INTEGER",
		"TIME WITH TIME ZONE":      "TIME WITH TIME ZONE",
		"TIMESTAMP WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
		"DECIMAL(38,10)":           "DECIMAL(38, 10)",
		"GEOMETRY('OGC:CRS84')":    "GEOMETRY('OGC:CRS84')",
		"INTEGER[][3]":             "INTEGER[][3]",
		`STRUCT("select" INTEGER, "a""b" VARCHAR, "x y" INTEGER[], "new` + "\n" + `line" INTEGER)`: `STRUCT("select" INTEGER, "a""b" VARCHAR, "x y" INTEGER[], "new` + "\n" + `line" INTEGER)`,
		"MAP(STRUCT(x INTEGER), ENUM('a)', 'b''c,')[2][])":                                         `MAP(STRUCT("x" INTEGER), ENUM('a)', 'b''c,')[2][])`,
		`UNION("select" INTEGER, tag VARCHAR)`:                                                     `UNION("select" INTEGER, "tag" VARCHAR)`,
		"STRUCT(a STRUCT(b STRUCT(c TIME WITH TIME ZONE[])))":                                      `STRUCT("a" STRUCT("b" STRUCT("c" TIME WITH TIME ZONE[])))`,
	}
	for in, want := range cases {
		typ, err := parseType(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := typ.sql(); got != want {
			t.Errorf("%s: rendered %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "INET", "STRUCT(a INTEGER", "ENUM()", "INTEGER[x]", "MAP(INTEGER)", "STRUCT(a FOO)", "INTEGER)"} {
		if _, err := parseType(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEncodingNames(t *testing.T) {
	cases := map[string]string{
		"BIGINT":                        "",
		"UBIGINT":                       "",
		"HUGEINT":                       "hugeint-text",
		"INTEGER[3]":                    "",
		"ENUM('a', 'b')[]":              "",
		"MAP(VARCHAR, INTEGER[])":       "",
		"INTERVAL[]":                    EncodingNested,
		"STRUCT(u UNION(a INTEGER))":    EncodingNested,
		"UNION(a INTEGER, b VARCHAR)":   EncodingUnion,
		"TIME WITH TIME ZONE":           "timetz-text",
		"MAP(HUGEINT, VARCHAR)":         EncodingNested,
		"GEOMETRY('OGC:CRS84')":         "geometry-wkb",
		"TIMESTAMP_S":                   "timestamp_s-micros",
		"TIMESTAMP_MS":                  "",
		"VARIANT":                       EncodingVariant,
		"STRUCT(a INTEGER, b VARIANT)":  EncodingNestedV3,
		"UNION(a VARIANT, b INTEGER)":   EncodingUnionV3,
		"DECIMAL(38,0)":                 "",
		"TIMESTAMP WITH TIME ZONE":      "",
		"UNION(tag INTEGER, _tag BLOB)": EncodingUnion,
	}
	for in, want := range cases {
		typ, err := parseType(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := encodingName(typ); got != want {
			t.Errorf("%s: encoding %q, want %q", in, got, want)
		}
		if !Known(want) {
			t.Errorf("%q is not Known", want)
		}
	}
	typ, _ := parseType("UNION(tag INTEGER, _TAG BLOB)")
	if got := unionTag(typ); got != "__tag" {
		t.Errorf("union tag %q, want __tag", got)
	}
}

func TestDecodeExprChecks(t *testing.T) {
	if _, err := DecodeExpr(ColumnPlan{Name: "h", Type: "HUGEINT", Encoding: "hugeint-text"}); err != nil {
		t.Error(err)
	}
	// A legacy (seed) file has no encodings: cast what was read.
	if e, err := DecodeExpr(ColumnPlan{Name: "h", Type: "HUGEINT"}); err != nil || e != `CAST("h" AS HUGEINT)` {
		t.Errorf("%s, %v", e, err)
	}
	for _, p := range []ColumnPlan{
		{Name: "h", Type: "HUGEINT", Encoding: "rot13"},
		{Name: "h", Type: "VARCHAR", Encoding: "hugeint-text"},
		{Name: "h", Type: "INET", Encoding: ""},
		{Name: "g", Type: "INTEGER", Generated: true},
	} {
		if e, err := DecodeExpr(p); err == nil {
			t.Errorf("%+v: decoded as %s", p, e)
		}
	}
	if Known("rot13") {
		t.Error("rot13 is known")
	}
	// A name holding a NUL is selected through COLUMNS, never spelled.
	if e, err := DecodeExpr(ColumnPlan{Name: "a\x00b", Type: "INTEGER"}); err != nil || strings.IndexByte(e, 0) >= 0 {
		t.Errorf("%q, %v", e, err)
	}
}

func TestGeneratedColumns(t *testing.T) {
	ddl := `CREATE TABLE "we(ird"" t"("a,b" INTEGER PRIMARY KEY, b INTEGER DEFAULT(5), "generated" VARCHAR DEFAULT('GENERATED ALWAYS AS'), ` +
		`c INTEGER GENERATED ALWAYS AS(("a,b" + 1)), d INTEGER GENERATED ALWAYS AS(("a,b" * 2)), ` +
		`e ENUM('x, y', 'GENERATED ALWAYS AS (') NOT NULL, "x GENERATED ALWAYS AS" STRUCT(g INTEGER), CHECK((b > 0)), UNIQUE(b, e));`
	got, err := generatedColumns(ddl)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["c"] || !got["d"] {
		t.Errorf("generated %v, want c and d", got)
	}
	if _, err := generatedColumns("CREATE TABLE t"); err == nil {
		t.Error("a DDL without columns parsed")
	}
}

func TestSelectListSkipsGenerated(t *testing.T) {
	s := SelectList([]ColumnPlan{{Name: "a", Type: "INTEGER"}, {Name: "b", Type: "INTEGER", Generated: true}, {Name: "c", Type: "INTERVAL", Encoding: "interval-struct"}})
	if strings.Contains(s, `"b"`) || !strings.HasPrefix(s, `"a" AS "a", CASE WHEN "c" IS NULL`) {
		t.Error(s)
	}
	if s := SelectList([]ColumnPlan{{Name: "c", Type: "INTERVAL"}}); !strings.HasPrefix(s, "error(") {
		t.Errorf("a plan whose encoding does not match its type gave %s", s)
	}
}

// TestNULColumnPlans: a column name holding a NUL byte is carried when the
// table is its columns' names and types alone (restore rebuilds it with
// CREATE TABLE AS SELECT), and refused with ErrNULRebuild otherwise; the
// SQL built for it never holds a NUL.
func TestNULColumnPlans(t *testing.T) {
	cols := func() []ColumnPlan {
		return []ColumnPlan{{Name: "a\x00b", Type: "BIGINT"}, {Name: "c", Type: "INTERVAL"}}
	}
	ddl := "CREATE TABLE t(\"a\x00b\" BIGINT, c INTERVAL);"
	plans, err := Plan("t", ddl, cols())
	if err != nil {
		t.Fatal(err)
	}
	if err := Rebuildable("t", ddl, plans); err != nil {
		t.Fatal(err)
	}
	sel := SelectList(plans)
	target, dec, err := InsertLists(plans)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sel, target, dec} {
		if strings.IndexByte(s, 0) >= 0 || strings.HasPrefix(s, "error(") {
			t.Errorf("SQL %q", s)
		}
	}
	if target != "BY NAME" || !strings.Contains(sel, "COLUMNS(lambda __statsnap_c: __statsnap_c = ('a' || chr(0) || 'b'))") {
		t.Errorf("target %q, select %q", target, sel)
	}
	for _, ddl := range []string{
		"CREATE TABLE t(\"a\x00b\" BIGINT NOT NULL, c INTERVAL);",
		"CREATE TABLE t(\"a\x00b\" BIGINT DEFAULT(1), c INTERVAL);",
		"CREATE TABLE t(\"a\x00b\" BIGINT, c INTERVAL, PRIMARY KEY(c));",
		"CREATE TABLE t(\"a\x00b\" BIGINT, c INTERVAL, CHECK((c > INTERVAL 1 DAY)));",
		"CREATE TABLE t(\"a\x00b\" BIGINT, c INTERVAL COLLATE nocase);",
		"CREATE TABLE t(\"a\x00c\" BIGINT, c INTERVAL);",
		"CREATE TABLE t(c INTERVAL, \"a\x00b\" BIGINT);",
	} {
		plans, err := Plan("t", ddl, cols())
		if err == nil {
			err = Rebuildable("t", ddl, plans)
		}
		if !errors.Is(err, ErrNULRebuild) {
			t.Errorf("%q: err = %v", ddl, err)
		}
	}
	if _, err := Plan("t", "CREATE TABLE t(e ENUM('a\x00'));", []ColumnPlan{{Name: "e", Type: "ENUM('a\x00')"}}); err == nil {
		t.Error("an ENUM label holding a NUL was accepted")
	}
}

// TestTypeParamsFromAManifest: a type's parameters go back into restore's
// SQL as written, so only the forms DuckDB prints pass; a comment, a
// subquery or a parameter a type does not take is refused.
func TestTypeParamsFromAManifest(t *testing.T) {
	for _, ok := range []string{"DECIMAL(18,3)", "DECIMAL(38, 10)", "DECIMAL(4)", "VARCHAR(10)",
		"GEOMETRY('OGC:CRS84')", "GEOMETRY('a'') --')", "STRUCT(d DECIMAL(9,2))[]"} {
		if _, err := TypeSQL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"DECIMAL(1 -- )", "DECIMAL((SELECT 1))", "DECIMAL(18, 3, 4)", "DECIMAL(39,2)",
		"DECIMAL(5,6)", "INTEGER(5)", "TIMESTAMP(3)", "GEOMETRY(1)", "GEOMETRY('a' || 'b')", "VARCHAR(x)",
		"STRUCT(d DECIMAL(9 /* ,2))", "MAP(VARCHAR, DECIMAL(2) ; SELECT 1)"} {
		if got, err := TypeSQL(bad); err == nil {
			t.Errorf("%s accepted as %s", bad, got)
		}
	}
}
