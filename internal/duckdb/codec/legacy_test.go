package codec

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// TestLegacyVariantDecodes: a snapshot written before the typed VARIANT
// text records variant-json-binary (and nested-v1, union-struct around a
// VARIANT) and stores the three-field struct; restore still decodes it with
// the old rule, and refuses to pair the old names with other types.
func TestLegacyVariantDecodes(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	path := filepath.Join(t.TempDir(), "old.parquet")
	old := "SELECT " + legacyVariant.enc("v") + ` AS "v", list_transform(l, lambda e: ` + legacyVariant.enc("e") + `) AS "l" FROM ` +
		`(SELECT CAST(x AS VARIANT) AS v, [CAST(x AS VARIANT)] AS l FROM (VALUES ('{"b": 1}'::JSON), (NULL), ('[1, 2]'::JSON)) t(x))`
	if _, err := db.Exec("COPY (" + old + ") TO " + sqlq.Literal(path) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	dv, err := DecodeExpr(ColumnPlan{Name: "v", Type: "VARIANT", Encoding: EncodingVariantV1})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := DecodeExpr(ColumnPlan{Name: "l", Type: "VARIANT[]", Encoding: EncodingNested})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	q := "SELECT count(*) FROM (SELECT " + dv + " AS v, " + dl + " AS l FROM read_parquet(" + sqlq.Literal(path) + ")) " +
		"WHERE CAST(v AS VARCHAR) IN ('{''b'': 1}', '[1, 2]') AND CAST(v AS VARCHAR) = CAST(l[1] AS VARCHAR)"
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if n != 2 {
		t.Errorf("%d of 2 old values decoded", n)
	}
	if e, err := DecodeExpr(ColumnPlan{Name: "v", Type: "INTERVAL", Encoding: EncodingVariantV1}); err == nil {
		t.Errorf("variant-json-binary accepted for an INTERVAL: %s", e)
	}
	if e, err := DecodeExpr(ColumnPlan{Name: "v", Type: "INTERVAL[]", Encoding: EncodingNestedV2}); err == nil {
		t.Errorf("nested-v2 accepted for INTERVAL[]: %s", e)
	}
}

// TestV2VariantDecodes: a snapshot written by the build before typed trees
// records variant-typed-v2 (and nested-v2 around a VARIANT) and stores the
// five-field struct, the Parquet Variant binary among its forms; restore
// still decodes each form exactly as that build meant, and refuses to
// attach VARIANT shapes to it.
func TestV2VariantDecodes(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	path := filepath.Join(t.TempDir(), "v2.parquet")
	old := "SELECT id, " + variantV2.enc("v") + ` AS "v", list_transform(l, lambda e: ` + variantV2.enc("e") + `) AS "l" FROM ` +
		`(SELECT id, x AS v, [x] AS l FROM (VALUES (1, '{"b": 1}'::JSON::VARIANT), (2, NULL::VARIANT), (3, INTERVAL '-1 month 2 days'::VARIANT), ` +
		`(4, 7::UTINYINT::VARIANT), (5, (1::HUGEINT << 100)::VARIANT)) t(id, x))`
	if _, err := db.Exec("COPY (" + old + ") TO " + sqlq.Literal(path) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	dv, err := DecodeExpr(ColumnPlan{Name: "v", Type: "VARIANT", Encoding: EncodingVariantV2})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := DecodeExpr(ColumnPlan{Name: "l", Type: "VARIANT[]", Encoding: EncodingNestedV2})
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT string_agg(coalesce(variant_typeof(v) || ' ' || CAST(v AS VARCHAR), 'NULL') || ' ' || coalesce(variant_typeof(l[1]), 'NULL'), '; ' ORDER BY id) FROM (SELECT id, " +
		dv + " AS v, " + dl + " AS l FROM read_parquet(" + sqlq.Literal(path) + "))"
	var got string
	if err := db.QueryRow(q).Scan(&got); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	// The binary form gives the UTINYINT back as the SMALLINT that build
	// documented.
	want := "OBJECT(b) {'b': 1} OBJECT(b); NULL VARIANT_NULL; INTERVAL -1 month 2 days INTERVAL; INT16 7 INT16; INT128 1267650600228229401496703205376 INT128"
	if got != want {
		t.Errorf("v2 values decoded as\n%s\nwant\n%s", got, want)
	}
	if _, err := DecodeExpr(ColumnPlan{Name: "v", Type: "VARIANT", Encoding: EncodingVariantV2, Shapes: []string{"HUGEINT[]"}}); err == nil {
		t.Error("variant-typed-v2 accepted with VARIANT shapes")
	}
	if _, err := DecodeExpr(ColumnPlan{Name: "v", Type: "VARIANT", Encoding: EncodingVariant, Shapes: []string{"VARCHAR); DROP TABLE x; --"}}); err == nil {
		t.Error("a bad shape accepted")
	}
}
