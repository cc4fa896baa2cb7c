// Package catalog reads what a DuckDB database holds besides table rows:
// tables with their DDL, schemas, named types, sequences, indexes, views,
// macros and comments, so that a snapshot can rebuild a database the
// application can keep writing to.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// Querier is satisfied by *sql.DB, *sql.Conn and *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Table is one base table.
type Table struct {
	Schema    string
	Name      string
	CreateSQL string
	Comment   string
	Columns   []Column // in order
	// EstimatedRows is DuckDB's estimate (duckdb_tables().estimated_size),
	// enough to start the largest tables first.
	EstimatedRows int64
}

// Column is a column's name and declared type.
type Column struct {
	Name string
	Type string
}

// Key names a table the way the manifest does: "name" in main, "schema.name" elsewhere.
func (t Table) Key() string { return Key(t.Schema, t.Name) }

// Key names a table the way the manifest does.
func Key(schema, name string) string { return snapshot.TableKey(schema, name) }

// Object is a database object kept as DDL.
type Object struct {
	Kind   string `json:"kind"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Table  string `json:"table,omitempty"` // the table an index belongs to
	SQL    string `json:"sql"`
}

// Sequence is a sequence with the value its next nextval must return.
type Sequence struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	SQL       string `json:"sql"`
	Next      int64  `json:"next_value"`
	Increment int64  `json:"increment_by"`
}

// Catalog is everything read from one database.
type Catalog struct {
	DuckDBVersion  string
	StorageVersion string
	Tables         []Table // parents before children (foreign keys)
	Schemas        []Object
	Types          []Object
	Sequences      []Sequence
	Indexes        []Object
	Views          []Object
	Macros         []Object
	Comments       []Object // COMMENT ON statements, applied last

	macroComments []Object // read with the macros, appended to Comments

	// MacroConn, when set, gives a connection outside the read's
	// transaction, on which the macros' parameter defaults are exported
	// (see exportMacroDefaults), and releases it. DuckDB aborts a
	// transaction at its first error, so an export that fails there (a
	// full temporary folder) would fail every read after it, and the
	// backup with them, where it should only cost the defaults. A
	// backup's source is opened by it alone, so the other connection
	// sees the same catalog.
	MacroConn func(ctx context.Context) (Execer, func(), error) `json:"-"`
}

// Read reads the catalog of the default database of q. It must run inside
// the transaction that also copies the rows, so both describe one instant.
func Read(ctx context.Context, q Querier) (*Catalog, error) {
	c, err := ReadTables(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := c.ReadObjects(ctx, q); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadTables reads the versions and the tables with their columns: what a
// backup needs before it can start copying. ReadObjects reads the rest.
func ReadTables(ctx context.Context, q Querier) (*Catalog, error) {
	c := &Catalog{}
	if err := q.QueryRowContext(ctx, `SELECT library_version FROM pragma_version()`).Scan(&c.DuckDBVersion); err != nil {
		return nil, fmt.Errorf("read duckdb version: %w", err)
	}
	var tags sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT CAST(tags AS VARCHAR) FROM duckdb_databases() WHERE database_name = current_database()`).Scan(&tags); err != nil {
		return nil, fmt.Errorf("read storage version: %w", err)
	}
	c.StorageVersion = storageVersion(tags.String)
	if err := c.read(ctx, q, "tables", readTables); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadObjects adds everything but the tables: schemas, types, sequences,
// indexes, views, macros and comments.
func (c *Catalog) ReadObjects(ctx context.Context, q Querier) error {
	steps := []struct {
		what string
		fn   func(context.Context, Querier, *Catalog) error
	}{
		{"schemas", readSchemas}, {"types", readTypes}, {"sequences", readSequences},
		{"indexes", readIndexes}, {"views", readViews},
		{"macros", readMacros}, {"comments", readComments},
	}
	for _, s := range steps {
		if err := c.read(ctx, q, s.what, s.fn); err != nil {
			return err
		}
	}
	c.Comments = append(c.Comments, c.macroComments...)
	return nil
}

