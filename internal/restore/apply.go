package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// job is one restore once the snapshot verified and its DDL checked.
type job struct {
	opt    Options
	rep    *Report
	snap   *chosen
	tables []srcTable
	v      *validated
	paths  map[string][]string // table key → the Parquet files DuckDB reads, in row order
	full   bool                // no --tables: every object of the snapshot is in scope
	// memoryLimit is DuckDB's memory_limit while loading ("": MemoryLimit).
	memoryLimit string

	plans []*tablePlan
	seqs  []seqAction
	// scope holds the views and macros (node keys) this restore handles,
	// needTypes the types it creates when missing (scope.go).
	scope     map[string]bool
	needTypes map[string]bool
}

type tablePlan struct {
	src    srcTable
	vt     *vtable
	action Action
	before int64
	paths  []string // the table's files, in row order
}

// readParquet is the table function reading the plan's files. DuckDB
// reads a list of files in the list's order (insertion order is kept,
// its default), so the rows arrive in the order the manifest gives them.
func (p *tablePlan) readParquet() string {
	lits := make([]string, len(p.paths))
	for i, path := range p.paths {
		lits[i] = sqlq.Literal(path)
	}
	return "read_parquet([" + strings.Join(lits, ", ") + "])"
}

func (p *tablePlan) expected() int64 {
	if p.action == ActionAppend {
		return p.before + p.src.rows
	}
	return p.src.rows
}

// seqAction is what happens to one sequence of the snapshot.
type seqAction struct {
	def     seqDef
	action  SequenceAction // create, recreate or advance
	current int64          // the target's next value before, for advance
}

// plan decides each table's action against the target's state and
// refuses, before anything is written, a target that cannot take the
// rows.
func (j *job) plan(ctx context.Context, q querier, st *state) error {
	var problems []string
	replaced := map[string]bool{}
	j.plans = nil
	tables, err := j.withParents(st)
	if err != nil {
		return err
	}
	j.tables = tables
	for _, t := range j.tables {
		p := &tablePlan{src: t, vt: j.v.tables[t.key], paths: j.paths[t.key]}
		if p.vt == nil {
			return fmt.Errorf("restore: table %s was not validated", t.key)
		}
		ts, exists := st.tables[t.key]
		switch {
		case !exists:
			p.action = ActionCreate
		case j.opt.Mode == ModeReplace:
			p.action = ActionReplace
			p.before = ts.rows
			replaced[t.key] = true
			if p.vt.legacy {
				// No DDL was recorded: the rows replace the table's rows but
				// the app's own table (its keys) stays, so it must fit.
				ps, err := j.compat(ctx, q, ts, p)
				if err != nil {
					return err
				}
				problems = append(problems, ps...)
			}
		default:
			p.action = ActionAppend
			p.before = ts.rows
			ps, err := j.compat(ctx, q, ts, p)
			if err != nil {
				return err
			}
			problems = append(problems, ps...)
		}
		j.plans = append(j.plans, p)
	}
	for _, p := range j.plans {
		if p.action != ActionReplace {
			continue
		}
		for _, child := range st.referencedBy[p.src.key] {
			if !replaced[child] {
				problems = append(problems, fmt.Sprintf("table %s cannot be replaced while table %s, which is not being replaced, has a foreign key to it (add %s to --tables)", p.src.key, child, child))
			}
		}
	}
	j.report()
	if len(problems) > 0 {
		return &IncompatibleError{Problems: problems}
	}

	// Sequences: only those in scope. A missing one is created with its
	// recorded next value. One whose every dependent table is being
	// replaced in a full restore is dropped and recreated with them
	// (DuckDB has no setval and no ALTER SEQUENCE RESTART, and refuses to
	// drop a sequence a DEFAULT uses). Any other is only ever advanced,
	// never moved back: rows outside the restore may hold its values.
	inScope := map[string]bool{}
	for _, p := range j.plans {
		for _, s := range p.vt.sequences {
			inScope[s] = true
		}
	}
	j.seqs = nil
	for _, d := range j.v.sequences {
		k := d.key()
		if !j.full && !inScope[k] {
			continue
		}
		cur, has := st.sequences[k]
		switch {
		case !has:
			j.seqs = append(j.seqs, seqAction{def: d, action: SequenceCreate})
		case j.opt.Mode == ModeReplace && j.full && allIn(st.seqDeps[k], replaced):
			j.seqs = append(j.seqs, seqAction{def: d, action: SequenceRecreate, current: cur})
		default:
			j.seqs = append(j.seqs, seqAction{def: d, action: SequenceAdvance, current: cur})
		}
	}
	j.objectScope(st)
	return nil
}

