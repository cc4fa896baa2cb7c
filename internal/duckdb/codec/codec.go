// Package codec decides, column by column, how a DuckDB table is stored in a
// Parquet file so that every DuckDB 1.5 type comes back exactly on restore and
// the file stays readable by DuckDB, Polars and pyarrow.
//
// Backup writes each table with
//
//	COPY (SELECT <SelectList(plans)> FROM "schema"."table") TO 'file' (FORMAT parquet, ...)
//
// and restore reads it back with
//
//	INSERT INTO "schema"."table" (<stored columns>) SELECT <DecodeExpr(p) per stored column> FROM read_parquet('file')
//
// (InsertLists returns both lists). Where DuckDB's own Parquet encoding of a
// type is exact and portable the column is written as it is (Encoding "") and
// restore only casts it back to the declared type: that covers the integers up
// to 64 bits, DECIMAL of every width, FLOAT and DOUBLE (NaN, infinities and
// -0.0 included), BOOLEAN, VARCHAR (NUL bytes included), BLOB, UUID, DATE,
// TIME, TIME_NS, TIMESTAMP, TIMESTAMP_MS, TIMESTAMP_NS and TIMESTAMPTZ
// (infinities included), ENUM (written as text), and LIST, ARRAY (written as
// a LIST), STRUCT and MAP of those. Every other type has a named encoding,
// recorded in the manifest so that restore can undo it; see leaves in
// encode.go for each one and the reason for it.
//
// Known limits, all from DuckDB 1.5.6:
//
//   - VARIANT. Every value comes back exactly, key order and every nested
//     type included: as its JSON text when that gives it back exactly, as
//     its type and an exact text when it is one INTERVAL, TIMETZ, BIT,
//     BIGNUM, TIME_NS, TIMESTAMP_S, TIMESTAMP_MS, GEOMETRY, HUGEINT,
//     UHUGEINT or UBIGINT, and otherwise as a typed tree (varianttree.go).
//     DuckDB 1.5.6 has no SQL that builds an object with keys known only
//     from the data, so restore spells out each tree's shape, which backup
//     reads first (PlanVariants) and the manifest lists. PlanVariants
//     refuses, naming the column, a value nested more than 10 levels deep,
//     an object with an empty key, and more than 256 shapes in a column.
//     TestVariantTrees, TestVariantLimits and TestVariantTyped pin this.
//   - A TIME or TIME_NS of 24:00:00 (DuckDB allows it) is stored as it is;
//     DuckDB and arrow-go read it back, Polars reads it as null.
package codec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// ColumnPlan says how one column is stored.
type ColumnPlan struct {
	// Name is the column name as in the catalog.
	Name string `json:"name"`
	// Type is the declared DuckDB type as duckdb_columns().data_type prints
	// it. A named ENUM prints as its labels, which is what restore casts to.
	Type string `json:"type"`
	// Encoding is "" when DuckDB's native Parquet encoding is lossless and
	// portable; otherwise a stable name recorded in the manifest, one per
	// whole column (EncodingNested for a nested column with an encoded member).
	Encoding string `json:"encoding,omitempty"`
	// Generated marks a generated column (GENERATED ALWAYS AS): DuckDB
	// recomputes it, so it is neither stored nor inserted.
	Generated bool `json:"generated,omitempty"`
	// Shapes are, for a column whose VARIANTs are stored with
	// EncodingVariant's rules, the shapes of its typed trees (see
	// varianttree.go), sorted: restore spells each out in its SQL.
	// PlanVariants fills them in.
	Shapes []string `json:"variant_shapes,omitempty"`
}

// Querier is what PlanTable needs: *sql.Conn, *sql.Tx and *sql.DB all fit, so
// the plan can be read inside the transaction that copies the data.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var knownEncodings = func() map[string]bool {
	m := map[string]bool{"": true, EncodingNested: true, EncodingUnion: true}
	for _, names := range variantNames {
		for _, n := range names {
			if n != "" {
				m[n] = true
			}
		}
	}
	for _, l := range leaves {
		m[l.name] = true
	}
	return m
}()

