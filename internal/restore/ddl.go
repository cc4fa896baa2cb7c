package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// A manifest is untrusted input even after its checksum matched: the
// checksum proves it was not damaged, not who wrote it (only a MAC does).
// So no DDL it carries reaches the target before it has been checked here:
//
//   - every statement must be exactly one statement of the expected kind
//     (DuckDB's own statement splitter counts them);
//   - the object it creates must be the very object the manifest says;
//   - each CREATE TABLE runs first in a sandbox, an in-memory DuckDB with
//     file access disabled, and the target then runs DuckDB's own
//     rendering of the table the sandbox built, never the manifest's text;
//   - sequences and comments are parsed with a strict grammar and rebuilt
//     from their parts;
//   - on the target, file access is disabled too, except for the folder
//     holding the verified copies.

// ErrBadDDL marks DDL in a manifest that is not what it claims to be.
var ErrBadDDL = errors.New("the manifest holds DDL that statsnap will not run")

const identRe = `"(?:[^"]|"")*"`

var (
	seqRe     = regexp.MustCompile(`^CREATE SEQUENCE (` + identRe + `)\.(` + identRe + `) INCREMENT BY (-?\d+) MINVALUE (-?\d+) MAXVALUE (-?\d+) START (-?\d+) (NO CYCLE|CYCLE);$`)
	typeRe    = regexp.MustCompile(`(?s)^CREATE TYPE (` + identRe + `)\.(` + identRe + `) AS .+$`)
	macroRe   = regexp.MustCompile(`(?s)^CREATE MACRO (` + identRe + `)\.(` + identRe + `)\(.*$`)
	commentRe = regexp.MustCompile(`(?s)^COMMENT ON (TABLE|COLUMN|VIEW|INDEX|SEQUENCE|TYPE|MACRO|MACRO TABLE) ((?:` + identRe + `\.)+` + identRe + `) IS ('(?:[^']|'')*');$`)
	viewRe    = regexp.MustCompile(`(?is)^\s*CREATE\s+VIEW\s`)
	indexRe   = regexp.MustCompile(`(?is)^\s*CREATE\s+(UNIQUE\s+)?INDEX\s`)
	identPart = regexp.MustCompile(identRe)
	// The START of duckdb_sequences().sql is the value the next nextval
	// returns (see catalog); anchored at the end, as a sequence name may
	// itself contain "START 5".
	seqStartRe = regexp.MustCompile(`START (-?\d+) (?:NO )?CYCLE;?\s*$`)
)

// unquote reverses catalog.Ident.
func unquote(q string) string {
	return strings.ReplaceAll(q[1:len(q)-1], `""`, `"`)
}

// seqDef is a sequence rebuilt from its parsed DDL.
type seqDef struct {
	Schema, Name        string
	Increment, Min, Max int64
	Next                int64
	Cycle               bool
}

func (s seqDef) key() string { return catalog.Key(s.Schema, s.Name) }

func (s seqDef) qualified() string { return sqlq.Qualified(s.Schema, s.Name) }

// createSQL creates the sequence so that its next nextval returns Next.
func (s seqDef) createSQL() string {
	cyc := "NO CYCLE"
	if s.Cycle {
		cyc = "CYCLE"
	}
	return fmt.Sprintf("CREATE SEQUENCE %s INCREMENT BY %d MINVALUE %d MAXVALUE %d START %d %s",
		s.qualified(), s.Increment, s.Min, s.Max, s.Next, cyc)
}

// nextvalArg is the string nextval() takes. DuckDB parses it as a
// qualified name; it cannot express a double quote inside a name.
func (s seqDef) nextvalArg() (string, error) {
	if strings.Contains(s.Schema+s.Name, `"`) {
		return "", fmt.Errorf("sequence %s: DuckDB's nextval() cannot name a sequence whose name contains a double quote", s.key())
	}
	return sqlq.Literal(s.qualified()), nil
}

