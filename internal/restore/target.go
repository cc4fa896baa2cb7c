package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/fsutil"
)

// WorkPrefix starts the name of the private folder a restore works in,
// next to the target: the verified copies of the snapshot's files and, for
// a new database, the database being built. Being in the target's folder
// keeps the final rename on one file system.
const WorkPrefix = ".statsnap-restore-"

// workDir is a restore's private folder, held by an advisory lock for as
// long as the restore runs so that a later restore can tell a folder left
// by a killed process from one in use (fsutil.Scratch). One without a
// lock file is taken for a leftover after an hour: nothing but statsnap
// names a folder so beside a database.
type workDir struct {
	path    string
	scratch *fsutil.Scratch
}

func newWorkDir(parent string) (*workDir, error) {
	s, err := fsutil.NewScratchAs(parent, WorkPrefix, WorkPrefix, time.Hour)
	if err != nil {
		return nil, fmt.Errorf("create a work folder next to the target: %w", err)
	}
	return &workDir{path: s.Dir, scratch: s}, nil
}

func (w *workDir) remove() {
	if w == nil {
		return
	}
	_ = w.scratch.Remove()
}

var storageVersionRe = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// ValidStorageVersion reports whether s has the form of a DuckDB storage
// version (v1.0.0); DuckDB itself says which ones it can write.
func ValidStorageVersion(s string) bool { return storageVersionRe.MatchString(s) }

// ErrStorageVersionExisting means a storage version was asked for an
// existing target, which keeps its own.
var ErrStorageVersionExisting = errors.New("a storage version applies only to a new database")

// storageVersion turns the manifest's storage version ("v1.2.0+", as
// duckdb_databases() tags it) into what DuckDB accepts, or "".
func storageVersion(s string) string {
	s = strings.TrimSuffix(s, "+")
	if storageVersionRe.MatchString(s) {
		return s
	}
	return ""
}

// openDB opens a DuckDB file for restore. version, when set, is the
// storage version a new file is created with.
func openDB(ctx context.Context, path string, readOnly bool, version string) (*sql.DB, error) {
	return dbfile.OpenWith(ctx, path, dbfile.Options{ReadOnly: readOnly, StorageVersion: version})
}

// state is what the target holds, read inside restore's transaction (or
// from the read-only target in a dry run).
type state struct {
	exists    bool
	tables    map[string]*tstate
	schemas   map[string]bool
	sequences map[string]int64 // key → the value its next nextval returns
	seqDeps   map[string][]string
	views     map[string]bool
	macros    map[string]bool
	types     map[string]bool
	indexes   map[string]bool // objKey("index", schema, name)
	// referencedBy maps a table key to the tables whose foreign keys
	// point at it.
	referencedBy map[string][]string
}

// tstate is one table of the target.
type tstate struct {
	schema, name string
	rows         int64
	plans        []codec.ColumnPlan
	nullable     map[string]bool
	hasDefault   map[string]bool
	pk           []string // primary key columns, in order
}

func emptyState() *state {
	return &state{tables: map[string]*tstate{}, schemas: map[string]bool{"main": true}, sequences: map[string]int64{},
		seqDeps: map[string][]string{}, views: map[string]bool{}, macros: map[string]bool{}, types: map[string]bool{},
		indexes: map[string]bool{}, referencedBy: map[string][]string{}}
}

