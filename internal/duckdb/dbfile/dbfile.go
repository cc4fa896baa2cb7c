// Package dbfile opens DuckDB database files and turns DuckDB's errors
// about them into errors a caller can decide on with errors.Is.
package dbfile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

var (
	// ErrLocked reports that another process holds the database open for writing.
	ErrLocked = errors.New("database is in use by another process")
	// ErrNotExist reports that there is no database at the path.
	ErrNotExist = errors.New("database does not exist")
)

// LockedError says which process holds a database.
type LockedError struct {
	Path string
	PID  string // empty when DuckDB did not say
	Err  error
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID != "" {
		who = "process " + e.PID
	}
	return fmt.Sprintf("%s is open in %s (DuckDB allows one writer and no reader beside it)", e.Path, who)
}

func (e *LockedError) Unwrap() []error { return []error{ErrLocked, e.Err} }

var pidRe = regexp.MustCompile(`\(PID (\d+)\)`)

// Open opens the database at path. readOnly opens it without taking the
// write lock; it must then exist.
func Open(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	if readOnly {
		fi, err := os.Stat(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
			}
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("open %s: it is a directory, not a DuckDB file", path)
		}
	}
	dsn := path
	q := url.Values{}
	if readOnly {
		q.Set("access_mode", "READ_ONLY")
	}
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, Classify(path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, Classify(path, err)
	}
	return db, nil
}

// Classify maps DuckDB's open errors to LockedError or ErrNotExist.
func Classify(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock"):
		le := &LockedError{Path: path, Err: err}
		if m := pidRe.FindStringSubmatch(msg); m != nil {
			le.PID = m[1]
		}
		return le
	case strings.Contains(msg, "database does not exist"):
		return fmt.Errorf("%s: %w", path, ErrNotExist)
	}
	return fmt.Errorf("open %s: %w", path, err)
}
