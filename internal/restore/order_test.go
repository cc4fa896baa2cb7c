package restore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

func TestViewQuery(t *testing.T) {
	for _, c := range []struct{ ddl, want string }{
		{`CREATE VIEW a AS SELECT * FROM z;`, `SELECT * FROM z`},
		{`CREATE VIEW s."we ird" (c1) AS (SELECT 1 AS " AS ") UNION ALL (SELECT 2);`, `(SELECT 1 AS " AS ") UNION ALL (SELECT 2)`},
		{`CREATE VIEW "a ""AS"" b"."c(" ("x AS", y) AS SELECT 'AS' AS x, 2`, `SELECT 'AS' AS x, 2`},
		{"CREATE VIEW v /* AS */ AS -- AS\nSELECT 1", "-- AS\nSELECT 1"},
	} {
		got, ok := viewQuery(c.ddl)
		if !ok || got != c.want {
			t.Errorf("viewQuery(%q) = %q, %v; want %q", c.ddl, got, ok, c.want)
		}
	}
	for _, bad := range []string{``, `CREATE TABLE t(x INT)`, `CREATE VIEW "unclosed AS SELECT 1`, `CREATE VIEW v SELECT 1`, `CREATE VIEW v (a AS SELECT 1`} {
		if q, ok := viewQuery(bad); ok {
			t.Errorf("viewQuery(%q) = %q, want it refused", bad, q)
		}
	}
}

func TestMacroParts(t *testing.T) {
	for _, c := range []struct {
		ddl  string
		want []string
	}{
		{`CREATE MACRO "main"."a_m"("x") AS (z_m(x) + 1);`, []string{`SELECT (z_m(x) + 1)`}},
		{`CREATE MACRO "main"."o"("a", "b" := z_m(1, 2)) AS (a + b), ("a") AS a;`, []string{`SELECT z_m(1, 2)`, `SELECT (a + b)`, `SELECT a`}},
		{`CREATE MACRO "s"."t"("a") AS TABLE SELECT a, (a) AS q, ', (' FROM t;`, []string{`SELECT a, (a) AS q, ', (' FROM t`}},
		{`CREATE MACRO "main"."k"() AS 'a, b';`, []string{`SELECT 'a, b'`}},
	} {
		got, ok := macroParts(c.ddl)
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("macroParts(%q) = %q, %v; want %q", c.ddl, got, ok, c.want)
		}
	}
	for _, bad := range []string{`CREATE MACRO "m"`, `CREATE MACRO "main"."m"(x)`, `CREATE MACRO "main"."m"(x) AS`, `CREATE MACRO "main"."m"(x := ) AS 1`, `CREATE VIEW v AS SELECT 1`} {
		if got, ok := macroParts(bad); ok {
			t.Errorf("macroParts(%q) = %q, want it refused", bad, got)
		}
	}
}

func TestTableParts(t *testing.T) {
	exprs, fks, ok := tableParts(`CREATE TABLE a_child(id INTEGER DEFAULT(nextval('s')), pid INTEGER, y INTEGER GENERATED ALWAYS AS(z_m(pid)) VIRTUAL, "check" STRUCT("default" INTEGER), CHECK((z_m(y) > 0)), FOREIGN KEY (pid) REFERENCES z_parent(id), FOREIGN KEY (y) REFERENCES "s"."p q"(id));`)
	if !ok {
		t.Fatal("tableParts refused DuckDB's rendering")
	}
	if want := []string{`SELECT nextval('s')`, `SELECT z_m(pid)`, `SELECT (z_m(y) > 0)`}; !reflect.DeepEqual(exprs, want) {
		t.Errorf("expressions %q, want %q", exprs, want)
	}
	if want := []ref{{kind: "rel", name: "z_parent"}, {kind: "rel", schema: "s", name: "p q"}}; !reflect.DeepEqual(fks, want) {
		t.Errorf("foreign keys %+v, want %+v", fks, want)
	}
	for _, bad := range []string{`CREATE TABLE t(x INT DEFAULT 1)`, `CREATE TABLE t(x INT`, `CREATE TABLE t AS SELECT 1`} {
		if _, _, ok := tableParts(bad); ok {
			t.Errorf("tableParts(%q) accepted", bad)
		}
	}
}

