// Package dbfile opens DuckDB database files and turns DuckDB's errors
// about them into errors a caller can decide on with errors.Is.
package dbfile

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

var (
	// ErrLocked reports that another process holds the database open for writing.
	ErrLocked = errors.New("database is in use by another process")
	// ErrNotExist reports that there is no database at the path.
	ErrNotExist = errors.New("database does not exist")
	// ErrQuestionMark reports a path holding a '?', where DuckDB cannot
	// keep a database: it names the WAL by inserting ".wal" before the
	// first '?' (for URLs), so the WAL would go elsewhere, or be missed.
	ErrQuestionMark = errors.New("DuckDB cannot open a database whose path contains '?' (it would look for the WAL elsewhere); rename the file or folder")
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

// Options say how Open opens a database file.
type Options struct {
	// ReadOnly opens the file without taking the write lock; it must then
	// exist.
	ReadOnly bool
	// StorageVersion, when set, is the storage version a new file is
	// created with (DuckDB's STORAGE_VERSION, e.g. "v1.2.0").
	StorageVersion string
	// TempDir is where DuckDB spills what does not fit its memory limit
	// (empty: DuckDB's own default for a file, the path plus ".tmp").
	TempDir string
}

// Open opens the database at path. readOnly opens it without taking the
// write lock; it must then exist.
func Open(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	return OpenWith(ctx, path, Options{ReadOnly: readOnly})
}

// OpenWith opens the database at path as o says.
//
// duckdb-go reads its DSN as a URL: the file name is everything before the
// first '?', and the options are parsed from what url.Parse calls the
// query. A '#' in a path turns the options into a fragment (so READ_ONLY
// silently vanished and a backup checkpointed the app's WAL into its
// file), a '?' cuts the name, a '%' or a "c:" makes the DSN unparsable. So
// no path ever goes into a DSN: DuckDB starts in memory, with options
// escaped by url.Values, and the file is attached by a quoted SQL string
// literal, under the name DuckDB itself would give it, and made every
// connection's default database.
func OpenWith(ctx context.Context, path string, o Options) (*sql.DB, error) {
	if path == "" || path == ":memory:" {
		return openMemory(ctx, o)
	}
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("open %s: %w", path, ErrQuestionMark)
	}
	if o.ReadOnly {
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
	tmp := o.TempDir
	if tmp == "" {
		tmp = path + ".tmp"
	}
	q := url.Values{}
	q.Set("temp_directory", tmp)
	if !o.ReadOnly {
		// Every commit is checkpointed into the file instead of being
		// appended to the WAL. DuckDB replays a torn WAL (a process
		// killed while writing its commit) up to the tear, and a
		// sequence's value is replayed outside the transaction: the file
		// came back with the rows of before and its sequences advanced
		// (TestCommitLeavesNoWAL; the sample's add met it, and a restore
		// into an existing database commits the same way). A checkpoint
		// writes the file's new header last, so a kill during one leaves
		// the file as it was.
		q.Set("checkpoint_threshold", "0b")
	}
	name := Name(path)
	var attachOpts []string
	if o.ReadOnly {
		attachOpts = append(attachOpts, "READ_ONLY")
	}
	if o.StorageVersion != "" {
		attachOpts = append(attachOpts, "STORAGE_VERSION "+sqlq.Literal(o.StorageVersion))
	}
	attach := "ATTACH " + sqlq.Literal(path) + " AS " + sqlq.Ident(name)
	if len(attachOpts) > 0 {
		attach += " (" + strings.Join(attachOpts, ", ") + ")"
	}
	use := "USE " + sqlq.Ident(name)
	var (
		once      sync.Once
		attachErr error
	)
	// The attachment is the instance's, made by its first connection;
	// USE is each connection's own, so every connection the pool opens
	// runs it.
	init := func(ex driver.ExecerContext) error {
		once.Do(func() {
			_, attachErr = ex.ExecContext(ctx, attach, nil)
		})
		if attachErr != nil {
			return attachErr
		}
		_, err := ex.ExecContext(context.Background(), use, nil)
		return err
	}
	c, err := duckdb.NewConnector("?"+q.Encode(), init)
	if err != nil {
		return nil, Classify(path, err)
	}
	db := sql.OpenDB(c)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, Classify(path, err)
	}
	return db, nil
}

func openMemory(ctx context.Context, o Options) (*sql.DB, error) {
	q := url.Values{}
	if o.TempDir != "" {
		q.Set("temp_directory", o.TempDir)
	}
	c, err := duckdb.NewConnector("?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("open an in-memory database: %w", err)
	}
	db := sql.OpenDB(c)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open an in-memory database: %w", err)
	}
	return db, nil
}

// Name is the catalog name a database file gets, the one DuckDB gives a
// file it opens as its main database: the file name up to its first dot.
// Names DuckDB reserves for its own catalogs get a "_db" suffix.
func Name(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	switch strings.ToLower(base) {
	case "", "memory", "system", "temp", "main":
		base += "_db"
	}
	return base
}

// Classify maps DuckDB's open errors to LockedError or ErrNotExist.
func Classify(path string, err error) error {
	if pid, locked := dberr.LockHolder(err); locked {
		return &LockedError{Path: path, PID: pid, Err: err}
	}
	if dberr.Is(err, dberr.ErrDatabaseMissing) {
		return fmt.Errorf("%s: %w", path, ErrNotExist)
	}
	return fmt.Errorf("open %s: %w", path, dberr.Classify(err))
}

// Confine limits what SQL on conn can read or write to the folder dir
// (and to databases attached before): restore and diff read verified
// copies there and nothing else, so no name from a manifest can make
// DuckDB open another file. The settings are the DuckDB instance's and
// cannot be turned back on while it runs.
func Confine(ctx context.Context, conn *sql.Conn, dir string) error {
	for _, q := range []string{
		"SET allowed_directories = [" + sqlq.Literal(dir+string(filepath.Separator)) + "]",
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("restrict file access: %s: %w", q, err)
		}
	}
	return nil
}
