package diff

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/snapview"
	"github.com/openspartan/statsnap/snapshot"
)

// Relation is one side of a row comparison: a SELECT yielding a table's
// rows with their declared types.
type Relation struct {
	Label string
	SQL   string
}

// FilesRelation reads a snapshot's table from paths (verified local
// copies of its files, in row order), decoded through the manifest's
// column encodings.
func FilesRelation(label string, t *snapshot.Table, paths []string) (Relation, error) {
	q, _, err := snapview.Select(t, paths)
	if err != nil {
		return Relation{}, err
	}
	return Relation{Label: label, SQL: q}, nil
}

// LiveRelation reads a table of the live database, each stored column cast
// to its declared type as a restore of it would be (generated columns are
// not stored in snapshots, so they are left out here too).
func LiveRelation(t *snapshot.Table) (Relation, error) {
	var exprs []string
	for _, c := range t.Columns {
		if c.Generated {
			continue
		}
		e, err := codec.DecodeItem(codec.ColumnPlan{Name: c.Name, Type: c.Type})
		if err != nil {
			return Relation{}, err
		}
		exprs = append(exprs, e)
	}
	if len(exprs) == 0 {
		return Relation{}, fmt.Errorf("table %s has no stored column", snapshot.TableKey(t.Schema, t.Name))
	}
	if err := sqlq.Check(t.Schema); err != nil {
		return Relation{}, err
	}
	if err := sqlq.Check(t.Name); err != nil {
		return Relation{}, err
	}
	return Relation{Label: "live", SQL: "SELECT " + strings.Join(exprs, ", ") + " FROM " + sqlq.Qualified(t.Schema, t.Name)}, nil
}

// RowsOptions bound a row comparison's output.
type RowsOptions struct {
	// Limit is the most rows listed each way (added, removed); the counts
	// are always complete. 0 means 100.
	Limit int
	// MaxValue is the most bytes of one value shown; longer ones are cut
	// and end in "…". 0 means 1024.
	MaxValue int
}

// RowsReport lists the rows of B that A lacks (added) and those of A that
// B lacks (removed), as multisets: a row held twice in B and once in A is
// added once.
type RowsReport struct {
	Table string `json:"table"`
	// Columns are the columns compared: those both sides have, in B's
	// order. AsText are those whose types differ, compared by their text.
	// OnlyA and OnlyB are the columns one side lacks, not compared.
	Columns      []string    `json:"columns"`
	AsText       []string    `json:"compared_as_text"`
	OnlyA        []string    `json:"only_in_a"`
	OnlyB        []string    `json:"only_in_b"`
	AddedCount   int64       `json:"added_count"`
	RemovedCount int64       `json:"removed_count"`
	Added        [][]*string `json:"added"`
	Removed      [][]*string `json:"removed"`
	// Truncated: more rows differ than Limit shows.
	Truncated bool `json:"truncated"`
	Limit     int  `json:"limit"`
	// SharedFiles is how many files of A were left out because B holds
	// the same bytes (see SharedParts): their rows cancel out unread.
	SharedFiles int `json:"shared_files_skipped"`
}

// Rows compares the rows of a and b with DuckDB's EXCEPT ALL both ways, on
// conn. The listed rows are ordered by their text, so that output is
// stable; each value is shown as DuckDB casts it to VARCHAR.
func Rows(ctx context.Context, conn *sql.Conn, table string, a, b Relation, opt RowsOptions) (*RowsReport, error) {
	if opt.Limit <= 0 {
		opt.Limit = 100
	}
	if opt.MaxValue <= 0 {
		opt.MaxValue = 1024
	}
	ca, err := describe(ctx, conn, a)
	if err != nil {
		return nil, err
	}
	cb, err := describe(ctx, conn, b)
	if err != nil {
		return nil, err
	}
	r := &RowsReport{Table: table, Columns: []string{}, AsText: []string{}, OnlyA: []string{}, OnlyB: []string{},
		Added: [][]*string{}, Removed: [][]*string{}, Limit: opt.Limit}
	typeA := map[string]string{}
	for _, c := range ca {
		typeA[c.name] = c.typ
	}
	inB := map[string]bool{}
	byValue := map[string]bool{} // compared by codec.ComparableItem's struct
	var sel []string
	for _, c := range cb {
		inB[c.name] = true
		ta, ok := typeA[c.name]
		if !ok {
			r.OnlyB = append(r.OnlyB, c.name)
			continue
		}
		// A name holding a NUL byte is referred to by COLUMNS, which
		// names the result after the column (sqlq.ColumnRef).
		id := sqlq.ColumnRef(c.name)
		r.Columns = append(r.Columns, c.name)
		if ta != c.typ {
			r.AsText = append(r.AsText, c.name)
			sel = append(sel, "CAST("+id+" AS VARCHAR)"+sqlq.Alias(c.name))
			continue
		}
		e, exact, err := codec.ComparableItem(c.name, c.typ)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		if exact {
			byValue[c.name] = true
		}
		sel = append(sel, e)
	}
	for _, c := range ca {
		if !inB[c.name] {
			r.OnlyA = append(r.OnlyA, c.name)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("table %s: the two sides have no column in common", table)
	}
	list := strings.Join(sel, ", ")
	qa := "SELECT " + list + " FROM (" + a.SQL + ")"
	qb := "SELECT " + list + " FROM (" + b.SQL + ")"
	text := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		text[i] = "CAST(" + sqlq.ColumnRef(c) + " AS VARCHAR)"
		if byValue[c] {
			text[i] = "struct_extract(" + sqlq.ColumnRef(c) + ", 'text')"
		}
	}
	for _, way := range []struct {
		from, minus string
		count       *int64
		rows        *[][]*string
	}{{qb, qa, &r.AddedCount, &r.Added}, {qa, qb, &r.RemovedCount, &r.Removed}} {
		diff := "(" + way.from + " EXCEPT ALL " + way.minus + ")"
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+diff).Scan(way.count); err != nil {
			return nil, fmt.Errorf("compare the rows of %s: %w", table, err)
		}
		if *way.count == 0 {
			continue
		}
		if *way.count > int64(opt.Limit) {
			r.Truncated = true
		}
		q := fmt.Sprintf("SELECT %s FROM %s ORDER BY ALL LIMIT %d", strings.Join(text, ", "), diff, opt.Limit)
		got, err := textRows(ctx, conn, q, len(r.Columns), opt.MaxValue)
		if err != nil {
			return nil, fmt.Errorf("list the changed rows of %s: %w", table, err)
		}
		*way.rows = got
	}
	return r, nil
}

type column struct{ name, typ string }

// describe returns the columns a relation yields, as DuckDB binds it.
func describe(ctx context.Context, conn *sql.Conn, rel Relation) ([]column, error) {
	rows, err := conn.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE "+rel.SQL+")")
	if err != nil {
		return nil, fmt.Errorf("read the rows of %s: %w", rel.Label, err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, fmt.Errorf("read the rows of %s: %w", rel.Label, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the rows of %s: %w", rel.Label, err)
	}
	return out, nil
}

func textRows(ctx context.Context, conn *sql.Conn, q string, n, maxValue int) ([][]*string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := [][]*string{}
	for rows.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, n)
		for i, v := range vals {
			if v.Valid {
				s := cut(v.String, maxValue)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// cut shortens s to at most limit bytes, on a character boundary, marking
// the cut with "…".
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