func allIn(keys []string, set map[string]bool) bool {
	for _, k := range keys {
		if !set[k] {
			return false
		}
	}
	return true
}

// compat lists why an existing table cannot take the snapshot's rows,
// matching columns by name as INSERT ... BY NAME would.
func (j *job) compat(ctx context.Context, q querier, ts *tstate, p *tablePlan) ([]string, error) {
	type col struct{ name, typ string }
	var src []col
	if p.vt.legacy {
		rows, err := q.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+p.readParquet()+")")
		if err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", p.src.file, err)
		}
		for rows.Next() {
			var c col
			if err := rows.Scan(&c.name, &c.typ); err != nil {
				rows.Close()
				return nil, err
			}
			src = append(src, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	} else {
		for _, c := range p.vt.plans {
			if !c.Generated {
				src = append(src, col{c.Name, c.Type})
			}
		}
	}
	target := map[string]codec.ColumnPlan{}
	for _, c := range ts.plans {
		target[strings.ToLower(c.Name)] = c
	}
	var out []string
	have := map[string]bool{}
	for _, c := range src {
		tc, ok := target[strings.ToLower(c.name)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("table %s has no column %q", p.src.key, c.name))
			continue
		case tc.Generated:
			out = append(out, fmt.Sprintf("column %q of table %s is a generated column in the target", c.name, p.src.key))
		case tc.Type != c.typ && !castable(ctx, q, c.typ, tc.Type) && !toEnum(c.typ, tc.Type):
			out = append(out, fmt.Sprintf("column %q of table %s is %s in the target but %s in the snapshot", c.name, p.src.key, tc.Type, c.typ))
		}
		have[strings.ToLower(c.name)] = true
	}
	for _, tc := range ts.plans {
		if !tc.Generated && !have[strings.ToLower(tc.Name)] && !ts.nullable[tc.Name] && !ts.hasDefault[tc.Name] {
			out = append(out, fmt.Sprintf("column %q of table %s is NOT NULL without a DEFAULT and the snapshot has no such column", tc.Name, p.src.key))
		}
	}
	return out, nil
}

// castable reports whether DuckDB converts from to to implicitly, i.e.
// without possible loss: those are the only differences append accepts.
func castable(ctx context.Context, q querier, from, to string) bool {
	// The type names come from DuckDB's own rendering, but for a seed
	// snapshot of a Parquet file's schema: the driver would run every
	// statement of a string with a ';', so such a name is simply refused.
	if strings.ContainsAny(from+to, ";") {
		return false
	}
	var ok bool
	err := q.QueryRowContext(ctx, "SELECT can_cast_implicitly(CAST(NULL AS "+from+"), CAST(NULL AS "+to+"))").Scan(&ok)
	return err == nil && ok
}

// toEnum accepts text or another ENUM going into an ENUM column (a seed
// export stores ENUMs as text; an app may add labels): DuckDB's cast fails
// on a label the ENUM lacks instead of losing it, rolling the restore back.
func toEnum(from, to string) bool {
	return strings.HasPrefix(to, "ENUM(") && (from == "VARCHAR" || strings.HasPrefix(from, "ENUM("))
}