func TestTopoSortBreaksCycles(t *testing.T) {
	a := node{kind: "view", name: "a", rank: 0}
	b := node{kind: "view", name: "b", rank: 1}
	c := node{kind: "view", name: "c", rank: 2}
	d := node{kind: "view", name: "d", rank: 3}
	deps := map[string][]string{a.key(): {b.key()}, b.key(): {a.key()}, c.key(): {d.key(), "unknown"}}
	got := topoSort([]node{a, b, c, d}, deps, map[string]bool{d.key(): true})
	var names []string
	for _, n := range got {
		names = append(names, n.name)
	}
	// d is late but ready, and c needs it; the cycle a-b is broken (at a)
	// only once nothing else is ready.
	if want := []string{"d", "c", "a", "b"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
}

// orderSource is the database DuckDB's own EXPORT DATABASE / IMPORT
// DATABASE cannot carry: a foreign-key child named before its parent, a
// view over a view recreated after it, a macro calling a macro recreated
// after it, a table whose generated column calls a macro, a table macro
// over a table, a view over a macro, a view naming a type, an index
// calling a macro.
var orderSource = []string{
	`CREATE SCHEMA s`,
	`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
	`CREATE TABLE z_parent (id INTEGER PRIMARY KEY, label VARCHAR)`,
	`CREATE TABLE a_child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES z_parent (id))`,
	`CREATE TABLE s.a_grandchild (id INTEGER, cid INTEGER REFERENCES s.b_parent (id))`,
	`INSERT INTO z_parent VALUES (1, 'one'), (2, 'two'), (3, 'three')`,
	`INSERT INTO a_child VALUES (10, 1), (20, 2), (30, 2)`,
	`CREATE VIEW z AS SELECT 0 AS id`,
	`CREATE VIEW a AS SELECT * FROM z`,
	`CREATE OR REPLACE VIEW z AS SELECT id, label FROM z_parent`,
	`CREATE MACRO z_m(x) AS x * 2`,
	`CREATE MACRO a_m(x) AS z_m(x) + 1`,
	`CREATE OR REPLACE MACRO z_m(x) AS x * 3`,
	`CREATE TABLE gen (x INTEGER, y INTEGER GENERATED ALWAYS AS (a_m(x)))`,
	`INSERT INTO gen (x) VALUES (1), (2)`,
	`CREATE MACRO children_of(p) AS TABLE SELECT id FROM a_child WHERE pid = p`,
	`CREATE VIEW b_uses_macro AS SELECT id, a_m(id) AS v FROM a`,
	`CREATE VIEW moods AS SELECT CAST('ok' AS mood) AS m`,
	`CREATE VIEW mood_labels AS SELECT label, CAST('happy' AS mood) AS m FROM z`,
	`CREATE VIEW both_sides AS SELECT c.id, g.y FROM a_child c, gen g`,
	`CREATE INDEX child_expr ON a_child (z_m(pid))`,
}

// The FK in s.a_grandchild needs s.b_parent first; DuckDB requires the
// parent to exist, so it is created before, and the test source lists it
// in that position.
func init() {
	i := slices.Index(orderSource, `CREATE TABLE s.a_grandchild (id INTEGER, cid INTEGER REFERENCES s.b_parent (id))`)
	orderSource = slices.Insert(orderSource, i, `CREATE TABLE s.b_parent (id INTEGER PRIMARY KEY)`, `INSERT INTO s.b_parent VALUES (7)`)
	orderSource = append(orderSource, `INSERT INTO s.a_grandchild VALUES (1, 7)`)
}

// query runs q on the database at path, opened and closed around it.
func query(t *testing.T, path, q string) [][]string {
	t.Helper()
	db, err := dbfile.Open(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func flat(rows [][]string) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, strings.Join(r, "|"))
	}
	return strings.Join(parts, ";")
}

// objectsOf lists the user objects of a database, for comparing two.
const objectsOf = `SELECT kind, name FROM (
  SELECT 'table' AS kind, schema_name || '.' || table_name AS name FROM duckdb_tables()
  UNION ALL SELECT 'view', schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal
  UNION ALL SELECT DISTINCT 'macro', schema_name || '.' || function_name FROM duckdb_functions() WHERE NOT internal AND function_type IN ('macro', 'table_macro')
  UNION ALL SELECT 'type', schema_name || '.' || type_name FROM duckdb_types() WHERE NOT internal
  UNION ALL SELECT 'index', schema_name || '.' || index_name FROM duckdb_indexes()
) ORDER BY kind, name`

// checks are queries whose answers must be the source's.
var orderChecks = []string{
	`SELECT * FROM a ORDER BY id`,
	`SELECT * FROM b_uses_macro ORDER BY id`,
	`SELECT a_m(5), z_m(5)`,
	`SELECT * FROM gen ORDER BY x`,
	`SELECT * FROM children_of(2) ORDER BY id`,
	`SELECT * FROM moods`,
	`SELECT * FROM mood_labels ORDER BY label`,
	`SELECT * FROM both_sides ORDER BY ALL`,
	`SELECT * FROM s.a_grandchild`,
}

func orderFixture(t *testing.T) (dir, src string, folder *local.Folder) {
	t.Helper()
	dir = t.TempDir()
	src = filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src, orderSource...)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "tester", Folder: folder,
		CompressionLevel: 1, Time: time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return dir, src, folder
}

// TestDuckDBImportFailsOnOrder shows the case is real: DuckDB's own
// EXPORT DATABASE writes it in an order its IMPORT DATABASE cannot run.
func TestDuckDBImportFailsOnOrder(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	export := filepath.Join(dir, "export")
	testutil.WriteDB(t, src, append(slices.Clone(orderSource), `EXPORT DATABASE '`+export+`'`)...)
	db := testutil.OpenDB(t, filepath.Join(dir, "imported.duckdb"), true)
	_, err := db.Exec(`IMPORT DATABASE '` + export + `'`)
	if err == nil {
		t.Fatal("DuckDB's IMPORT DATABASE carried the database; the case this test guards against no longer exists")
	}
	t.Logf("DuckDB's IMPORT DATABASE fails: %v", strings.SplitN(err.Error(), "\n", 2)[0])
}

func TestRestoreOrdersByDependencies(t *testing.T) {
	dir, src, folder := orderFixture(t)
	want := map[string]string{}
	for _, q := range append(slices.Clone(orderChecks), objectsOf) {
		want[q] = flat(query(t, src, q))
	}
	same := func(t *testing.T, path string) {
		t.Helper()
		for _, q := range append(slices.Clone(orderChecks), objectsOf) {
			if got := flat(query(t, path, q)); got != want[q] {
				t.Errorf("%s:\n got %s\nwant %s", q, got, want[q])
			}
		}
	}
	out := filepath.Join(dir, "full.duckdb")
	// In order: the replace goes over what the first restore made.
	for _, c := range []struct {
		name string
		mode Mode
	}{{"full into a new database", ModeAppend}, {"full replace over itself", ModeReplace}} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{Folder: folder, Target: out, Mode: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Skipped) > 0 {
				t.Errorf("skipped %+v", rep.Skipped)
			}
			same(t, out)
		})
	}
	t.Run("full append into an empty database", func(t *testing.T) {
		empty := filepath.Join(dir, "empty.duckdb")
		testutil.WriteDB(t, empty, `CREATE TABLE unrelated (x INTEGER)`)
		if _, err := Run(context.Background(), Options{Folder: folder, Target: empty}); err != nil {
			t.Fatal(err)
		}
		for _, q := range orderChecks {
			if got := flat(query(t, empty, q)); got != want[q] {
				t.Errorf("%s:\n got %s\nwant %s", q, got, want[q])
			}
		}
	})
}

func TestRestoreTablesNeedsForeignKeyParents(t *testing.T) {
	dir, _, folder := orderFixture(t)
	out := filepath.Join(dir, "part.duckdb")
	for _, mode := range []Mode{ModeAppend, ModeReplace} {
		_, err := Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child", "s.a_grandchild"}, Mode: mode})
		var me *MissingDependenciesError
		if !errors.As(err, &me) {
			t.Fatalf("%s: want a MissingDependenciesError, got %v", mode, err)
		}
		if want := map[string][]string{"a_child": {"z_parent"}, "s.a_grandchild": {"s.b_parent"}}; !reflect.DeepEqual(me.Missing, want) {
			t.Errorf("missing %v, want %v", me.Missing, want)
		}
		msg := me.Error()
		for _, s := range []string{"table a_child has a foreign key to table z_parent", "table s.a_grandchild has a foreign key to table s.b_parent", "--with-dependencies", "--tables a_child,s.a_grandchild,z_parent,s.b_parent"} {
			if !strings.Contains(msg, s) {
				t.Errorf("message %q lacks %q", msg, s)
			}
		}
	}
	if _, err := dbfile.Open(context.Background(), out, true); err == nil {
		t.Errorf("a refused restore left %s behind", out)
	}
	// The refusal comes before any file is hashed, from the manifest's
	// DDL; when that DDL cannot be read for its foreign keys (a DEFAULT
	// without parentheses, as DuckDB never renders it), the sandbox's
	// catalog still refuses, after verification.
	verified := false
	_, err := Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"},
		Verified: func(snapshot.Info, []storage.Entry, verify.Result) { verified = true }})
	if me := new(MissingDependenciesError); !errors.As(err, &me) || verified {
		t.Errorf("want a refusal before verifying, got %v (verified: %v)", err, verified)
	}
	fx := fixture{dir: dir, folder: folder, id: snapshotID(t, folder)}
	fx.tamper(t, func(m *snapshot.Manifest) {
		m.Tables["a_child"].CreateSQL = `CREATE TABLE a_child(id INTEGER DEFAULT 0 PRIMARY KEY, pid INTEGER, FOREIGN KEY (pid) REFERENCES z_parent(id));`
	})
	_, err = Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"},
		Verified: func(snapshot.Info, []storage.Entry, verify.Result) { verified = true }})
	if me := new(MissingDependenciesError); !errors.As(err, &me) || !verified || !reflect.DeepEqual(me.Missing, map[string][]string{"a_child": {"z_parent"}}) {
		t.Errorf("want a refusal after verifying, got %v (verified: %v)", err, verified)
	}

	// A dry run says the same; with --with-dependencies it plans both.
	_, err = Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"}, DryRun: true})
	var me *MissingDependenciesError
	if !errors.As(err, &me) {
		t.Errorf("dry run: want a MissingDependenciesError, got %v", err)
	}
	dry, err := Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"}, DryRun: true, WithDependencies: true})
	if err != nil || len(dry.Tables) != 2 || dry.Tables[0].Table != "z_parent" {
		t.Errorf("dry run with dependencies: %v, %+v", err, dry)
	}

	// With --with-dependencies the parents come too, with the views and
	// macros over the restored tables (and the type mood_labels names);
	// what uses gen (not restored) does not, nor does moods (it uses no
	// table).
	rep, err := Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"}, WithDependencies: true})
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, tr := range rep.Tables {
		tables = append(tables, tr.Table+":"+tr.Action.String())
	}
	if want := []string{"z_parent:create", "a_child:create"}; !reflect.DeepEqual(tables, want) {
		t.Errorf("tables %v, want %v", tables, want)
	}
	got := flat(query(t, out, objectsOf))
	want := "index|main.child_expr;macro|main.a_m;macro|main.children_of;macro|main.z_m;table|main.a_child;table|main.z_parent;type|main.mood;view|main.a;view|main.b_uses_macro;view|main.mood_labels;view|main.z"
	if got != want {
		t.Errorf("objects\n got %s\nwant %s", got, want)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Name != "both_sides" || !strings.Contains(rep.Skipped[0].Reason, "table gen") {
		t.Errorf("skipped %+v, want both_sides for lacking gen", rep.Skipped)
	}
	if g := flat(query(t, out, `SELECT * FROM b_uses_macro ORDER BY id`)); g != "1|4;2|7;3|10" {
		t.Errorf("b_uses_macro: %s", g)
	}

	// A table whose generated column calls a macro, alone into a new
	// database: the macro (and the one it calls) comes with it.
	genOnly := filepath.Join(dir, "gen.duckdb")
	if _, err := Run(context.Background(), Options{Folder: folder, Target: genOnly, Tables: []string{"gen"}}); err != nil {
		t.Fatal(err)
	}
	if got := flat(query(t, genOnly, objectsOf)); got != "macro|main.a_m;macro|main.z_m;table|main.gen" {
		t.Errorf("objects of a --tables gen restore: %s", got)
	}
	if got, want := flat(query(t, genOnly, `SELECT * FROM gen ORDER BY x`)), "1|4;2|7"; got != want {
		t.Errorf("gen: %s, want %s", got, want)
	}

	// --tables with --replace: the parent the target now has is used as
	// it is; the views and macros there are kept.
	rep, err = Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"a_child"}, Mode: ModeReplace})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Action != ActionReplace {
		t.Errorf("tables %+v", rep.Tables)
	}
	kept := 0
	for _, o := range rep.Objects {
		if o.Action == ActionKeep {
			kept++
		} else if o.Kind != "index" {
			t.Errorf("object %+v: want views and macros kept", o)
		}
	}
	// Only children_of uses a_child; a, z and b_uses_macro use z_parent,
	// which this restore does not touch.
	if kept != 1 {
		t.Errorf("objects %+v, want children_of kept", rep.Objects)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Name != "both_sides" {
		t.Errorf("skipped %+v, want both_sides (gen is not in the target)", rep.Skipped)
	}
	if g := flat(query(t, out, `SELECT * FROM children_of(2) ORDER BY id`)); g != "20;30" {
		t.Errorf("children_of(2): %s", g)
	}

	// Appending gen alone into that target: gen needs a_m, which the
	// target has; both_sides now has all it uses and is created.
	rep, err = Run(context.Background(), Options{Folder: folder, Target: out, Tables: []string{"gen"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := flat(query(t, out, `SELECT * FROM both_sides ORDER BY ALL`)); g != "10|4;10|7;20|4;20|7;30|4;30|7" {
		t.Errorf("both_sides: %s (report %+v)", g, rep.Objects)
	}
}

// FuzzDDLText: the cutters of ddltext.go read a manifest's DDL, which may
// be hostile. They never panic, their tokens cover the input in order,
// and what they cut out is text of the input.
func FuzzDDLText(f *testing.F) {
	for _, s := range []string{
		`CREATE VIEW s."we ird" (c1) AS (SELECT 1 AS " AS ") UNION ALL (SELECT 2);`,
		`CREATE MACRO "main"."o"("a", "b" := z_m(1, 2)) AS (a + b), ("a") AS a;`,
		`CREATE MACRO "s"."t"("a") AS TABLE SELECT a, (a) AS q FROM t;`,
		`CREATE TABLE a_child(id INTEGER DEFAULT(nextval('s')), y INTEGER GENERATED ALWAYS AS(z_m(id)), CHECK((y > 0)), FOREIGN KEY (id) REFERENCES "s"."p"(id));`,
		"CREATE VIEW v AS SELECT $$a$$, E'\\'', $tag$ x $tag$ /* c */ -- d\n",
		`CREATE VIEW "`, `CREATE MACRO m((((`, `CREATE TABLE t())))`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, ok := tokenize(s)
		if ok {
			last := 0
			for _, tk := range toks {
				if tk.start < last || tk.end <= tk.start || tk.end > len(s) || s[tk.start:tk.end] != tk.text {
					t.Fatalf("token %+v out of place in %q", tk, s)
				}
				last = tk.end
			}
		}
		if q, ok := viewQuery(s); ok && !strings.Contains(s, q) {
			t.Fatalf("viewQuery(%q) = %q, not text of the input", s, q)
		}
		if parts, ok := macroParts(s); ok {
			for _, p := range parts {
				if !strings.Contains(s, strings.TrimPrefix(p, "SELECT ")) {
					t.Fatalf("macroParts(%q) cut %q", s, p)
				}
			}
		}
		if exprs, _, ok := tableParts(s); ok {
			for _, e := range exprs {
				if !strings.Contains(s, strings.TrimPrefix(e, "SELECT ")) {
					t.Fatalf("tableParts(%q) cut %q", s, e)
				}
			}
		}
	})
}