// Known reports whether an encoding name is one this build can undo; restore
// refuses a snapshot with any other.
func Known(encoding string) bool { return knownEncodings[encoding] }

// PlanTable reads the columns of one table of the current database (as
// duckdb_columns() sees them in q's transaction) and returns a plan per
// column, in column order. A type that cannot be carried is an error naming
// the table, the column and the type.
func PlanTable(ctx context.Context, q Querier, schema, table string) ([]ColumnPlan, error) {
	return planTable(ctx, q, "", schema, table)
}

// PlanTableIn is PlanTable for a table of an attached database (catalog is
// its name in duckdb_databases()).
func PlanTableIn(ctx context.Context, q Querier, catalog, schema, table string) ([]ColumnPlan, error) {
	if catalog == "" {
		return nil, errors.New("codec: empty catalog name")
	}
	return planTable(ctx, q, catalog, schema, table)
}

func planTable(ctx context.Context, q Querier, catalog, schema, table string) ([]ColumnPlan, error) {
	qualified := schema + "." + table
	if catalog != "" {
		qualified = catalog + "." + qualified
	}
	db := "current_database()"
	args := []any{schema, table}
	if catalog != "" {
		db = "?"
		args = []any{catalog, schema, table}
	}

	var ddl string
	var found bool
	rows, err := q.QueryContext(ctx, "SELECT sql FROM duckdb_tables() WHERE database_name = "+db+
		" AND schema_name = ? AND table_name = ?", args...)
	if err != nil {
		return nil, fmt.Errorf("codec: reading the definition of table %s: %w", qualified, err)
	}
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("codec: reading the definition of table %s: %w", qualified, err)
		}
		ddl, found = s.String, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codec: reading the definition of table %s: %w", qualified, err)
	}
	if !found {
		return nil, fmt.Errorf("codec: table %s not found", qualified)
	}

	rows, err = q.QueryContext(ctx, "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "+db+
		" AND schema_name = ? AND table_name = ? ORDER BY column_index", args...)
	if err != nil {
		return nil, fmt.Errorf("codec: reading the columns of table %s: %w", qualified, err)
	}
	defer rows.Close()
	var plans []ColumnPlan
	for rows.Next() {
		var p ColumnPlan
		if err := rows.Scan(&p.Name, &p.Type); err != nil {
			return nil, fmt.Errorf("codec: reading the columns of table %s: %w", qualified, err)
		}
		plans = append(plans, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codec: reading the columns of table %s: %w", qualified, err)
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("codec: table %s has no columns", qualified)
	}

	return Plan(qualified, ddl, plans)
}

// Plan fills in the encodings of a table's columns, given its DDL and
// its columns' names and declared types in order (as duckdb_columns()
// reports them). Backup reads every table's columns in one catalog query
// and plans them here, instead of querying the catalog per table.
func Plan(qualified, ddl string, plans []ColumnPlan) ([]ColumnPlan, error) {
	if len(plans) == 0 {
		return nil, fmt.Errorf("codec: table %s has no columns", qualified)
	}
	// duckdb_columns() shows a generated column like one with a DEFAULT (its
	// expression in column_default), and no catalog view flags it, so the
	// table's own DDL is read for GENERATED ALWAYS AS.
	generated, err := generatedColumns(ddl)
	if err != nil {
		return nil, fmt.Errorf("codec: table %s: %w", qualified, err)
	}
	for i := range plans {
		p := &plans[i]
		t, err := parseType(p.Type)
		if err != nil {
			return nil, fmt.Errorf("codec: table %s, column %q, type %s: cannot be carried: %w", qualified, p.Name, p.Type, err)
		}
		p.Encoding = encodingName(t)
		p.Generated = generated[p.Name]
	}
	if len(generated) > 0 {
		n := 0
		for _, p := range plans {
			if p.Generated {
				n++
			}
		}
		if n != len(generated) {
			return nil, fmt.Errorf("codec: table %s: generated columns in the DDL do not match the catalog columns", qualified)
		}
	}
	return plans, nil
}

