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

// ErrNUL is a name holding a NUL byte. DuckDB identifiers cannot, and the C
// API would cut the statement short at it.
var ErrNUL = errors.New("identifier contains a NUL byte")

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
// which is then a programming error (DuckDB's own catalog names never
// hold one, and manifest names are checked with Check first).
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