func parseSequence(s snapshot.Sequence) (seqDef, error) {
	m := seqRe.FindStringSubmatch(s.SQL)
	if m == nil {
		return seqDef{}, fmt.Errorf("%w: sequence %s: %q is not a CREATE SEQUENCE statement as statsnap writes it", ErrBadDDL, catalog.Key(s.Schema, s.Name), s.SQL)
	}
	d := seqDef{Schema: unquote(m[1]), Name: unquote(m[2]), Cycle: m[7] == "CYCLE"}
	var err error
	for i, p := range []*int64{&d.Increment, &d.Min, &d.Max, &d.Next} {
		if *p, err = strconv.ParseInt(m[3+i], 10, 64); err != nil {
			return seqDef{}, fmt.Errorf("%w: sequence %s: %v", ErrBadDDL, catalog.Key(s.Schema, s.Name), err)
		}
	}
	if d.Schema != s.Schema || d.Name != s.Name || d.Next != s.Next || d.Increment != s.Increment || d.Increment == 0 {
		return seqDef{}, fmt.Errorf("%w: sequence %s: its DDL %q disagrees with the manifest's schema, name, next_value or increment_by", ErrBadDDL, catalog.Key(s.Schema, s.Name), s.SQL)
	}
	return d, nil
}

// commentDef is a COMMENT ON statement rebuilt from its parsed parts.
type commentDef struct {
	Kind string   // TABLE, COLUMN, VIEW, INDEX, SEQUENCE, TYPE, MACRO, MACRO TABLE
	Path []string // schema, object[, column]
	Text string   // the literal, quoted
}

func parseComment(o snapshot.Object) (commentDef, error) {
	m := commentRe.FindStringSubmatch(o.SQL)
	if m == nil {
		return commentDef{}, fmt.Errorf("%w: comment on %s: %q is not a COMMENT ON statement as statsnap writes it", ErrBadDDL, o.Name, o.SQL)
	}
	c := commentDef{Kind: m[1], Text: m[3]}
	for _, q := range identPart.FindAllString(m[2], -1) {
		p := unquote(q)
		if err := sqlq.Check(p); err != nil {
			return commentDef{}, fmt.Errorf("%w: comment on %s: %v", ErrBadDDL, o.Name, err)
		}
		c.Path = append(c.Path, p)
	}
	want := 2
	if c.Kind == "COLUMN" {
		want = 3
	}
	if len(c.Path) != want || c.Path[0] != o.Schema {
		return commentDef{}, fmt.Errorf("%w: comment on %s: %q does not name a %s of schema %s", ErrBadDDL, o.Name, o.SQL, strings.ToLower(c.Kind), o.Schema)
	}
	return c, nil
}

func (c commentDef) sql() string {
	parts := make([]string, len(c.Path))
	for i, p := range c.Path {
		parts[i] = sqlq.Ident(p)
	}
	return "COMMENT ON " + c.Kind + " " + strings.Join(parts, ".") + " IS " + c.Text
}

// objKey names an object of some kind for the sets restore keeps.
func objKey(kind, schema, name string) string { return kind + "\x00" + schema + "\x00" + name }

// target returns the key of the object the comment is on.
func (c commentDef) target() string {
	switch c.Kind {
	case "TABLE", "COLUMN":
		return objKey("table", c.Path[0], c.Path[1])
	case "MACRO", "MACRO TABLE":
		return objKey("macro", c.Path[0], c.Path[1])
	}
	return objKey(strings.ToLower(c.Kind), c.Path[0], c.Path[1])
}

// checkOneCreate makes sure sqlText is exactly one statement and that it
// is a CREATE. DuckDB's driver executes every statement but the last one
// of a multi-statement string while preparing it, so the count is taken
// with the driver's Prepare, which refuses more than one without running
// anything. Preparing also binds, so a CREATE naming a missing type or
// table fails here, still without running.
func checkOneCreate(ctx context.Context, conn *sql.Conn, what, sqlText string) error {
	if strings.TrimSpace(sqlText) == "" {
		return fmt.Errorf("%w: %s: empty DDL", ErrBadDDL, what)
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("restore: unexpected driver connection %T", dc)
		}
		st, err := c.Prepare(sqlText)
		if err != nil {
			if dberr.Is(err, dberr.ErrMultiStatement) {
				return fmt.Errorf("%w: %s: the DDL holds more than one statement", ErrBadDDL, what)
			}
			return &bindError{what: what, err: err}
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("restore: unexpected driver statement %T", st)
		}
		t, err := ds.StatementType()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if t != duckdb.STATEMENT_TYPE_CREATE {
			return fmt.Errorf("%w: %s: the DDL is not a CREATE statement", ErrBadDDL, what)
		}
		return nil
	})
}

// bindError is DDL that is one statement but that DuckDB cannot bind
// (a broken view, a missing type).
type bindError struct {
	what string
	err  error
}

