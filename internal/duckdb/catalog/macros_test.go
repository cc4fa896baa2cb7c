package catalog

import (
	"slices"
	"testing"
)

// TestApplyExportedMacros parses schema.sql text as DuckDB 1.5.6 writes
// it (copied from a real export), including its unquoted parameter names.
func TestApplyExportedMacros(t *testing.T) {
	schema := "CREATE SCHEMA s2;;\n" +
		"CREATE TABLE t(i INTEGER PRIMARY KEY, j VARCHAR DEFAULT('x;y'));;\n" +
		"CREATE MACRO add_default (a, b := 2) AS ((a + b));;\n" +
		"CREATE MACRO ov (a) AS (a), (a, b := 'x;y') AS ((a || b));;\n" +
		"CREATE MACRO \"Odd,Name\" (p,q := 1, r\"s := 'it''s') AS (\"p,q\");;\n" +
		"CREATE MACRO tdef (a := '2026-12-02'::DATE) AS (a);;\n" +
		"CREATE MACRO tm (x, y := 'z''q') AS TABLE (SELECT x AS a, y AS b);;\n" +
		"CREATE MACRO s2.\"we;ird\" (a, b c := [1, (2)]) AS ((len(\"b c\") + a));;\n" +
		"CREATE MACRO tstr (a := 'multi\nline;') AS (a);;\n" +
		"CREATE VIEW v AS SELECT add_default(i) FROM t;;\n"
	ov := func(params ...string) *overload { return &overload{params: params} }
	known := map[macroKey][]*overload{
		{"main", "add_default"}: {ov("a", "b")},
		{"main", "ov"}:          {ov("a"), ov("a", "b")},
		{"main", "Odd,Name"}:    {ov("p,q", `r"s`)},
		{"main", "tdef"}:        {ov("a")},
		{"main", "tm"}:          {ov("x", "y")},
		{"s2", "we;ird"}:        {ov("a", "b c")},
		{"main", "tstr"}:        {ov("a")},
	}
	if err := applyExportedMacros(schema, known); err != nil {
		t.Fatal(err)
	}
	want := map[macroKey][][]string{
		{"main", "add_default"}: {{"", "2"}},
		{"main", "ov"}:          {{""}, {"", "'x;y'"}},
		{"main", "Odd,Name"}:    {{"1", "'it''s'"}},
		{"main", "tdef"}:        {{"'2026-12-02'::DATE"}},
		{"main", "tm"}:          {{"", "'z''q'"}},
		{"s2", "we;ird"}:        {{"", "[1, (2)]"}},
		{"main", "tstr"}:        {{"'multi\nline;'"}},
	}
	for k, ovs := range want {
		for i, d := range ovs {
			if got := known[k][i].defaults; !slices.Equal(got, d) {
				t.Errorf("%v overload %d: defaults %q, want %q", k, i, got, d)
			}
		}
	}
	known[macroKey{"main", "add_default"}][0].def = "(a + b)"
	if got := macroSQL(macroKey{"main", "add_default"}, false, known[macroKey{"main", "add_default"}]); got != `CREATE MACRO "main"."add_default"("a", "b" := 2) AS (a + b);` {
		t.Errorf("macroSQL: %s", got)
	}
	known[macroKey{"main", "ov"}][0].def = "a"
	known[macroKey{"main", "ov"}][1].def = "(a || b)"
	if got := macroSQL(macroKey{"main", "ov"}, false, known[macroKey{"main", "ov"}]); got != `CREATE MACRO "main"."ov"("a") AS a, ("a", "b" := 'x;y') AS (a || b);` {
		t.Errorf("macroSQL overloads: %s", got)
	}

	// A rendering that does not match the listed parameters is an error,
	// never a silent drop of defaults.
	bad := map[macroKey][]*overload{{"main", "add_default"}: {ov("a", "c")}}
	if err := applyExportedMacros("CREATE MACRO add_default (a, b := 2) AS ((a + b));;\n", bad); err == nil {
		t.Error("mismatched parameters accepted")
	}
}