// TestRestoreOrderIgnoresManifestOrder: a manifest of format 1 that lists
// its tables, macros and views by name (children before parents, callers
// before callees) restores the same database: the order comes from what
// each object uses, not from the manifest's lists.
func TestRestoreOrderIgnoresManifestOrder(t *testing.T) {
	dir, src, folder := orderFixture(t)
	fx := fixture{dir: dir, source: src, folder: folder, id: snapshotID(t, folder)}
	fx.tamper(t, func(m *snapshot.Manifest) {
		m.FormatVersion = 1
		for _, tb := range m.Tables {
			tb.Files, tb.Fingerprint, tb.Shape = nil, "", ""
		}
		slices.Sort(m.TableOrder)
		byName := func(a, b snapshot.Object) int { return strings.Compare(a.Name, b.Name) }
		slices.SortFunc(m.Views, byName)
		slices.SortFunc(m.Macros, byName)
		if m.TableOrder[0] != "a_child" || m.Views[0].Name != "a" || m.Macros[0].Name != "a_m" {
			t.Fatalf("the manifest is not in name order: %v %v %v", m.TableOrder, m.Views, m.Macros)
		}
	})
	out := filepath.Join(dir, "v1.duckdb")
	// Into a new database, then --replace over it: rows load parents
	// first, and replaced tables are dropped children first.
	for _, mode := range []Mode{ModeAppend, ModeReplace} {
		rep, err := Run(context.Background(), Options{Folder: folder, Target: out, Mode: mode})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if len(rep.Skipped) > 0 {
			t.Errorf("%s: skipped %+v", mode, rep.Skipped)
		}
		for _, q := range append(slices.Clone(orderChecks), objectsOf) {
			if got, want := flat(query(t, out, q)), flat(query(t, src, q)); got != want {
				t.Errorf("%s: %s:\n got %s\nwant %s", mode, q, got, want)
			}
		}
	}
	// --tables of the child with --replace, the parent named after it.
	if _, err := Run(context.Background(), Options{Folder: folder, Target: out, Mode: ModeReplace, Tables: []string{"a_child", "z_parent"}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range orderChecks {
		if got, want := flat(query(t, out, q)), flat(query(t, src, q)); got != want {
			t.Errorf("after --tables --replace: %s:\n got %s\nwant %s", q, got, want)
		}
	}
}

func snapshotID(t *testing.T, folder *local.Folder) string {
	t.Helper()
	all, err := snapshot.Scan(context.Background(), folder)
	if err != nil || len(all) != 1 {
		t.Fatalf("scan: %v, %d snapshots", err, len(all))
	}
	return all[0].ID
}

// TestSerializerRefs: DuckDB's parser names what each text uses, batch by
// batch; a text it cannot parse as one SELECT is reported unread, and
// leaves the others of its batch alone.
func TestSerializerRefs(t *testing.T) {
	db, conn, err := openSandbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer conn.Close()
	texts := []string{
		`SELECT a_m(x) FROM s.v JOIN w USING (k) WHERE CAST(1 AS mood) = 1 AND x IN (SELECT y FROM cat.s2.t2)`,
		`SELECT 1; SELECT 2`,
		`CREATE VIEW x AS SELECT 1`,
		"SELECT 'a\x00b'",
		`SELECT * FROM children_of(2)`,
		`SELECT (((`,
	}
	for i := 0; i < batch; i++ {
		texts = append(texts, "SELECT * FROM t"+strconv.Itoa(i))
	}
	refs, ok, err := serializer{conn: conn}.refs(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, false, true, false}; !reflect.DeepEqual(ok[:6], want) {
		t.Errorf("parsed %v, want %v", ok[:6], want)
	}
	got := map[ref]bool{}
	for _, r := range refs[0] {
		got[r] = true
	}
	for _, want := range []ref{{kind: "func", name: "a_m"}, {kind: "rel", schema: "s", name: "v"}, {kind: "rel", name: "w"},
		{kind: "type", name: "mood"}, {kind: "rel", catalog: "cat", schema: "s2", name: "t2"}} {
		if !got[want] {
			t.Errorf("refs of the first text lack %+v: %+v", want, refs[0])
		}
	}
	if !slices.Contains(refs[4], ref{kind: "func", name: "children_of"}) {
		t.Errorf("a table macro call is not named: %+v", refs[4])
	}
	last := len(texts) - 1
	if !ok[last] || !slices.Contains(refs[last], ref{kind: "rel", name: "t" + strconv.Itoa(batch-1)}) {
		t.Errorf("the second batch: %v %+v", ok[last], refs[last])
	}
}

// TestRestoreSkipsBrokenMacro: DuckDB lets a table go while a macro still
// reads it (it does not track what a macro uses). Such a macro cannot be
// created again; the restore skips and reports it, like a broken view,
// instead of refusing the whole snapshot.
func TestRestoreSkipsBrokenMacro(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE kept (x INTEGER)`,
		`INSERT INTO kept VALUES (1)`,
		`CREATE TABLE gone (x INTEGER)`,
		`CREATE MACRO reads_gone() AS TABLE SELECT * FROM gone`,
		`CREATE MACRO fine(x) AS x + 1`,
		`DROP TABLE gone`,
	)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "tester", Folder: folder,
		CompressionLevel: 1, Time: time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.duckdb")
	rep, err := Run(context.Background(), Options{Folder: folder, Target: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Kind != "macro" || rep.Skipped[0].Name != "reads_gone" || !strings.Contains(rep.Skipped[0].Reason, "gone") {
		t.Errorf("skipped %+v, want the macro reads_gone", rep.Skipped)
	}
	if got := flat(query(t, out, `SELECT fine(x) FROM kept`)); got != "2" {
		t.Errorf("fine over kept: %s", got)
	}
}