func (e *bindError) Error() string { return e.what + ": " + e.err.Error() }

// Unwrap makes a bind error both ErrBadDDL (for a table, an index or a
// macro it stops the restore) and DuckDB's error.
func (e *bindError) Unwrap() []error { return []error{ErrBadDDL, e.err} }

// validated is everything in a manifest that restore may run, checked.
type validated struct {
	schemas   []string
	types     []snapshot.Object
	sequences []seqDef
	tables    map[string]*vtable
	indexes   []snapshot.Object
	views     []vview
	macros    []vmacro
	comments  []commentDef
	// graph orders the tables, macros and views by what each uses; nil
	// for a snapshot without DDL (its tables keep the snapshot's order).
	graph *depGraph
}

// vmacro is a macro, or the reason it cannot be restored.
type vmacro struct {
	obj    snapshot.Object
	broken error
}

// vtable is one table as the sandbox built it.
type vtable struct {
	key, schema, name string
	ddl               string // DuckDB's rendering of the sandbox's table
	plans             []codec.ColumnPlan
	sequences         []string // keys of the sequences its DEFAULTs use
	parents           []string // keys of the tables its foreign keys reference
	legacy            bool     // no DDL recorded: built from the Parquet schema
	nul               bool     // a column name holds a NUL: built by CREATE TABLE AS SELECT
}

// vview is a view and the in-memory catalogs it needs attached, or the
// reason it cannot be restored.
type vview struct {
	obj    snapshot.Object
	stubs  []string
	broken error
}

// validate checks every piece of DDL of m in a sandbox. It runs only
// after the manifest verified. Objects are checked in the order a
// restore creates them (schemas, types, sequences, then tables, macros
// and views each after what it uses, then indexes), so later DDL binds
// against earlier.
func validate(ctx context.Context, m *snapshot.Manifest) (*validated, error) {
	v := &validated{tables: map[string]*vtable{}}
	if m.Legacy() {
		for key := range m.Tables {
			schema, name := splitKey(key)
			v.tables[key] = &vtable{key: key, schema: schema, name: name, legacy: true}
		}
		return v, nil
	}
	if err := checkNames(m); err != nil {
		return nil, err
	}
	db, conn, err := openSandbox(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer conn.Close()
	sb := &sandbox{m: m, v: v, conn: conn}
	for _, step := range []func(context.Context) error{
		sb.schemas,
		sb.types,
		sb.sequences,
		sb.order,
		sb.objects,
		sb.tables,
		sb.indexes,
		sb.checkObjects,
		sb.comments,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkNames refuses a manifest naming an object with a NUL byte: no such
// name can reach SQL (sqlq.Ident refuses it).
func checkNames(m *snapshot.Manifest) error {
	check := func(what string, names ...string) error {
		for _, n := range names {
			if err := sqlq.Check(n); err != nil {
				return fmt.Errorf("%w: %s %q: %v", ErrBadDDL, what, n, err)
			}
		}
		return nil
	}
	for key, t := range m.Tables {
		if err := check("table", key, t.Schema, t.Name); err != nil {
			return err
		}
	}
	for _, group := range [][]snapshot.Object{m.Schemas, m.Types, m.Indexes, m.Views, m.Macros, m.Comments} {
		for _, o := range group {
			if err := check(o.Kind, o.Schema, o.Name, o.Table); err != nil {
				return err
			}
		}
	}
	for _, sq := range m.Sequences {
		if err := check("sequence", sq.Schema, sq.Name); err != nil {
			return err
		}
	}
	return nil
}

// sandbox is validate's in-memory database and what it checked so far.
type sandbox struct {
	m      *snapshot.Manifest
	v      *validated
	conn   *sql.Conn
	expect expectations
}

func (sb *sandbox) exec(ctx context.Context, q string) error {
	_, err := sb.conn.ExecContext(ctx, q)
	return err
}

// schemas creates the snapshot's schemas, and those its tables live in
// that the schema list lacks (an older writer).
func (sb *sandbox) schemas(ctx context.Context) error {
	m, v := sb.m, sb.v
	seen := map[string]bool{"main": true}
	for _, s := range m.Schemas {
		if s.Name != s.Schema {
			return fmt.Errorf("%w: schema entry %q names schema %q", ErrBadDDL, s.Name, s.Schema)
		}
		if !seen[s.Name] {
			v.schemas = append(v.schemas, s.Name)
			seen[s.Name] = true
		}
	}
	for _, key := range m.TableOrder {
		if t := m.Tables[key]; !seen[t.Schema] {
			v.schemas = append(v.schemas, t.Schema)
			seen[t.Schema] = true
		}
	}
	for _, s := range v.schemas {
		if err := sb.exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqlq.Ident(s)); err != nil {
			return fmt.Errorf("sandbox: create schema %s: %w", s, err)
		}
	}
	return nil
}

// types runs each CREATE TYPE, which must create that very type.
func (sb *sandbox) types(ctx context.Context) error {
	for _, t := range sb.m.Types {
		what := "type " + catalog.Key(t.Schema, t.Name)
		mm := typeRe.FindStringSubmatch(t.SQL)
		if mm == nil || unquote(mm[1]) != t.Schema || unquote(mm[2]) != t.Name {
			return fmt.Errorf("%w: %s: %q is not a CREATE TYPE of that type", ErrBadDDL, what, t.SQL)
		}
		if err := checkOneCreate(ctx, sb.conn, what, t.SQL); err != nil {
			return err
		}
		if err := sb.exec(ctx, t.SQL); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadDDL, what, err)
		}
		sb.expect.add("type", t.Schema, t.Name, "")
		sb.v.types = append(sb.v.types, t)
	}
	return nil
}