// readState reads the target's catalog. withRows counts the rows of the
// tables named in count.
func readState(ctx context.Context, q querier, count map[string]bool) (*state, error) {
	st := emptyState()
	st.exists = true
	type pair struct{ a, b string }
	list := func(query string) ([]pair, error) {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []pair
		for rows.Next() {
			var p pair
			if err := rows.Scan(&p.a, &p.b); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, rows.Err()
	}
	const in = ` WHERE database_name = current_database()`
	ps, err := list(`SELECT schema_name, schema_name FROM duckdb_schemas()` + in)
	if err != nil {
		return nil, fmt.Errorf("read the target's schemas: %w", err)
	}
	for _, p := range ps {
		st.schemas[p.a] = true
	}
	if ps, err = list(`SELECT schema_name, table_name FROM duckdb_tables()` + in + ` AND NOT temporary`); err != nil {
		return nil, fmt.Errorf("read the target's tables: %w", err)
	}
	for _, p := range ps {
		st.tables[catalog.Key(p.a, p.b)] = &tstate{schema: p.a, name: p.b}
	}
	if ps, err = list(`SELECT schema_name, view_name FROM duckdb_views()` + in + ` AND NOT internal AND NOT temporary`); err != nil {
		return nil, fmt.Errorf("read the target's views: %w", err)
	}
	for _, p := range ps {
		st.views[catalog.Key(p.a, p.b)] = true
	}
	if ps, err = list(`SELECT schema_name, function_name FROM duckdb_functions()` + in + ` AND NOT internal AND function_type IN ('macro', 'table_macro')`); err != nil {
		return nil, fmt.Errorf("read the target's macros: %w", err)
	}
	for _, p := range ps {
		st.macros[catalog.Key(p.a, p.b)] = true
	}
	if ps, err = list(`SELECT schema_name, type_name FROM duckdb_types()` + in + ` AND NOT internal`); err != nil {
		return nil, fmt.Errorf("read the target's types: %w", err)
	}
	for _, p := range ps {
		st.types[catalog.Key(p.a, p.b)] = true
	}
	if ps, err = list(`SELECT schema_name, index_name FROM duckdb_indexes()` + in); err != nil {
		return nil, fmt.Errorf("read the target's indexes: %w", err)
	}
	for _, p := range ps {
		st.indexes[objKey("index", p.a, p.b)] = true
	}
	rows, err := q.QueryContext(ctx, `SELECT schema_name, sequence_name, sql FROM duckdb_sequences()`+in+` AND NOT temporary`)
	if err != nil {
		return nil, fmt.Errorf("read the target's sequences: %w", err)
	}
	for rows.Next() {
		var s, n, ddl string
		if err := rows.Scan(&s, &n, &ddl); err != nil {
			rows.Close()
			return nil, err
		}
		next, err := nextFromDDL(ddl)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sequence %s: %w", catalog.Key(s, n), err)
		}
		st.sequences[catalog.Key(s, n)] = next
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the target's sequences: %w", err)
	}
	if st.seqDeps, err = sequenceDependents(ctx, q); err != nil {
		return nil, err
	}
	if ps, err = list(`SELECT schema_name || chr(0) || table_name, referenced_table FROM duckdb_constraints()` + in + ` AND constraint_type = 'FOREIGN KEY' AND referenced_table IS NOT NULL`); err != nil {
		return nil, fmt.Errorf("read the target's foreign keys: %w", err)
	}
	for _, p := range ps {
		schema, table, _ := strings.Cut(p.a, "\x00")
		// DuckDB only allows foreign keys within one schema.
		ref := catalog.Key(schema, p.b)
		st.referencedBy[ref] = append(st.referencedBy[ref], catalog.Key(schema, table))
	}
	for key := range count {
		if err := st.describe(ctx, q, key); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func nextFromDDL(ddl string) (int64, error) {
	m := seqStartRe.FindStringSubmatch(ddl)
	if m == nil {
		return 0, fmt.Errorf("no START in %q", ddl)
	}
	var n int64
	_, err := fmt.Sscan(m[1], &n)
	return n, err
}

// describe fills in the columns, constraints and row count of one table.
func (st *state) describe(ctx context.Context, q querier, key string) error {
	t, ok := st.tables[key]
	if !ok {
		return nil
	}
	var err error
	if t.plans, err = codec.PlanTable(ctx, q, t.schema, t.name); err != nil {
		return fmt.Errorf("read the target's table %s: %w", key, err)
	}
	t.nullable, t.hasDefault = map[string]bool{}, map[string]bool{}
	rows, err := q.QueryContext(ctx, `SELECT column_name, is_nullable, column_default IS NOT NULL FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?`, t.schema, t.name)
	if err != nil {
		return fmt.Errorf("read the target's table %s: %w", key, err)
	}
	for rows.Next() {
		var c string
		var n, d bool
		if err := rows.Scan(&c, &n, &d); err != nil {
			rows.Close()
			return err
		}
		t.nullable[c], t.hasDefault[c] = n, d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var pk []any
	err = q.QueryRowContext(ctx, `SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = current_database() AND schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'`, t.schema, t.name).Scan(&pk)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read the primary key of %s: %w", key, err)
	default:
		for _, c := range pk {
			t.pk = append(t.pk, fmt.Sprint(c))
		}
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlq.Qualified(t.schema, t.name)).Scan(&t.rows); err != nil {
		return fmt.Errorf("count the rows of %s: %w", key, err)
	}
	return nil
}

// publish moves a finished new database into place without ever
// replacing a file that appeared there meanwhile: a hard link fails if
// the name exists, and only then is the temporary name dropped.
func publish(tmp, final string) error {
	if err := fsutil.PublishNew(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s appeared while restoring; it was left as it is", final)
		}
		return fmt.Errorf("move the new database into place: %w", err)
	}
	return nil
}
