// Package sqlq quotes identifiers and string literals for DuckDB SQL.
//
// It is the one place statsnap quotes SQL: the catalog reader, the codecs,
// backup and restore all build their statements with it. It is a leaf
// package of its own (rather than part of catalog or codec) so that each
// of those can use it without importing the other.
package sqlq

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL is a name holding a NUL byte. DuckDB's catalog can hold one
// (read_csv_auto names a column after a CSV header with a NUL in it), but
// SQL text cannot: the C API ends a statement at its first NUL. Such a name
// can still be referred to in a select list with ColumnRef, and built as a
// value with LiteralNUL; it can never be quoted as an identifier.
var ErrNUL = errors.New("identifier contains a NUL byte")

// HasNUL reports whether s holds a NUL byte.
func HasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// Check reports whether s can be quoted as an identifier. Callers holding
// names from untrusted input (a manifest) call it before Ident.
func Check(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	return nil
}

// IdentErr quotes an identifier, doubling any double quote, or refuses a
// name holding a NUL byte.
func IdentErr(s string) (string, error) {
	if err := Check(s); err != nil {
		return "", err
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`, nil
}

// Ident is IdentErr for names already checked: it panics on a NUL byte,
// which is then a programming error (names that may hold one go through
// ColumnRef, and manifest names are checked with Check first).
func Ident(s string) string {
	q, err := IdentErr(s)
	if err != nil {
		panic(fmt.Sprintf("sqlq: %v: %q", err, s))
	}
	return q
}

// Qualified returns "schema"."name", both quoted with Ident.
func Qualified(schema, name string) string { return Ident(schema) + "." + Ident(name) }

// Literal quotes a string literal, doubling any single quote. DuckDB
// string literals have no backslash escapes, so nothing else needs
// escaping. A NUL byte is not refused: the C API ends the statement at it,
// inside the literal, so the statement fails to parse instead of changing
// meaning.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// LiteralNUL is Literal for a string that may hold NUL bytes: the NULs are
// spliced in with chr(0), so that the SQL text itself never holds one. The
// result is a parenthesised expression of type VARCHAR.
func LiteralNUL(s string) string {
	if !HasNUL(s) {
		return Literal(s)
	}
	parts := strings.Split(s, "\x00")
	for i, p := range parts {
		parts[i] = Literal(p)
	}
	return "(" + strings.Join(parts, " || chr(0) || ") + ")"
}

// ColumnRef returns SQL that refers to the column called name in a select
// list: its quoted name, or for a name holding a NUL byte,
//
//	COLUMNS(lambda __statsnap_c: __statsnap_c = ('a' || chr(0) || 'b'))
//
// which selects the one column of exactly that name. DuckDB names the
// result of an expression over such a COLUMNS after the column itself, so
// it must not be given an alias (Alias returns "" for such a name), and it
// may appear only once in one expression: DuckDB refuses two COLUMNS in one
// expression, even identical ones.
func ColumnRef(name string) string {
	if !HasNUL(name) {
		return Ident(name)
	}
	return "COLUMNS(lambda __statsnap_c: __statsnap_c = " + LiteralNUL(name) + ")"
}

// Alias returns " AS <quoted name>" to name a select list item, or "" for a
// name holding a NUL byte, whose item is named by its ColumnRef instead.
func Alias(name string) string {
	if HasNUL(name) {
		return ""
	}
	return " AS " + Ident(name)
}
