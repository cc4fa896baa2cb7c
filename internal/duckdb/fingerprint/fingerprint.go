// Package fingerprint computes, inside DuckDB, a fingerprint of every
// value of every row of a table, per granule of rowids. Backup shares an
// earlier snapshot's file only when the rows it holds have the same
// fingerprint now; diff compares tables without reading their files.
// docs/incremental.md gives the construction and its collision bound.
package fingerprint

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// GranuleRows is how many rowids one granule spans: DuckDB's vector size.
// Fingerprints combine by XOR, so any run of whole granules has one.
const GranuleRows = 1 << granuleShift

// granuleShift: the scan groups by rowid >> 11, which is rowid // 2048 for
// rowids (never negative) and cheaper: DuckDB's integer division checks
// every row for a zero divisor and overflow (0.20 -> 0.14 s of CPU for a
// two-column hash of highlight_events' 12 M rows).
const granuleShift = 11

// Column is a stored column: its name and its type as duckdb_columns()
// prints it.
type Column struct {
	Name string
	Type string
	// Pos is the column's 1-based position in its table (generated
	// columns count), used to refer to a column whose name holds a NUL
	// byte, which SQL text cannot spell; 0 when unknown.
	Pos int
}

// ref is SQL for the column: its quoted name, or #Pos for a name holding a
// NUL byte.
func (c Column) ref() (string, error) {
	if !sqlq.HasNUL(c.Name) {
		return sqlq.Ident(c.Name), nil
	}
	if c.Pos <= 0 {
		return "", fmt.Errorf("fingerprint: column %q: %w, and its position is unknown", c.Name, sqlq.ErrNUL)
	}
	return "#" + strconv.Itoa(c.Pos), nil
}

// Granule is the fingerprint of the rows whose rowid lies in
// [Index*GranuleRows, (Index+1)*GranuleRows).
type Granule struct {
	Index int64
	Sum
}

// Sum is a fingerprint: a row count and two independent 64-bit XORs of
// per-row hashes.
type Sum struct {
	Rows   int64
	X1, X2 uint64
}

// Add folds o into s.
func (s *Sum) Add(o Sum) {
	s.Rows += o.Rows
	s.X1 ^= o.X1
	s.X2 ^= o.X2
}