// sequences parses each sequence strictly and creates it as rebuilt.
func (sb *sandbox) sequences(ctx context.Context) error {
	for _, s := range sb.m.Sequences {
		d, err := parseSequence(s)
		if err != nil {
			return err
		}
		if err := sb.exec(ctx, d.createSQL()); err != nil {
			return fmt.Errorf("%w: sequence %s: %v", ErrBadDDL, d.key(), err)
		}
		sb.v.sequences = append(sb.v.sequences, d)
	}
	return nil
}

// order reads what each table, macro and view uses (order.go).
func (sb *sandbox) order(ctx context.Context) error {
	started := time.Now()
	g, err := buildGraph(ctx, serializer{conn: sb.conn}, sb.m)
	if err != nil {
		return fmt.Errorf("sandbox: read the dependencies of the snapshot's objects: %w", err)
	}
	slog.Debug("read what each table, macro and view uses", "objects", len(g.order), "took", time.Since(started))
	sb.v.graph = g
	return nil
}

// objects creates the tables, macros and views in dependency order.
func (sb *sandbox) objects(ctx context.Context) error {
	tables, err := tableSet(ctx, sb.conn)
	if err != nil {
		return err
	}
	macros := map[string]snapshot.Object{}
	for _, mc := range sb.m.Macros {
		macros[objKey("macro", mc.Schema, mc.Name)] = mc
	}
	views := map[string]snapshot.Object{}
	for _, vw := range sb.m.Views {
		views[objKey("view", vw.Schema, vw.Name)] = vw
	}
	attached := map[string]bool{}
	for _, n := range sb.v.graph.order {
		switch n.kind {
		case "table":
			key := catalog.Key(n.schema, n.name)
			if tables, err = sandboxTable(ctx, sb.conn, key, sb.m.Tables[key], tables); err != nil {
				return err
			}
		case "macro":
			if err := sb.macro(ctx, macros[n.key()]); err != nil {
				return err
			}
		case "view":
			if err := sb.view(ctx, views[n.key()], attached); err != nil {
				return err
			}
		}
	}
	return nil
}

// tables reads back DuckDB's rendering of every table the sandbox built
// and checks it against the manifest's column list.
func (sb *sandbox) tables(ctx context.Context) error {
	m, v := sb.m, sb.v
	// Read back in two catalog queries, not two per table: each costs
	// about as much for one table as for all (per table, this was half
	// the time of a small restore's checks).
	defs, err := sandboxDefinitions(ctx, sb.conn)
	if err != nil {
		return err
	}
	for _, key := range m.TableOrder {
		vt, err := planSandboxTable(key, m.Tables[key], defs[objKey("table", m.Tables[key].Schema, m.Tables[key].Name)])
		if err != nil {
			return err
		}
		v.tables[key] = vt
	}
	if err := tableSequences(ctx, sb.conn, v.tables); err != nil {
		return err
	}
	return tableParents(ctx, sb.conn, v.tables)
}

