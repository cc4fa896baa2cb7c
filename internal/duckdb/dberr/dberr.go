// Package dberr is the one place that reads DuckDB's errors. DuckDB
// reports most failures as text (duckdb.Error carries a coarse type and a
// message); this package turns them into errors the rest of statsnap
// decides on with errors.Is and errors.As, so that no other package ever
// matches DuckDB's wording, and a DuckDB upgrade that rewords a message
// is fixed here alone.
package dberr

import (
	"errors"
	"io/fs"
	"regexp"
	"strings"
	"syscall"

	"github.com/duckdb/duckdb-go/v2"
)

// Sentinels a classified error may match with errors.Is, beside
// syscall.ENOSPC, syscall.EROFS and fs.ErrPermission for the operating
// system's failures DuckDB only reports as text.
var (
	// ErrOutOfMemory: the statement ran past DuckDB's memory_limit.
	ErrOutOfMemory = errors.New("DuckDB ran out of memory")
	// ErrConstraint: a row broke a primary key, unique, NOT NULL, CHECK
	// or foreign key constraint.
	ErrConstraint = errors.New("constraint violated")
	// ErrMultiStatement: a string given to Prepare holds more than one
	// statement.
	ErrMultiStatement = errors.New("more than one statement")
	// ErrDatabaseLocked: another process holds the database file's lock.
	ErrDatabaseLocked = errors.New("database file is locked by another process")
	// ErrDatabaseMissing: DuckDB found no database file at the path.
	ErrDatabaseMissing = errors.New("database file does not exist")
	// ErrStorageTooOld: the database's storage version cannot hold the
	// type (VARIANT before v1.5.0, for one).
	ErrStorageTooOld = errors.New("type not supported by the database's storage version")
	// ErrVariantUnstorable: a value inside a VARIANT has no Parquet
	// Variant form (an INTERVAL nested in an object, an integer beyond 64
	// signed bits, ...).
	ErrVariantUnstorable = errors.New("VARIANT value has no Parquet Variant form")
)

// Error is a DuckDB error with the sentinels it matches.
type Error struct {
	Err   error   // DuckDB's (or the driver's) error
	kinds []error // sentinels, see Classify
	// PID is the process holding the database, when DuckDB named it
	// (ErrDatabaseLocked).
	PID string
	// Key is the duplicate key DuckDB printed (ErrConstraint), e.g.
	// `match_id: abc`, or "".
	Key string
	// Catalog is the missing catalog a binder error named, or "".
	Catalog string
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns DuckDB's error and the sentinels.
func (e *Error) Unwrap() []error { return append([]error{e.Err}, e.kinds...) }

var (
	pidRe            = regexp.MustCompile(`\(PID (\d+)\)`)
	dupKeyRe         = regexp.MustCompile(`(?s)Duplicate key "(.*?)" violates (primary key|unique) constraint`)
	missingCatalogRe = regexp.MustCompile(`Catalog "([^"]+)" does not exist`)
)

// Classify returns err as an *Error that matches the sentinels its text
// and type say, or err itself when it is nil or says nothing known. It is
// safe on any error: a wrapped DuckDB error is found with errors.As, and
// the driver's own errors (which are not duckdb.Error) are read too.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	msg := err.Error()
	e := &Error{Err: err}
	var de *duckdb.Error
	typed := errors.As(err, &de)
	add := func(k error) { e.kinds = append(e.kinds, k) }
	if (typed && de.Type == duckdb.ErrorTypeOutOfMemory) || strings.Contains(msg, "Out of Memory Error") {
		add(ErrOutOfMemory)
	}
	if (typed && de.Type == duckdb.ErrorTypeConstraint) || strings.Contains(msg, "Constraint Error") {
		add(ErrConstraint)
		if m := dupKeyRe.FindStringSubmatch(msg); m != nil {
			e.Key = m[1]
		}
	}
	if strings.Contains(msg, "multi-statement") {
		add(ErrMultiStatement)
	}
	if strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock") {
		add(ErrDatabaseLocked)
		if m := pidRe.FindStringSubmatch(msg); m != nil {
			e.PID = m[1]
		}
	}
	if strings.Contains(msg, "database does not exist") {
		add(ErrDatabaseMissing)
	}
	if strings.Contains(msg, "not supported in storage versions") {
		add(ErrStorageTooOld)
	}
	if strings.Contains(msg, "to Parquet VARIANT") || (strings.Contains(msg, "can't be cast because the value is out of range for the destination type INT64") &&
		strings.Contains(msg, "Invalid Input Error")) {
		add(ErrVariantUnstorable)
	}
	if m := missingCatalogRe.FindStringSubmatch(msg); m != nil {
		e.Catalog = m[1]
	}
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "no space left on device"):
		add(syscall.ENOSPC)
	case strings.Contains(lower, "read-only file system"):
		add(syscall.EROFS)
	case strings.Contains(lower, "permission denied"):
		add(fs.ErrPermission)
	}
	if len(e.kinds) == 0 && e.Catalog == "" {
		return err
	}
	return e
}

// Is reports whether err, classified, matches target.
func Is(err, target error) bool { return errors.Is(Classify(err), target) }

// DuplicateKey returns the key a constraint error printed, or "".
func DuplicateKey(err error) string {
	var e *Error
	if errors.As(Classify(err), &e) {
		return e.Key
	}
	return ""
}

// MissingCatalog returns the catalog a binder error says does not exist.
func MissingCatalog(err error) (string, bool) {
	var e *Error
	if errors.As(Classify(err), &e) && e.Catalog != "" {
		return e.Catalog, true
	}
	return "", false
}

// LockHolder returns the PID of the process holding a database, when err
// is DuckDB's lock conflict and it named one.
func LockHolder(err error) (pid string, locked bool) {
	var e *Error
	if errors.As(Classify(err), &e) && errors.Is(e, ErrDatabaseLocked) {
		return e.PID, true
	}
	return "", false
}

// Summary is the first line of DuckDB's message without the driver's
// "could not connect to database: " prefix, for a sentence of our own.
func Summary(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if _, after, ok := strings.Cut(msg, "could not connect to database: "); ok {
		msg = after
	}
	return msg
}
