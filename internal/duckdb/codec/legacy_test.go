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