// Hex is the fingerprint as the manifest records it: 32 hex digits, X1
// then X2 (the row count is recorded beside it).
func (s Sum) Hex() string {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(s.X1 >> (56 - 8*i))
		b[8+i] = byte(s.X2 >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

// Combine folds granules into one fingerprint.
func Combine(gs []Granule) Sum {
	var s Sum
	for _, g := range gs {
		s.Add(g.Sum)
	}
	return s
}

// Over folds the granules whose rowids lie in [lo, hi); lo and hi must be
// multiples of GranuleRows. gs is sorted by Index, as Scan returns it.
func Over(gs []Granule, lo, hi int64) Sum {
	var s Sum
	for _, g := range gs {
		start := g.Index * GranuleRows
		if start >= lo && start < hi {
			s.Add(g.Sum)
		}
	}
	return s
}

// ErrNoRowid means the table has a column named rowid, which hides DuckDB's
// rowid; its rows cannot be fingerprinted by position.
var ErrNoRowid = errors.New("a column named rowid hides DuckDB's rowid")

// Querier runs the scan: *sql.Conn inside the backup's transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Scan fingerprints every row of schema.table, one Granule per granule
// that holds rows, sorted by Index. cols are the stored columns (not the
// generated ones), in table order.
func Scan(ctx context.Context, q Querier, schema, table string, cols []Column) ([]Granule, error) {
	query, err := Query(schema, table, cols)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("fingerprint %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var gs []Granule
	for rows.Next() {
		var g Granule
		if err := rows.Scan(&g.Index, &g.Rows, &g.X1, &g.X2); err != nil {
			return nil, fmt.Errorf("fingerprint %s.%s: %w", schema, table, err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fingerprint %s.%s: %w", schema, table, err)
	}
	return gs, nil
}

// Query is the SQL Scan runs. Both hashes cover the rowid and every
// stored column: h1 DuckDB's hash of the typed values in table order, h2
// the same row through other bytes, in reverse order (see h2Terms).
func Query(schema, table string, cols []Column) (string, error) {
	if len(cols) == 0 {
		return "", errors.New("fingerprint: no stored columns")
	}
	h1 := []string{"rowid"}
	var h2 []string
	for i := range cols {
		if strings.EqualFold(cols[i].Name, "rowid") {
			return "", ErrNoRowid
		}
		id, err := cols[i].ref()
		if err != nil {
			return "", err
		}
		h1 = append(h1, h1Terms(cols[i], id)...)
		c := cols[len(cols)-1-i]
		id, err = c.ref()
		if err != nil {
			return "", err
		}
		h2 = append(h2, h2Terms(c, id)...)
	}
	h2 = append(h2, "rowid")
	return "SELECT rowid >> " + strconv.Itoa(granuleShift) + ", count(*)::BIGINT, " +
		"bit_xor(hash(" + strings.Join(h1, ", ") + ")), bit_xor(hash(" + strings.Join(h2, ", ") + ")) " +
		"FROM " + sqlq.Ident(schema) + "." + sqlq.Ident(table) + " GROUP BY 1 ORDER BY 1", nil
}

// Version identifies the construction of Query's two hashes, recorded
// beside every fingerprint (snapshot.Table.FingerprintVersion): two
// fingerprints say something about their rows only when they were made
// the same way. Version 1 (manifests without the field) gave the first
// hash no sign of zero; version 2 gives it to both.
const Version = 2

// h1Terms are the first hash's terms for one column: the typed value,
// which DuckDB's hash mixes by value, plus what that hash holds equal and
// a restore must not (hash(-0.0) = hash(0.0), as SQL equality has it):
//   - FLOAT and DOUBLE add their sign bit;
//   - a nested or VARIANT type that may hold floating-point values is
//     hashed by its text, which writes -0.0 as such (h2 then hashes that
//     text behind a prefix, so that one string-hash collision does not
//     collide both).
//
// NaN payloads are the one difference neither hash sees: SQL has one NaN
// (every NaN is equal to every other), and so does DuckDB's text.
func h1Terms(c Column, id string) []string {
	t := strings.ToUpper(strings.TrimSpace(c.Type))
	switch {
	case t == "FLOAT" || t == "DOUBLE" || t == "REAL":
		return []string{id, "signbit(" + id + ")"}
	case floatInside(t):
		return []string{id + "::VARCHAR"}
	}
	return []string{id}
}

// floatInside reports a type other than FLOAT and DOUBLE themselves that
// may hold one: a LIST, ARRAY, STRUCT, MAP or UNION naming one, or a
// VARIANT. A field merely named like a float type also matches, which
// costs only speed.
func floatInside(t string) bool {
	return t == "VARIANT" || floatWord.MatchString(t)
}

var floatWord = regexp.MustCompile(`\b(FLOAT|DOUBLE|REAL|FLOAT4|FLOAT8)\b`)

// h2Terms are the second hash's terms for one column, chosen so that what
// collides in DuckDB's hash of the typed value does not collide again:
//   - strings and blobs get a one-byte prefix, which shifts every block the
//     string hash mixes (a suffix would keep a collided state colliding);
//   - FLOAT and DOUBLE add their sign bit, since hash(-0.0) = hash(0.0);
//   - integers, dates, times, timestamps, booleans and ENUMs are hashed by a
//     bijection of their value already: they are kept as they are;
//   - types that may hold a float (h1 hashes their text) by that text
//     behind the prefix;
//   - everything else (nested types, 128-bit integers, UUID, INTERVAL,
//     DECIMAL wider than 18 digits, BIT, ...) by its text, which DuckDB
//     writes losslessly for them.
func h2Terms(c Column, id string) []string {
	t := strings.ToUpper(strings.TrimSpace(c.Type))
	switch {
	case t == "VARCHAR" || strings.HasPrefix(t, "VARCHAR(") || t == "JSON":
		return []string{"'~' || " + id + "::VARCHAR"}
	case t == "BLOB":
		return []string{"'~'::BLOB || " + id}
	case t == "FLOAT" || t == "DOUBLE" || t == "REAL":
		return []string{id, "signbit(" + id + ")"}
	case bijective[t], strings.HasPrefix(t, "ENUM("), smallDecimal(t):
		return []string{id}
	case floatInside(t):
		// h1 hashes this text already (h1Terms).
		return []string{"'~' || " + id + "::VARCHAR"}
	}
	return []string{id + "::VARCHAR"}
}

var bijective = map[string]bool{
	"BOOLEAN": true, "TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true,
	"DATE": true, "TIME": true, "TIME_NS": true, "TIMESTAMP": true, "TIMESTAMP_S": true,
	"TIMESTAMP_MS": true, "TIMESTAMP_NS": true, "TIMESTAMP WITH TIME ZONE": true,
}

// smallDecimal reports a DECIMAL(p,s) with p <= 18, which DuckDB stores
// in at most 64 bits.
func smallDecimal(t string) bool {
	if !strings.HasPrefix(t, "DECIMAL(") {
		return false
	}
	p, _, _ := strings.Cut(strings.TrimPrefix(t, "DECIMAL("), ",")
	n, err := strconv.Atoi(strings.TrimSpace(p))
	return err == nil && n <= 18
}