// insert loads one table's rows from its verified copy.
func (j *job) insert(ctx context.Context, conn *sql.Conn, p *tablePlan) error {
	from := " FROM " + p.readParquet()
	target := sqlq.Qualified(p.vt.schema, p.vt.name)
	var q string
	switch {
	case p.vt.legacy && p.action == ActionCreate:
		// The seed's metadata records no DDL: the table takes the Parquet
		// file's own schema, as the seed's script did.
		q = "CREATE TABLE " + target + " AS SELECT *" + from
	case p.vt.legacy:
		if p.action == ActionReplace {
			if _, err := conn.ExecContext(ctx, "DELETE FROM "+target); err != nil {
				return fmt.Errorf("empty table %s: %w", p.src.key, err)
			}
		}
		q = "INSERT INTO " + target + " BY NAME SELECT *" + from
	default:
		cols, sel, err := codec.InsertLists(p.vt.plans)
		if err != nil {
			return fmt.Errorf("table %s: %w", p.src.key, err)
		}
		q = "INSERT INTO " + target + " " + cols + " SELECT " + sel + from
	}
	started := time.Now()
	defer func() { slog.Debug("loaded table", "table", p.src.key, "took", time.Since(started)) }()
	if _, err := conn.ExecContext(ctx, q); err != nil {
		if key := dberr.DuplicateKey(err); key != "" {
			return &ConflictError{Table: p.src.key, Key: key, Err: err}
		}
		if dberr.Is(err, dberr.ErrConstraint) && p.action == ActionAppend {
			return &ConflictError{Table: p.src.key, Err: err}
		}
		if undecodable(ctx, err) {
			return &decodeError{Table: p.src.key, File: p.src.file, Err: err}
		}
		return fmt.Errorf("load table %s: %w", p.src.key, err)
	}
	return nil
}