func (c *Catalog) read(ctx context.Context, q Querier, what string, fn func(context.Context, Querier, *Catalog) error) error {
	started := time.Now()
	if err := fn(ctx, q, c); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	slog.Debug("read catalog objects", "what", what, "took", time.Since(started))
	return nil
}

var storageVersionRe = regexp.MustCompile(`storage_version[:=]\s*'?([^,}'\s]+)`)

func storageVersion(tags string) string {
	if m := storageVersionRe.FindStringSubmatch(tags); m != nil {
		return m[1]
	}
	return ""
}

const inDB = `database_name = current_database()`

func readSchemas(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE `+inDB+` AND NOT internal ORDER BY schema_name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		c.Schemas = append(c.Schemas, Object{Kind: "schema", Schema: name, Name: name,
			SQL: "CREATE SCHEMA IF NOT EXISTS " + sqlq.Ident(name) + ";"})
	}
	return rows.Err()
}

func readTypes(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, type_name FROM duckdb_types() WHERE `+inDB+` AND NOT internal ORDER BY type_oid`)
	if err != nil {
		return err
	}
	var names [][2]string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, [2]string{s, n})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, sn := range names {
		// typeof prints the full definition, with ENUM members correctly
		// quoted (EXPORT DATABASE's schema.sql does not double quotes).
		var def string
		err := q.QueryRowContext(ctx, `SELECT typeof(CAST(NULL AS `+sqlq.Ident(sn[0])+`.`+sqlq.Ident(sn[1])+`))`).Scan(&def)
		if err != nil {
			return fmt.Errorf("type %s.%s: %w", sn[0], sn[1], err)
		}
		c.Types = append(c.Types, Object{Kind: "type", Schema: sn[0], Name: sn[1],
			SQL: "CREATE TYPE " + sqlq.Ident(sn[0]) + "." + sqlq.Ident(sn[1]) + " AS " + def + ";"})
	}
	return nil
}

var startRe = regexp.MustCompile(`\bSTART (-?\d+)\b`)

func readSequences(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, sequence_name, increment_by, min_value, max_value, cycle, sql FROM duckdb_sequences() WHERE `+inDB+` AND NOT temporary ORDER BY schema_name, sequence_name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s Sequence
		var minV, maxV int64
		var cycle bool
		var ddl string
		if err := rows.Scan(&s.Schema, &s.Name, &s.Increment, &minV, &maxV, &cycle, &ddl); err != nil {
			return err
		}
		// The START of duckdb_sequences().sql is the value the next nextval
		// returns, both live and after reopening; last_value is not.
		m := startRe.FindStringSubmatch(ddl)
		if m == nil {
			return fmt.Errorf("sequence %s.%s: no START in %q", s.Schema, s.Name, ddl)
		}
		next, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return fmt.Errorf("sequence %s.%s: %w", s.Schema, s.Name, err)
		}
		s.Next = next
		cyc := "NO CYCLE"
		if cycle {
			cyc = "CYCLE"
		}
		// Rebuilt rather than copied: DuckDB's own SQL is not schema-qualified.
		s.SQL = fmt.Sprintf("CREATE SEQUENCE %s.%s INCREMENT BY %d MINVALUE %d MAXVALUE %d START %d %s;",
			sqlq.Ident(s.Schema), sqlq.Ident(s.Name), s.Increment, minV, maxV, next, cyc)
		c.Sequences = append(c.Sequences, s)
	}
	return rows.Err()
}

func readTables(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, table_name, sql, comment, coalesce(estimated_size, 0) FROM duckdb_tables() WHERE `+inDB+` AND NOT temporary ORDER BY schema_name, table_name`)
	if err != nil {
		return err
	}
	var tables []Table
	for rows.Next() {
		var t Table
		var comment sql.NullString
		if err := rows.Scan(&t.Schema, &t.Name, &t.CreateSQL, &comment, &t.EstimatedRows); err != nil {
			rows.Close()
			return err
		}
		t.Comment = comment.String
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// All columns in one query: duckdb_columns() costs about as much for
	// one table as for all of them.
	rows, err = q.QueryContext(ctx, `SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() WHERE `+inDB+` ORDER BY schema_name, table_name, column_index`)
	if err != nil {
		return err
	}
	cols := map[string][]Column{}
	for rows.Next() {
		var s, t string
		var col Column
		if err := rows.Scan(&s, &t, &col.Name, &col.Type); err != nil {
			rows.Close()
			return err
		}
		cols[Key(s, t)+"\x00"+s] = append(cols[Key(s, t)+"\x00"+s], col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range tables {
		tables[i].Columns = cols[tables[i].Key()+"\x00"+tables[i].Schema]
	}
	deps, err := foreignKeys(ctx, q)
	if err != nil {
		return err
	}
	c.Tables = orderByDependency(tables, deps)
	return nil
}

// foreignKeys maps a table key to the keys of the tables it references.
func foreignKeys(ctx context.Context, q Querier) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, table_name, referenced_table FROM duckdb_constraints() WHERE `+inDB+` AND constraint_type = 'FOREIGN KEY'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	deps := map[string][]string{}
	for rows.Next() {
		var s, t string
		var ref sql.NullString
		if err := rows.Scan(&s, &t, &ref); err != nil {
			return nil, err
		}
		if ref.Valid {
			// DuckDB only allows foreign keys within one schema.
			deps[Key(s, t)] = append(deps[Key(s, t)], Key(s, ref.String))
		}
	}
	return deps, rows.Err()
}

// orderByDependency sorts tables so that every referenced table comes
// before the tables referencing it; otherwise by name, for stable output.
func orderByDependency(tables []Table, deps map[string][]string) []Table {
	sort.Slice(tables, func(i, j int) bool { return tables[i].Key() < tables[j].Key() })
	byKey := map[string]Table{}
	for _, t := range tables {
		byKey[t.Key()] = t
	}
	done := map[string]bool{}
	var out []Table
	var visit func(k string, depth int)
	visit = func(k string, depth int) {
		if done[k] || depth > len(tables) {
			return
		}
		done[k] = true
		ds := append([]string(nil), deps[k]...)
		sort.Strings(ds)
		for _, d := range ds {
			if _, ok := byKey[d]; ok && d != k {
				visit(d, depth+1)
			}
		}
		out = append(out, byKey[k])
	}
	for _, t := range tables {
		visit(t.Key(), 0)
	}
	return out
}

func readIndexes(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, index_name, table_name, sql FROM duckdb_indexes() WHERE `+inDB+` AND sql IS NOT NULL ORDER BY schema_name, index_name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		o := Object{Kind: "index"}
		if err := rows.Scan(&o.Schema, &o.Name, &o.Table, &o.SQL); err != nil {
			return err
		}
		c.Indexes = append(c.Indexes, o)
	}
	return rows.Err()
}