// Rebuildable checks that restore can rebuild the table whose DDL and
// planned columns are given: a table with a column whose name holds a NUL
// byte must be its columns' names and types alone (ErrNULRebuild
// otherwise), since restore builds it with CREATE TABLE AS SELECT. Backup
// refuses a table that is not (the user may skip it), and restore checks a
// manifest's table the same way.
func Rebuildable(qualified, ddl string, plans []ColumnPlan) error {
	if err := checkNULNames(ddl, plans); err != nil {
		return fmt.Errorf("codec: table %s: %w", qualified, err)
	}
	return nil
}

// SelectList returns the select list for COPY: each stored column encoded
// and aliased to its own quoted name. Generated columns are left out.
func SelectList(plans []ColumnPlan) string {
	s, err := selectList(plans)
	if err != nil {
		// Plans come from PlanTable, whose types all parse; a hand-made plan
		// with a bad type yields SQL that fails loudly in DuckDB instead.
		return "error(" + sqlq.Literal("statsnap: "+err.Error()) + ")"
	}
	return s
}

func selectList(plans []ColumnPlan) (string, error) {
	var parts []string
	for _, p := range plans {
		if p.Generated {
			continue
		}
		t, err := parseType(p.Type)
		if err != nil {
			return "", fmt.Errorf("column %q, type %s: %w", p.Name, p.Type, err)
		}
		if p.Encoding != encodingName(t) {
			return "", fmt.Errorf("column %q: encoding %q does not match type %s", p.Name, p.Encoding, p.Type)
		}
		parts = append(parts, overColumn(p.Name, func(x string) string { return encodeExpr(t, x, 0) })+sqlq.Alias(p.Name))
	}
	if len(parts) == 0 {
		return "", errors.New("no stored columns")
	}
	return strings.Join(parts, ", "), nil
}

// DecodeExpr returns the SQL expression that turns the stored column (read
// back by read_parquet and referenced by its quoted name) into a value of the
// declared type. An Encoding of "" casts whatever DuckDB reads to the
// declared type, which is also how a seed-made (legacy) file is restored.
func DecodeExpr(p ColumnPlan) (string, error) {
	if p.Generated {
		return "", fmt.Errorf("codec: column %q is generated and is not stored", p.Name)
	}
	t, err := parseType(p.Type)
	if err != nil {
		return "", fmt.Errorf("codec: column %q, type %s: %w", p.Name, p.Type, err)
	}
	if p.Encoding == "" {
		if len(p.Shapes) > 0 {
			return "", fmt.Errorf("codec: column %q: encoding \"\" records no VARIANT shapes", p.Name)
		}
		return overColumn(p.Name, func(x string) string { return "CAST(" + x + " AS " + t.sql() + ")" }), nil
	}
	dec, err := checkEncoding(t, p.Encoding)
	if err != nil {
		return "", fmt.Errorf("codec: column %q: %w", p.Name, err)
	}
	if len(p.Shapes) > 0 && !currentVariant(p.Encoding) {
		return "", fmt.Errorf("codec: column %q: encoding %q records no VARIANT shapes", p.Name, p.Encoding)
	}
	if dec.shapes, err = parseShapes(p.Shapes); err != nil {
		return "", fmt.Errorf("codec: column %q: %w", p.Name, err)
	}
	return overColumn(p.Name, func(x string) string { return decodeExpr(t, x, 0, dec) }), nil
}