// tableParents records the tables each table's foreign keys reference,
// as the sandbox's catalog knows them.
func tableParents(ctx context.Context, q querier, tables map[string]*vtable) error {
	rows, err := q.QueryContext(ctx, `SELECT schema_name, table_name, referenced_table FROM duckdb_constraints() WHERE database_name = current_database() AND constraint_type = 'FOREIGN KEY' AND referenced_table IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("sandbox: read the foreign keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table, parent string
		if err := rows.Scan(&schema, &table, &parent); err != nil {
			return fmt.Errorf("sandbox: read the foreign keys: %w", err)
		}
		// DuckDB only allows foreign keys within one schema.
		child, pk := catalog.Key(schema, table), catalog.Key(schema, parent)
		if vt, ok := tables[child]; ok && pk != child && !contains(vt.parents, pk) {
			vt.parents = append(vt.parents, pk)
		}
	}
	return rows.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// indexes runs each CREATE INDEX, which must be on a table of the
// snapshot, after every table, macro and view (an index expression may
// call a macro).
func (sb *sandbox) indexes(ctx context.Context) error {
	for _, ix := range sb.m.Indexes {
		what := "index " + catalog.Key(ix.Schema, ix.Name)
		if !indexRe.MatchString(ix.SQL) {
			return fmt.Errorf("%w: %s: %q is not a CREATE INDEX statement", ErrBadDDL, what, ix.SQL)
		}
		if _, ok := sb.m.Tables[catalog.Key(ix.Schema, ix.Table)]; !ok {
			return fmt.Errorf("%w: %s is on table %s, which the snapshot lacks", ErrBadDDL, what, catalog.Key(ix.Schema, ix.Table))
		}
		if err := checkOneCreate(ctx, sb.conn, what, ix.SQL); err != nil {
			return err
		}
		if err := sb.exec(ctx, ix.SQL); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadDDL, what, err)
		}
		sb.expect.add("index", ix.Schema, ix.Name, ix.Table)
		sb.v.indexes = append(sb.v.indexes, ix)
	}
	return nil
}

// macro runs one CREATE MACRO, which must create that very macro. One
// that does not bind (it used an object dropped in the source since:
// DuckDB does not track what a macro uses) was broken already; it is
// reported, like a view.
func (sb *sandbox) macro(ctx context.Context, mc snapshot.Object) error {
	what := "macro " + catalog.Key(mc.Schema, mc.Name)
	mm := macroRe.FindStringSubmatch(mc.SQL)
	if mm == nil || unquote(mm[1]) != mc.Schema || unquote(mm[2]) != mc.Name {
		return fmt.Errorf("%w: %s: %q is not a CREATE MACRO of that macro", ErrBadDDL, what, mc.SQL)
	}
	vm := vmacro{obj: mc}
	err := checkOneCreate(ctx, sb.conn, what, mc.SQL)
	var be *bindError
	switch {
	case errors.As(err, &be):
		vm.broken = be.err
	case err != nil:
		return err
	default:
		if err := sb.exec(ctx, mc.SQL); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadDDL, what, err)
		}
	}
	// Not looked up afterwards: macroRe anchors the one statement to
	// CREATE MACRO schema.name(, so it can only have made that macro,
	// and listing macros (duckdb_functions() builds a row for each of
	// DuckDB's 2,900 functions) takes 30-55 ms a call.
	sb.v.macros = append(sb.v.macros, vm)
	return nil
}

// view runs one CREATE VIEW. A view that does not bind is not an error:
// it was broken in the source already (DuckDB only binds a view when it
// is created), so it is reported.
func (sb *sandbox) view(ctx context.Context, vw snapshot.Object, attached map[string]bool) error {
	what := "view " + catalog.Key(vw.Schema, vw.Name)
	if !viewRe.MatchString(vw.SQL) {
		return fmt.Errorf("%w: %s: %q is not a CREATE VIEW statement", ErrBadDDL, what, vw.SQL)
	}
	vv := vview{obj: vw}
	for attempt := 0; ; attempt++ {
		err := checkOneCreate(ctx, sb.conn, what, vw.SQL)
		var be *bindError
		if errors.As(err, &be) {
			// A view over a database that was attached in the source
			// binds again once a catalog of that name exists.
			if name, ok := dberr.MissingCatalog(be.err); ok && attempt < 8 && !attached[name] {
				if aerr := sb.exec(ctx, "ATTACH ':memory:' AS "+sqlq.Ident(name)); aerr == nil {
					attached[name] = true
					vv.stubs = append(vv.stubs, name)
					continue
				}
			}
			vv.broken = be.err
			break
		}
		if err != nil {
			return err
		}
		if err := sb.exec(ctx, vw.SQL); err != nil {
			vv.broken = err
			break
		}
		sb.expect.add("view", vw.Schema, vw.Name, "")
		break
	}
	if vv.broken != nil {
		vv.stubs = nil
	}
	sb.v.views = append(sb.v.views, vv)
	return nil
}

// checkObjects makes sure every object whose DDL ran exists.
func (sb *sandbox) checkObjects(ctx context.Context) error { return sb.expect.check(ctx, sb.conn) }

// comments parses each COMMENT ON strictly; restore runs them rebuilt.
func (sb *sandbox) comments(context.Context) error {
	for _, c := range sb.m.Comments {
		cd, err := parseComment(c)
		if err != nil {
			return err
		}
		sb.v.comments = append(sb.v.comments, cd)
	}
	return nil
}

// openSandbox opens an in-memory DuckDB that cannot touch any file.
func openSandbox(ctx context.Context) (*sql.DB, *sql.Conn, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, nil, fmt.Errorf("open sandbox: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open sandbox: %w", err)
	}
	for _, q := range []string{"SET enable_external_access = false", "SET autoinstall_known_extensions = false", "SET lock_configuration = true"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			db.Close()
			return nil, nil, fmt.Errorf("open sandbox: %s: %w", q, err)
		}
	}
	return db, conn, nil
}

// sandboxTable runs one create_sql in the sandbox and checks that it made
// that table and nothing else. before is the sandbox's set of tables
// (nothing else creates any); it returns the new set.
func sandboxTable(ctx context.Context, conn *sql.Conn, key string, t *snapshot.Table, before map[string]bool) (map[string]bool, error) {
	what := "table " + key
	if nulColumns(t) {
		if err := sandboxNULTable(ctx, conn, what, t); err != nil {
			return nil, err
		}
	} else {
		if err := checkOneCreate(ctx, conn, what, t.CreateSQL); err != nil {
			return nil, fmt.Errorf("create_sql of %w", err)
		}
		if _, err := conn.ExecContext(ctx, t.CreateSQL); err != nil {
			return nil, fmt.Errorf("%w: create_sql of %s: %v", ErrBadDDL, what, err)
		}
	}
	after, err := tableSet(ctx, conn)
	if err != nil {
		return nil, err
	}
	var made []string
	for k := range after {
		if !before[k] {
			made = append(made, k)
		}
	}
	want := objKey("table", t.Schema, t.Name)
	if len(made) != 1 || made[0] != want || len(after) != len(before)+1 {
		return nil, fmt.Errorf("%w: create_sql of %s does not create table %s.%s alone: %q", ErrBadDDL, what, t.Schema, t.Name, t.CreateSQL)
	}
	return after, nil
}

// nulColumns reports a table with a column whose name holds a NUL byte.
// Its create_sql cannot run (SQL text ends at a NUL); backup only records
// such a table when its create_sql is its columns' names and types alone,
// and restore rebuilds it with CREATE TABLE ... AS SELECT from its file,
// then checks that DuckDB renders the result as create_sql.
func nulColumns(t *snapshot.Table) bool {
	for _, c := range t.Columns {
		if sqlq.HasNUL(c.Name) {
			return true
		}
	}
	return false
}

// nulPlaceholder names, in the sandbox, the i-th column of a table whose
// column names hold a NUL byte.
func nulPlaceholder(i int) string { return "__statsnap_nul_column_" + strconv.Itoa(i+1) }

// sandboxNULTable builds, in the sandbox, the stand-in of a table with
// NUL names: its column types, each checked and rendered by codec, under
// placeholder names where the real one holds a NUL.
func sandboxNULTable(ctx context.Context, conn *sql.Conn, what string, t *snapshot.Table) error {
	if len(t.Columns) == 0 {
		return fmt.Errorf("%w: %s has no columns", ErrBadDDL, what)
	}
	items := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		if c.Generated {
			return fmt.Errorf("%w: %s: column %q is generated, and a column name holds a NUL byte", ErrBadDDL, what, c.Name)
		}
		typ, err := codec.TypeSQL(c.Type)
		if err != nil {
			return fmt.Errorf("%w: %s, column %q: %v", ErrBadDDL, what, c.Name, err)
		}
		name := c.Name
		if sqlq.HasNUL(name) {
			name = nulPlaceholder(i)
		}
		items[i] = "CAST(NULL AS " + typ + ") AS " + sqlq.Ident(name)
	}
	q := "CREATE TABLE " + sqlq.Qualified(t.Schema, t.Name) + " AS SELECT " + strings.Join(items, ", ") + " LIMIT 0"
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadDDL, what, err)
	}
	return nil
}

// sandboxDef is a sandbox table as DuckDB renders it.
type sandboxDef struct {
	ddl     string
	columns []codec.ColumnPlan
}

// sandboxDefinitions reads every sandbox table's DDL and columns, keyed
// like tableSet.
func sandboxDefinitions(ctx context.Context, conn *sql.Conn) (map[string]*sandboxDef, error) {
	defs := map[string]*sandboxDef{}
	rows, err := conn.QueryContext(ctx, `SELECT schema_name, table_name, sql FROM duckdb_tables() WHERE database_name = current_database()`)
	if err != nil {
		return nil, fmt.Errorf("sandbox: read back the tables: %w", err)
	}
	for rows.Next() {
		var schema, name, ddl string
		if err := rows.Scan(&schema, &name, &ddl); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sandbox: read back the tables: %w", err)
		}
		defs[objKey("table", schema, name)] = &sandboxDef{ddl: ddl}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: read back the tables: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() ORDER BY schema_name, table_name, column_index`)
	if err != nil {
		return nil, fmt.Errorf("sandbox: read back the columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name string
		var p codec.ColumnPlan
		if err := rows.Scan(&schema, &name, &p.Name, &p.Type); err != nil {
			return nil, fmt.Errorf("sandbox: read back the columns: %w", err)
		}
		if d := defs[objKey("table", schema, name)]; d != nil {
			d.columns = append(d.columns, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: read back the columns: %w", err)
	}
	return defs, nil
}

// planSandboxTable returns the table the sandbox built from t's
// create_sql, with the column plans checked against the manifest's.
func planSandboxTable(key string, t *snapshot.Table, def *sandboxDef) (*vtable, error) {
	if def == nil {
		return nil, fmt.Errorf("sandbox: table %s vanished after its create_sql ran", key)
	}
	vt := &vtable{key: key, schema: t.Schema, name: t.Name, ddl: def.ddl}
	if nulColumns(t) {
		// The sandbox holds a stand-in (sandboxNULTable): its columns
		// take their real names back, and the DDL to check and to match
		// after the rebuild is the manifest's, which codec.Plan below
		// accepts only as bare names and types.
		if len(def.columns) != len(t.Columns) {
			return nil, fmt.Errorf("%w: table %s: the sandbox made %d columns of %d", ErrBadDDL, key, len(def.columns), len(t.Columns))
		}
		for i := range def.columns {
			if def.columns[i].Name == nulPlaceholder(i) {
				def.columns[i].Name = t.Columns[i].Name
			}
		}
		def.ddl = t.CreateSQL
		vt.ddl, vt.nul = t.CreateSQL, true
	}
	plans, err := codec.Plan(t.Schema+"."+t.Name, def.ddl, def.columns)
	if err == nil && vt.nul {
		err = codec.Rebuildable(t.Schema+"."+t.Name, def.ddl, plans)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %v", ErrBadDDL, key, err)
	}
	if len(plans) != len(t.Columns) {
		return nil, fmt.Errorf("%w: table %s: its create_sql has %d columns, its column list %d", ErrBadDDL, key, len(plans), len(t.Columns))
	}
	for i, p := range plans {
		c := t.Columns[i]
		if c.Name != p.Name || c.Type != p.Type || c.Generated != p.Generated {
			return nil, fmt.Errorf("%w: table %s: column %d is %q %s in its create_sql but %q %s in its column list", ErrBadDDL, key, i+1, p.Name, p.Type, c.Name, c.Type)
		}
		if !codec.Known(c.Encoding) {
			return nil, fmt.Errorf("%w: table %s, column %q: encoding %q is unknown to this build", ErrUnknownEncoding, key, c.Name, c.Encoding)
		}
		plans[i].Encoding = c.Encoding
		plans[i].Shapes = c.VariantShapes
	}
	// The decode expressions are built (and each encoding checked against
	// its type) now, so that a bad pairing stops restore before it writes.
	if _, _, err := codec.InsertLists(plans); err != nil {
		return nil, fmt.Errorf("%w: table %s: %v", ErrBadDDL, key, err)
	}
	vt.plans = plans
	return vt, nil
}

// ErrUnknownEncoding means the snapshot was written by a newer statsnap.
var ErrUnknownEncoding = errors.New("unknown column encoding; upgrade statsnap to restore this snapshot")

func tableSet(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()`)
	if err != nil {
		return nil, fmt.Errorf("sandbox: list tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[objKey("table", s, n)] = true
	}
	return out, rows.Err()
}

// tableSequences records which sequences each table's DEFAULTs use.
func tableSequences(ctx context.Context, q querier, tables map[string]*vtable) error {
	deps, err := sequenceDependents(ctx, q)
	if err != nil {
		return err
	}
	for seq, ts := range deps {
		for _, tk := range ts {
			if vt, ok := tables[tk]; ok {
				vt.sequences = append(vt.sequences, seq)
			}
		}
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sequenceDependents maps a sequence key to the keys of the tables whose
// column DEFAULTs use it: DuckDB refuses to drop the sequence before them.
func sequenceDependents(ctx context.Context, q querier) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT s.schema_name, s.sequence_name, t.schema_name, t.table_name
FROM duckdb_dependencies() d
JOIN duckdb_sequences() s ON s.sequence_oid = d.objid
JOIN duckdb_tables() t ON t.table_oid = d.refobjid
WHERE s.database_name = current_database() AND t.database_name = current_database()`)
	if err != nil {
		return nil, fmt.Errorf("read sequence dependencies: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var ss, sn, ts, tn string
		if err := rows.Scan(&ss, &sn, &ts, &tn); err != nil {
			return nil, err
		}
		k := catalog.Key(ss, sn)
		out[k] = append(out[k], catalog.Key(ts, tn))
	}
	return out, rows.Err()
}

// expectations are objects whose DDL ran, checked to exist in one
// catalog query per kind (a query per object was a tenth of a small
// restore).
type expectations []expected

type expected struct{ kind, schema, name, table string }

// add records that an object of kind must exist under schema.name (and,
// for an index, be on table).
func (e *expectations) add(kind, schema, name, table string) {
	*e = append(*e, expected{kind, schema, name, table})
}

var listObjects = map[string]string{
	"type":  `SELECT schema_name, type_name, '' FROM duckdb_types() WHERE database_name = current_database()`,
	"index": `SELECT schema_name, index_name, table_name FROM duckdb_indexes() WHERE database_name = current_database()`,
	"view":  `SELECT schema_name, view_name, '' FROM duckdb_views() WHERE database_name = current_database()`,
	"table": `SELECT schema_name, table_name, '' FROM duckdb_tables() WHERE database_name = current_database()`,
}

// check fails with ErrBadDDL naming the first object that does not exist.
func (e expectations) check(ctx context.Context, q querier) error {
	exists := map[string]map[expected]bool{}
	for _, x := range e {
		if exists[x.kind] != nil {
			continue
		}
		query, ok := listObjects[x.kind]
		if !ok {
			return fmt.Errorf("restore: unknown object kind %q", x.kind)
		}
		set := map[expected]bool{}
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("check %s %s: %w", x.kind, catalog.Key(x.schema, x.name), err)
		}
		for rows.Next() {
			var o expected
			if err := rows.Scan(&o.schema, &o.name, &o.table); err != nil {
				rows.Close()
				return fmt.Errorf("check %s %s: %w", x.kind, catalog.Key(x.schema, x.name), err)
			}
			o.kind = x.kind
			set[o] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check %s %s: %w", x.kind, catalog.Key(x.schema, x.name), err)
		}
		exists[x.kind] = set
	}
	for _, x := range e {
		if !exists[x.kind][x] {
			return fmt.Errorf("%w: the DDL of %s %s did not create it", ErrBadDDL, x.kind, catalog.Key(x.schema, x.name))
		}
	}
	return nil
}

// splitKey reads a manifest key back into schema and name.
func splitKey(key string) (string, string) {
	if i := strings.IndexByte(key, '.'); i > 0 && i < len(key)-1 {
		return key[:i], key[i+1:]
	}
	return "main", key
}