func readViews(ctx context.Context, q Querier, c *Catalog) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, view_name, sql FROM duckdb_views() WHERE `+inDB+` AND NOT internal AND NOT temporary ORDER BY view_oid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		o := Object{Kind: "view"}
		if err := rows.Scan(&o.Schema, &o.Name, &o.SQL); err != nil {
			return err
		}
		c.Views = append(c.Views, o)
	}
	return rows.Err()
}

func readMacros(ctx context.Context, q Querier, c *Catalog) error {
	// duckdb_functions() lists every built-in function and is the slowest
	// catalog view, so macros and their comments come from one scan. It
	// lists each overload of a macro as its own row, under one oid.
	rows, err := q.QueryContext(ctx, `SELECT schema_name, function_name, function_type, CAST(parameters AS VARCHAR[]), macro_definition, comment FROM duckdb_functions() WHERE `+inDB+` AND NOT internal AND function_type IN ('macro', 'table_macro') ORDER BY function_oid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type macro struct {
		key     macroKey
		table   bool
		comment sql.NullString
	}
	var order []*macro
	byKey := map[macroKey]*macro{}
	known := map[macroKey][]*overload{}
	for rows.Next() {
		var schema, name, kind string
		var params []any
		var def, comment sql.NullString
		if err := rows.Scan(&schema, &name, &kind, &params, &def, &comment); err != nil {
			return err
		}
		key := macroKey{schema, name}
		m := byKey[key]
		if m == nil {
			m = &macro{key: key, table: kind == "table_macro", comment: comment}
			byKey[key] = m
			order = append(order, m)
		}
		ov := &overload{params: make([]string, len(params)), def: def.String}
		for i, p := range params {
			ov.params[i] = fmt.Sprint(p)
		}
		known[key] = append(known[key], ov)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if len(order) > 0 {
		ex, ok := q.(Execer)
		detach := false
		if c.MacroConn != nil {
			if conn, release, err := c.MacroConn(ctx); err == nil {
				defer release()
				ex, ok, detach = conn, true, true
			}
		}
		if !ok {
			return errors.New("reading macro defaults needs a connection that can execute statements")
		}
		if err := exportMacroDefaults(ctx, ex, known, detach); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Failing the whole backup over defaults would lose every
			// table's data; the macros are kept without their defaults,
			// and the user is told which part is missing.
			slog.Warn("macro parameter defaults could not be read; macros are backed up without them, so calls that rely on a default fail after a restore", "err", err)
			for _, ovs := range known {
				for _, ov := range ovs {
					ov.defaults = nil
				}
			}
		}
	}
	for _, m := range order {
		o := Object{Kind: "macro", Schema: m.key.schema, Name: m.key.name, SQL: macroSQL(m.key, m.table, known[m.key])}
		c.Macros = append(c.Macros, o)
		if m.comment.Valid {
			table := ""
			if m.table {
				table = "TABLE "
			}
			c.macroComments = append(c.macroComments, Object{Kind: "comment", Schema: o.Schema, Name: o.Name,
				SQL: "COMMENT ON MACRO " + table + sqlq.Ident(o.Schema) + "." + sqlq.Ident(o.Name) + " IS " + sqlq.Literal(m.comment.String) + ";"})
		}
	}
	return nil
}

func readComments(ctx context.Context, q Querier, c *Catalog) error {
	queries := []struct{ kind, sql string }{
		{"TABLE", `SELECT schema_name, table_name, NULL, comment FROM duckdb_tables() WHERE ` + inDB + ` AND comment IS NOT NULL`},
		{"COLUMN", `SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() WHERE ` + inDB + ` AND comment IS NOT NULL`},
		{"VIEW", `SELECT schema_name, view_name, NULL, comment FROM duckdb_views() WHERE ` + inDB + ` AND NOT internal AND comment IS NOT NULL`},
		{"INDEX", `SELECT schema_name, index_name, NULL, comment FROM duckdb_indexes() WHERE ` + inDB + ` AND comment IS NOT NULL`},
		{"SEQUENCE", `SELECT schema_name, sequence_name, NULL, comment FROM duckdb_sequences() WHERE ` + inDB + ` AND comment IS NOT NULL`},
		{"TYPE", `SELECT schema_name, type_name, NULL, comment FROM duckdb_types() WHERE ` + inDB + ` AND NOT internal AND comment IS NOT NULL`},
	}
	for _, cq := range queries {
		rows, err := q.QueryContext(ctx, cq.sql)
		if err != nil {
			return fmt.Errorf("%s comments: %w", strings.ToLower(cq.kind), err)
		}
		for rows.Next() {
			var s, n, comment string
			var col sql.NullString
			if err := rows.Scan(&s, &n, &col, &comment); err != nil {
				rows.Close()
				return err
			}
			name := n
			if col.Valid {
				name = n + "." + col.String
			}
			// DuckDB's SQL cannot name an object whose name holds a NUL
			// byte, so it cannot hold a comment on one either; refuse
			// rather than panic if a catalog ever does.
			if sqlq.Check(s) != nil || sqlq.Check(n) != nil || (col.Valid && sqlq.Check(col.String) != nil) {
				return fmt.Errorf("comment on %s %q: %w", strings.ToLower(cq.kind), name, sqlq.ErrNUL)
			}
			target := sqlq.Ident(s) + "." + sqlq.Ident(n)
			if col.Valid {
				target += "." + sqlq.Ident(col.String)
			}
			c.Comments = append(c.Comments, Object{Kind: "comment", Schema: s, Name: name,
				SQL: "COMMENT ON " + cq.kind + " " + target + " IS " + sqlq.Literal(comment) + ";"})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