// DecodeItem is DecodeExpr as a select list item named after the column:
// "<expr> AS <name>", or for a name holding a NUL byte the expression
// alone, which DuckDB names after the column it selects (see
// sqlq.ColumnRef).
func DecodeItem(p ColumnPlan) (string, error) {
	e, err := DecodeExpr(p)
	if err != nil {
		return "", err
	}
	return e + sqlq.Alias(p.Name), nil
}

// overColumn applies expr, which may repeat its argument, to the column
// called name. A name holding a NUL byte can only be referred to through
// COLUMNS, which may appear once in an expression: the value is then bound
// once, as the parameter of a lambda over a one-element list.
func overColumn(name string, expr func(x string) string) string {
	if !sqlq.HasNUL(name) {
		return expr(sqlq.Ident(name))
	}
	ref := sqlq.ColumnRef(name)
	const v = "__statsnap_col"
	e := expr(v)
	if e == v {
		return ref
	}
	if strings.Count(e, v) == 1 && strings.HasPrefix(e, "CAST("+v+" AS ") {
		return strings.Replace(e, v, ref, 1)
	}
	return "list_extract(list_transform([" + ref + "], lambda " + v + ": " + e + "), 1)"
}

// InsertLists returns, for restore, the target of an INSERT and the
// matching decode select list; generated columns are in neither. The target
// is the quoted column list in parentheses, or BY NAME when a column's name
// holds a NUL byte (it cannot be written in a column list; its select item
// is named after it instead), so that restore runs
//
//	INSERT INTO "schema"."table" <target> SELECT <select list> FROM ...
func InsertLists(plans []ColumnPlan) (target, selectList string, err error) {
	var cols, exprs []string
	byName := false
	for _, p := range plans {
		if p.Generated {
			continue
		}
		e, err := DecodeItem(p)
		if err != nil {
			return "", "", err
		}
		if sqlq.HasNUL(p.Name) {
			byName = true
		} else {
			cols = append(cols, sqlq.Ident(p.Name))
		}
		exprs = append(exprs, e)
	}
	if len(exprs) == 0 {
		return "", "", errors.New("codec: no stored columns")
	}
	if byName {
		return "BY NAME", strings.Join(exprs, ", "), nil
	}
	return "(" + strings.Join(cols, ", ") + ")", strings.Join(exprs, ", "), nil
}

// TypeSQL parses a DuckDB type as duckdb_columns() prints it and renders
// it back as SQL with every field name and label quoted; a type this
// package does not know is an error. Restore uses it to write a type read
// from a manifest into SQL.
func TypeSQL(s string) (string, error) {
	t, err := parseType(s)
	if err != nil {
		return "", fmt.Errorf("codec: type %s: %w", s, err)
	}
	return t.sql(), nil
}

// ComparableItem returns a select list item, named after the column, that
// compares and hashes a column of type typ (as DuckDB prints it) by value,
// and whether it differs from the column itself. DuckDB 1.5.6 hashes a
// VARIANT by its internal layout, so that EXCEPT ALL can tell two equal
// VARIANTs apart (and count differently from one query to the next): a
// column holding one is compared as STRUCT("text" VARCHAR, "types"
// VARCHAR[]), its text and the variant_typeof of every node of every
// VARIANT in it (which tells a nested INTERVAL from its text). Its text
// shows a TIMETZ offset to the minute only.
func ComparableItem(name, typ string) (string, bool, error) {
	t, err := parseType(typ)
	if err != nil {
		return "", false, fmt.Errorf("codec: column %q, type %s: %w", name, typ, err)
	}
	if !hasVariant(t) {
		return sqlq.ColumnRef(name), false, nil
	}
	e := overColumn(name, func(x string) string {
		types := eachVariant(t, x, 0, func(v string) string { return "[array_to_string(" + typeSig(v, 0) + ", ',')]" })
		return `CASE WHEN ` + x + ` IS NULL THEN NULL ELSE struct_pack("text" := CAST(` + x + ` AS VARCHAR), "types" := ` + types + ") END"
	})
	return e + sqlq.Alias(name), true, nil
}