// apply does the restore inside the open transaction, in the order
// DuckDB's dependencies need: schemas and types, replaced tables dropped
// (children first), sequences, then tables, macros and views each after
// what it uses (order.go), rows, indexes, comments; then the checks that
// can still roll everything back; and the sequences' values last, as
// nextval is not transactional.
func (j *job) apply(ctx context.Context, conn *sql.Conn, st *state) error {
	a := &applier{job: j, conn: conn, st: st, touched: map[string]bool{}, built: map[string]bool{}}
	for _, step := range []func(context.Context) error{
		a.createSchemas,
		a.createTypes,
		a.dropReplaced,
		a.createSequences,
		a.createObjects,
		a.loadRows,
		a.createIndexes,
		a.addComments,
		a.checkObjects,
		a.checkRows,
		a.advanceSequences,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// applier is the state apply's steps share.
type applier struct {
	*job
	conn    *sql.Conn
	st      *state
	expect  expectations    // objects whose DDL ran, checked to exist
	touched map[string]bool // objects this restore made (objKey), for their comments
	built   map[string]bool // tables this restore built (manifest keys)
}

func (a *applier) exec(ctx context.Context, what, q string) error {
	if _, err := a.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// object records an object made or replaced.
func (a *applier) object(kind, schema, name string, action Action) {
	a.touched[objKey(kind, schema, name)] = true
	a.rep.Objects = append(a.rep.Objects, ObjectReport{Kind: kind, Name: catalog.Key(schema, name), Action: action})
}

// createSchemas: every schema of the snapshot in a full restore, else
// those of the chosen tables; never dropped.
func (a *applier) createSchemas(ctx context.Context) error {
	var schemas []string
	if a.full {
		schemas = append(schemas, a.v.schemas...)
	}
	for _, p := range a.plans {
		schemas = append(schemas, p.vt.schema)
	}
	for _, s := range schemas {
		if a.st.schemas[s] {
			continue
		}
		if err := a.exec(ctx, "create schema "+s, "CREATE SCHEMA "+sqlq.Ident(s)); err != nil {
			return err
		}
		a.st.schemas[s] = true
		a.object("schema", s, s, ActionCreate)
	}
	return nil
}

// createTypes makes the named types (used by views and macros; tables
// carry their ENUMs inline): all of them in a full restore, else those the
// views and macros it creates use. One in use cannot be dropped, so an
// existing one is kept.
func (a *applier) createTypes(ctx context.Context) error {
	for _, t := range a.v.types {
		if a.st.types[catalog.Key(t.Schema, t.Name)] || !a.needTypes[catalog.Key(t.Schema, t.Name)] {
			continue
		}
		if err := a.exec(ctx, "create type "+catalog.Key(t.Schema, t.Name), t.SQL); err != nil {
			return err
		}
		a.expect.add("type", t.Schema, t.Name, "")
		a.object("type", t.Schema, t.Name, ActionCreate)
	}
	return nil
}

// dropReplaced drops the replaced tables, children before the parents
// they reference.
func (a *applier) dropReplaced(ctx context.Context) error {
	for i := len(a.plans) - 1; i >= 0; i-- {
		p := a.plans[i]
		if p.action == ActionReplace && !p.vt.legacy {
			if err := a.exec(ctx, "drop table "+p.src.key, "DROP TABLE "+sqlq.Qualified(p.vt.schema, p.vt.name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// createSequences creates the missing sequences and recreates those
// whose every table is replaced, before the tables whose DEFAULTs use them.
func (a *applier) createSequences(ctx context.Context) error {
	for _, s := range a.seqs {
		d := s.def
		switch s.action {
		case SequenceRecreate:
			if err := a.exec(ctx, "drop sequence "+d.key(), "DROP SEQUENCE "+d.qualified()); err != nil {
				return err
			}
			fallthrough
		case SequenceCreate:
			if err := a.exec(ctx, "create sequence "+d.key(), d.createSQL()); err != nil {
				return err
			}
			a.touched[objKey("sequence", d.Schema, d.Name)] = true
		}
	}
	return nil
}

// createObjects creates the tables that are created or replaced (from
// DuckDB's rendering of the DDL the sandbox checked), the macros and the
// views in scope, each after what it uses.
func (a *applier) createObjects(ctx context.Context) error {
	plans := map[string]*tablePlan{}
	for _, p := range a.plans {
		plans[objKey("table", p.vt.schema, p.vt.name)] = p
	}
	macros := map[string]vmacro{}
	for _, vm := range a.v.macros {
		macros[objKey("macro", vm.obj.Schema, vm.obj.Name)] = vm
	}
	views := map[string]vview{}
	for _, vv := range a.v.views {
		views[objKey("view", vv.obj.Schema, vv.obj.Name)] = vv
	}
	var order []node
	if a.v.graph != nil {
		order = a.v.graph.order
	} else {
		for _, p := range a.plans {
			order = append(order, node{kind: "table", schema: p.vt.schema, name: p.vt.name})
		}
	}
	for _, n := range order {
		var err error
		switch {
		case n.kind == "table":
			err = a.createTable(ctx, plans[n.key()])
		case !a.scope[n.key()]:
		case n.kind == "macro" && macros[n.key()].broken != nil:
			vm := macros[n.key()]
			a.skip("macro", catalog.Key(n.schema, n.name), vm.obj.SQL, vm.broken)
		case n.kind == "macro":
			err = a.createMacro(ctx, macros[n.key()])
		case n.kind == "view" && views[n.key()].broken != nil:
			vv := views[n.key()]
			a.skip("view", catalog.Key(n.schema, n.name), vv.obj.SQL, vv.broken)
		case n.kind == "view":
			err = a.createView(ctx, views[n.key()])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// createTable creates one table that is created or replaced.
func (a *applier) createTable(ctx context.Context, p *tablePlan) error {
	if p == nil || p.action == ActionAppend || p.vt.legacy {
		return nil
	}
	if p.vt.nul {
		if err := a.createAsSelect(ctx, p); err != nil {
			return err
		}
	} else if err := a.exec(ctx, "create table "+p.src.key, p.vt.ddl); err != nil {
		return err
	}
	a.expect.add("table", p.vt.schema, p.vt.name, "")
	return nil
}

// createAsSelect builds a table with a column whose name holds a NUL byte,
// which no CREATE TABLE statement can spell: CREATE TABLE AS SELECT takes
// the names from the verified copy's columns and the types from the decode
// casts. DuckDB's rendering of the result must be the snapshot's
// create_sql, so that it is the table the source had.
func (a *applier) createAsSelect(ctx context.Context, p *tablePlan) error {
	_, sel, err := codec.InsertLists(p.vt.plans)
	if err != nil {
		return fmt.Errorf("create table %s: %w", p.src.key, err)
	}
	target := sqlq.Qualified(p.vt.schema, p.vt.name)
	if err := a.exec(ctx, "create table "+p.src.key, "CREATE TABLE "+target+" AS SELECT "+sel+" FROM "+p.readParquet()+" LIMIT 0"); err != nil {
		return err
	}
	var got string
	if err := a.conn.QueryRowContext(ctx, "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
		p.vt.schema, p.vt.name).Scan(&got); err != nil {
		return fmt.Errorf("create table %s: read it back: %w", p.src.key, err)
	}
	if got != p.vt.ddl {
		return fmt.Errorf("%w: table %s was rebuilt as %q, not as its create_sql %q", ErrBadDDL, p.src.key, got, p.vt.ddl)
	}
	return nil
}

// loadRows loads every table's rows from its verified copy.
func (a *applier) loadRows(ctx context.Context) error {
	for i, p := range a.plans {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a.opt.Progress != nil {
			a.opt.Progress(Progress{Stage: StageRestore, Table: p.src.key, Index: i + 1, Count: len(a.plans)})
		}
		if err := a.insert(ctx, a.conn, p); err != nil {
			return err
		}
		if p.action != ActionAppend {
			a.built[p.src.key] = true
			a.touched[objKey("table", p.vt.schema, p.vt.name)] = true
		}
		if a.opt.Progress != nil {
			a.opt.Progress(Progress{Stage: StageRestore, Table: p.src.key, Index: i + 1, Count: len(a.plans), Rows: p.src.rows, Done: true})
		}
	}
	return nil
}

// createIndexes builds the indexes after the rows (building one index is
// faster than updating it row by row), only on tables this restore built.
func (a *applier) createIndexes(ctx context.Context) error {
	for _, ix := range a.v.indexes {
		if !a.built[catalog.Key(ix.Schema, ix.Table)] {
			continue
		}
		if err := a.exec(ctx, "create index "+catalog.Key(ix.Schema, ix.Name), ix.SQL); err != nil {
			return err
		}
		a.expect.add("index", ix.Schema, ix.Name, ix.Table)
		a.object("index", ix.Schema, ix.Name, ActionCreate)
	}
	return nil
}

// existing says what to do with an object of the snapshot the target
// already has: a full restore keeps it when appending and replaces it
// with --replace; a --tables restore always keeps it.
func (a *applier) existing(kind, key string) (replace bool) {
	if a.opt.Mode == ModeReplace && a.full {
		return true
	}
	a.rep.Objects = append(a.rep.Objects, ObjectReport{Kind: kind, Name: key, Action: ActionKeep})
	return false
}

// createMacro creates one macro in scope (not a broken one); one that no
// longer binds is skipped and reported.
func (a *applier) createMacro(ctx context.Context, vm vmacro) error {
	mc := vm.obj
	key := catalog.Key(mc.Schema, mc.Name)
	q, action := mc.SQL, ActionCreate
	if a.st.macros[key] {
		if !a.existing("macro", key) {
			return nil
		}
		q, action = "CREATE OR REPLACE MACRO "+strings.TrimPrefix(mc.SQL, "CREATE MACRO "), ActionReplace
	}
	// Binding may fail here although it worked in the sandbox: an
	// appended-to target may have other columns. A binder error does
	// not abort DuckDB's transaction, so the macro is skipped.
	err := checkOneCreate(ctx, a.conn, "macro "+key, q)
	var be *bindError
	if errors.As(err, &be) {
		a.skip("macro", key, mc.SQL, be.err)
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.exec(ctx, "create macro "+key, q); err != nil {
		return err
	}
	// Not looked up afterwards: see validate.
	a.st.macros[key] = true
	a.object("macro", mc.Schema, mc.Name, action)
	return nil
}

// createView creates one view in scope, like a macro.
func (a *applier) createView(ctx context.Context, vv vview) error {
	vw := vv.obj
	key := catalog.Key(vw.Schema, vw.Name)
	q, action := vw.SQL, ActionCreate
	if a.st.views[key] {
		if !a.existing("view", key) {
			return nil
		}
		q, action = viewRe.ReplaceAllLiteralString(vw.SQL, "CREATE OR REPLACE VIEW "), ActionReplace
	}
	err := checkOneCreate(ctx, a.conn, "view "+key, q)
	var be *bindError
	if errors.As(err, &be) {
		a.skip("view", key, vw.SQL, be.err)
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.exec(ctx, "create view "+key, q); err != nil {
		return err
	}
	a.st.views[key] = true
	a.expect.add("view", vw.Schema, vw.Name, "")
	a.object("view", vw.Schema, vw.Name, action)
	return nil
}

// addComments applies the comments on objects this restore made.
func (a *applier) addComments(ctx context.Context) error {
	for _, c := range a.v.comments {
		if a.touched[c.target()] {
			if err := a.exec(ctx, "comment", c.sql()); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkObjects makes sure every object whose DDL ran exists.
func (a *applier) checkObjects(ctx context.Context) error { return a.expect.check(ctx, a.conn) }

// checkRows counts every table before committing: a mismatch rolls
// everything back.
func (a *applier) checkRows(ctx context.Context) error {
	for _, p := range a.plans {
		var n int64
		if err := a.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlq.Qualified(p.vt.schema, p.vt.name)).Scan(&n); err != nil {
			return fmt.Errorf("count rows of %s: %w", p.src.key, err)
		}
		if n != p.expected() {
			return fmt.Errorf("table %s would hold %d rows, %d expected (%s of %d rows onto %d); nothing was restored", p.src.key, n, p.expected(), p.action, p.src.rows, p.before)
		}
	}
	return nil
}

// advanceSequences brings the advanced sequences to their recorded
// values. nextval is not transactional in DuckDB, so this is the final
// step, after everything that could still fail.
func (a *applier) advanceSequences(ctx context.Context) error {
	for _, s := range a.seqs {
		r := SequenceReport{Sequence: s.def.key(), Action: s.action, Recorded: s.def.Next, NextValue: s.def.Next}
		if s.action == SequenceAdvance {
			next, steps, err := advance(ctx, a.conn, s.def, s.current)
			if err != nil {
				return err
			}
			r.NextValue = next
			if steps == 0 {
				r.Action = SequenceKeep
			}
		}
		a.rep.Sequences = append(a.rep.Sequences, r)
	}
	return nil
}

func (j *job) skip(kind, name, ddl string, why error) {
	j.rep.Skipped = append(j.rep.Skipped, SkippedObject{Kind: kind, Name: name, SQL: ddl, Reason: why.Error()})
	j.rep.Warnings = append(j.rep.Warnings, fmt.Sprintf("%s %s was not restored: DuckDB cannot bind it (%s); it was already broken in the source; its DDL: %s", kind, name, firstLine(why.Error()), ddl))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// maxAdvance bounds the nextval calls spent moving one sequence forward
// (about ten million a second).
const maxAdvance = 1 << 31

// advance calls nextval until the sequence's next value is at least the
// recorded one (in its direction), and returns the next value and the
// number of calls.
func advance(ctx context.Context, conn *sql.Conn, d seqDef, current int64) (int64, int64, error) {
	diff := new(big.Int).Sub(big.NewInt(d.Next), big.NewInt(current))
	inc := big.NewInt(d.Increment)
	if diff.Sign() == 0 || diff.Sign() != inc.Sign() {
		return current, 0, nil
	}
	// ceil(diff / inc), both of the same sign.
	n := new(big.Int).Add(diff, new(big.Int).Sub(inc, big.NewInt(int64(inc.Sign()))))
	n.Quo(n, inc)
	if !n.IsInt64() || n.Int64() > maxAdvance {
		return 0, 0, fmt.Errorf("sequence %s is at %d and must reach %d: more nextval calls than statsnap makes (%d); raise it by hand", d.key(), current, d.Next, int64(maxAdvance))
	}
	arg, err := d.nextvalArg()
	if err != nil {
		return 0, 0, err
	}
	steps := n.Int64()
	agg := "max"
	if d.Increment < 0 {
		agg = "min"
	}
	var last int64
	for left := steps; left > 0; {
		k := min(left, 10_000_000)
		if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT %s(nextval(%s)) FROM range(%d)", agg, arg, k)).Scan(&last); err != nil {
			return 0, 0, fmt.Errorf("advance sequence %s: %w", d.key(), err)
		}
		left -= k
	}
	return last + d.Increment, steps, nil
}

// run restores into the target for real.
func (j *job) run(ctx context.Context, target string, exists bool, work *workDir, copyTo string) error {
	path, version := target, ""
	if !exists {
		// A new database is built inside the work folder and moved into
		// place only once committed, checkpointed and synced: a crash never
		// leaves a half-built database under the name the app opens.
		path = filepath.Join(work.path, "new.duckdb")
		version = j.rep.StorageVersion
	}
	opened := time.Now()
	// What the target's file was, to give back what DuckDB's optimistic
	// writes took if the restore rolls back (registered first, so it runs
	// once DuckDB has closed the file).
	committed := false
	if exists {
		before, err := recordTarget(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		defer func() {
			if !committed {
				before.giveBack()
			}
		}()
	}
	db, err := openDB(ctx, path, false, version)
	if err != nil {
		return err
	}
	dbOpen := true
	defer func() {
		if dbOpen {
			db.Close()
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer conn.Close()
	// DuckDB works under a memory limit, spilling to the work folder: a
	// file that passed every check can still make a reader allocate
	// (a forged 1.36 MB file drove restore past 4.3 GB).
	limit := j.memoryLimit
	if limit == "" {
		limit = MemoryLimit
	}
	for _, q := range []string{
		"SET memory_limit = " + sqlq.Literal(limit),
		"SET temp_directory = " + sqlq.Literal(filepath.Join(work.path, "spill")),
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("limit DuckDB's memory: %s: %w", q, err)
		}
	}
	if err := dbfile.Confine(ctx, conn, copyTo); err != nil {
		return err
	}
	stubs, err := j.attachStubs(ctx, conn)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if !committed {
			// A Ctrl-C must still roll back.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	count := map[string]bool{}
	for _, t := range j.tables {
		count[t.key] = true
	}
	slog.Debug("opened the target", "took", time.Since(opened))
	// A database this restore just created holds nothing yet: reading its
	// catalog (duckdb_functions() alone lists every built-in) is skipped.
	st := emptyState()
	if exists {
		if st, err = readState(ctx, conn, count); err != nil {
			return err
		}
	}
	if err := j.plan(ctx, conn, st); err != nil {
		return err
	}
	slog.Debug("planned", "took", time.Since(opened))
	started := time.Now()
	if err := j.apply(ctx, conn, st); err != nil {
		return err
	}
	slog.Debug("applied", "took", time.Since(started))
	started = time.Now()
	j.opt.event(ctx, "before-commit")
	// The last moment an interruption rolls everything back. Past this
	// check the commit is not cancellable: a signal that lands while
	// DuckDB commits, or after, must not be reported as "nothing was
	// changed" when the rows are in (running the restore again would
	// append them twice).
	if err := ctx.Err(); err != nil {
		return err
	}
	j.opt.event(ctx, "at-commit")
	signalled := ctx
	ctx = context.WithoutCancel(ctx)
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	slog.Debug("committed", "took", time.Since(started))
	j.opt.event(signalled, "after-commit")
	for _, s := range stubs {
		// A stand-in that stays attached goes with the connection.
		_, _ = conn.ExecContext(ctx, "DETACH "+sqlq.Ident(s))
	}
	j.report()
	var bad []string
	for i, p := range j.plans {
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlq.Qualified(p.vt.schema, p.vt.name)).Scan(&n); err != nil {
			return fmt.Errorf("restored, but counting the rows of %s failed: %w", p.src.key, err)
		}
		j.rep.Tables[i].RowsAfter = n
		j.rep.Tables[i].Checked = n == p.expected()
		if n != p.expected() {
			bad = append(bad, fmt.Sprintf("%s holds %d rows, %d expected", p.src.key, n, p.expected()))
		}
	}
	if !exists {
		started = time.Now()
		if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
			return fmt.Errorf("checkpoint the new database: %w", err)
		}
		conn.Close()
		if err := db.Close(); err != nil {
			return fmt.Errorf("close the new database: %w", err)
		}
		slog.Debug("checkpointed and closed the new database", "took", time.Since(started))
		dbOpen = false
		if _, err := os.Lstat(path + ".wal"); err == nil {
			return fmt.Errorf("the new database still has a write-ahead log after its checkpoint; it was not moved into place")
		}
		if err := publish(path, target); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("restore committed but the row counts disagree with the manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}

// attachStubs attaches an empty in-memory database under each catalog
// name the snapshot's views need (a database attached in the source),
// for as long as restore runs.
func (j *job) attachStubs(ctx context.Context, conn *sql.Conn) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, vv := range j.v.views {
		if !j.full && !j.scope[objKey("view", vv.obj.Schema, vv.obj.Name)] {
			continue
		}
		for _, s := range vv.stubs {
			if seen[s] {
				continue
			}
			seen[s] = true
			var n int
			if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", s).Scan(&n); err != nil {
				return out, err
			}
			if n > 0 {
				continue
			}
			if _, err := conn.ExecContext(ctx, "ATTACH ':memory:' AS "+sqlq.Ident(s)); err != nil {
				return out, fmt.Errorf("attach a stand-in for catalog %s: %w", s, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// report fills the per-table part of the report from the plan.
func (j *job) report() {
	j.rep.Tables = j.rep.Tables[:0]
	for _, p := range j.plans {
		j.rep.Tables = append(j.rep.Tables, TableReport{Table: p.src.key, Action: p.action, Rows: p.src.rows, RowsBefore: p.before})
	}
}

// dryRun plans against the read-only target and runs every check that
// needs no write: verification and DDL were checked by the caller; here
// the append targets' columns and their primary keys.
func (j *job) dryRun(ctx context.Context, target string, exists bool) error {
	st := emptyState()
	var q querier
	if exists {
		db, err := openDB(ctx, target, true, "")
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		count := map[string]bool{}
		for _, t := range j.tables {
			count[t.key] = true
		}
		if st, err = readState(ctx, conn, count); err != nil {
			return err
		}
		q = conn
	}
	if err := j.plan(ctx, q, st); err != nil {
		return err
	}
	for _, p := range j.plans {
		if p.action != ActionAppend {
			continue
		}
		if err := conflictCheck(ctx, q, st.tables[p.src.key], p); err != nil {
			return err
		}
	}
	j.report()
	for _, s := range j.seqs {
		r := SequenceReport{Sequence: s.def.key(), Action: s.action, Recorded: s.def.Next, NextValue: s.def.Next}
		if s.action == SequenceAdvance && !moves(s.current, s.def) {
			r.Action, r.NextValue = SequenceKeep, s.current
		}
		j.rep.Sequences = append(j.rep.Sequences, r)
	}
	for _, vm := range j.v.macros {
		if vm.broken != nil && j.scope[objKey("macro", vm.obj.Schema, vm.obj.Name)] {
			j.skip("macro", catalog.Key(vm.obj.Schema, vm.obj.Name), vm.obj.SQL, vm.broken)
		}
	}
	for _, vv := range j.v.views {
		if vv.broken != nil && j.scope[objKey("view", vv.obj.Schema, vv.obj.Name)] {
			j.skip("view", catalog.Key(vv.obj.Schema, vv.obj.Name), vv.obj.SQL, vv.broken)
		}
	}
	return nil
}

func moves(current int64, d seqDef) bool {
	if d.Increment > 0 {
		return d.Next > current
	}
	return d.Next < current
}

// conflictCheck looks for a primary key of the snapshot's rows that the
// target table already holds, as the append would hit.
func conflictCheck(ctx context.Context, q querier, ts *tstate, p *tablePlan) error {
	if ts == nil || len(ts.pk) == 0 || p.vt.legacy {
		return nil
	}
	byName := map[string]codec.ColumnPlan{}
	for _, c := range p.vt.plans {
		byName[strings.ToLower(c.Name)] = c
	}
	var exprs, cols []string
	for _, k := range ts.pk {
		c, ok := byName[strings.ToLower(k)]
		if !ok || c.Generated || sqlq.HasNUL(k) {
			// A key column SQL cannot spell is left to the INSERT,
			// which fails on a duplicate key all the same.
			return nil
		}
		e, err := codec.DecodeExpr(c)
		if err != nil {
			return err
		}
		exprs = append(exprs, e+" AS "+sqlq.Ident(k))
		cols = append(cols, sqlq.Ident(k))
	}
	query := "SELECT " + strings.Join(cols, ", ") + " FROM (SELECT " + strings.Join(exprs, ", ") + " FROM " + p.readParquet() +
		" INTERSECT SELECT " + strings.Join(cols, ", ") + " FROM " + sqlq.Qualified(ts.schema, ts.name) + ") LIMIT 1"
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("check the keys of %s: %w", p.src.key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err()
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return err
	}
	var parts []string
	for i, k := range ts.pk {
		parts = append(parts, fmt.Sprintf("%s: %v", k, vals[i]))
	}
	return &ConflictError{Table: p.src.key, Key: strings.Join(parts, ", ")}
}
