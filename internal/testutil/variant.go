package testutil

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// Session is what VariantTree queries: a *sql.Conn, or a *sql.DB held to
// one connection (the value is copied into a temporary table, which only
// the connection that made it sees).
type Session interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// VariantTree describes exactly the VARIANT col of the one row of table
// that where selects, walking it in Go with variant_extract: every node's
// variant_typeof, every object's keys in order, every leaf's text and,
// where the text is not exact, its fields. It shares no code with the
// encodings it checks, so two values describe alike only if DuckDB sees
// them alike. The value is copied alone into a table first: DuckDB 1.5.6
// casts a VARIANT of rows a WHERE has filtered out too, and fails on them.
func VariantTree(t testing.TB, db Session, table, where, col string) string {
	t.Helper()
	ctx := context.Background()
	label := table + " WHERE " + where
	if _, err := db.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE oracle_row AS SELECT "+col+" AS v FROM "+table+" WHERE "+where); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM oracle_row").Scan(&n); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if n != 1 {
		t.Fatalf("%s: %d rows, want one", label, n)
	}
	return walkVariant(t, db, label, "v", 0)
}

// walkVariant describes the VARIANT at SQL path of oracle_row's one row,
// depth levels down.
func walkVariant(t testing.TB, db Session, label, path string, depth int) string {
	t.Helper()
	one := func(q string) *string {
		var s *string
		if err := db.QueryRowContext(context.Background(), "SELECT "+q+" FROM oracle_row").Scan(&s); err != nil {
			t.Fatalf("%s: %v\nSQL: %s", label, err, q)
		}
		return s
	}
	count := func(q string) int {
		var n int
		if _, err := fmt.Sscan(*one("CAST(" + q + " AS VARCHAR)"), &n); err != nil {
			t.Fatalf("%s: %v\nSQL: %s", label, err, q)
		}
		return n
	}
	ty := one("variant_typeof(" + path + ")")
	if ty == nil {
		return "SQLNULL"
	}
	switch {
	case depth > 20:
		t.Fatalf("%s: %s nests too deep", label, path)
	case strings.HasPrefix(*ty, "OBJECT("):
		asMap := "CAST(" + path + " AS MAP(VARCHAR, VARIANT))"
		keys := one("to_json(map_keys(" + asMap + "))::VARCHAR")
		var b strings.Builder
		b.WriteString(*ty + *keys + "{")
		for i, n := 1, count("cardinality("+asMap+")"); i <= n; i++ {
			k := *one(fmt.Sprintf("map_keys(%s)[%d]", asMap, i))
			fmt.Fprintf(&b, "%q: %s, ", k, walkVariant(t, db, label, "variant_extract("+path+", "+sqlq.Literal(k)+")", depth+1))
		}
		return b.String() + "}"
	case strings.HasPrefix(*ty, "ARRAY("):
		var b strings.Builder
		b.WriteString(*ty + "[")
		for i, n := 1, count("len(CAST("+path+" AS VARIANT[]))"); i <= n; i++ {
			b.WriteString(walkVariant(t, db, label, fmt.Sprintf("variant_extract(%s, %d::UINTEGER)", path, i), depth+1) + ", ")
		}
		return b.String() + "]"
	}
	extra := ""
	switch *ty {
	case "INTERVAL":
		iv := "CAST(" + path + " AS INTERVAL)"
		extra = *one("concat_ws(',', datepart('year', " + iv + ") * 12 + datepart('month', " + iv + "), datepart('day', " + iv + "), " +
			"datepart('hour', " + iv + ") * 3600000000 + datepart('minute', " + iv + ") * 60000000 + datepart('microseconds', " + iv + "))")
	case "TIME_MICROS_TZ":
		extra = *one("CAST(datepart('timezone', CAST(" + path + " AS TIMETZ)) AS VARCHAR)")
	case "TIMESTAMP_MICROS_TZ":
		extra = *one("CAST(epoch_us(CAST(" + path + " AS TIMESTAMPTZ)) AS VARCHAR)")
	case "GEOMETRY":
		extra = *one("to_hex(ST_AsWKB(CAST(" + path + " AS GEOMETRY)))")
	case "DOUBLE", "FLOAT":
		extra = *one("CAST(signbit(CAST(" + path + " AS DOUBLE)) AS VARCHAR)")
	case "VARCHAR":
		extra = *one("CAST(octet_length(CAST(" + path + " AS VARCHAR)::BLOB) AS VARCHAR)")
	}
	text := one("CAST(" + path + " AS VARCHAR)")
	if text == nil {
		return *ty + "(null)"
	}
	return *ty + "(" + *text + "|" + extra + ")"
}
