package restore

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// Restore creates tables, macros and views in an order where each comes
// after everything it uses, never by name or by catalog oid: a view
// recreated with CREATE OR REPLACE has a newer oid than the views over
// it, a macro may call a macro created after it, a table's DEFAULT,
// CHECK or generated column may call a macro, and a table macro may read
// a table. DuckDB 1.5.6 binds views and macros when they are created, yet
// duckdb_dependencies() records none of that (only foreign keys,
// sequences used by DEFAULTs and indexes), so the references are read
// from the DDL itself, with DuckDB's own parser: json_serialize_sql turns
// each query or expression into its syntax tree, whose table references,
// function calls and type names are the object's dependencies. Nothing is
// executed to find them, and no error is ever taken for an ordering hint:
// an object whose DDL cannot be read this way is created after all the
// others of its kind, and if it then does not bind, DuckDB's own error
// says why.

// node is a table, macro or view of the snapshot.
type node struct {
	kind         string // table, macro, view
	schema, name string
	rank         int // the tie-break: manifest position within kind, kinds in creation order
}

func (n node) key() string { return objKey(n.kind, n.schema, n.name) }

// depGraph is what each object of a snapshot uses.
type depGraph struct {
	order []node              // every node, dependencies first
	deps  map[string][]string // node key → the node keys it uses
	types map[string][]string // node key → the keys (catalog.Key) of the snapshot's types it names
	nodes map[string]node
}

// ref is one name a query or expression uses.
type ref struct {
	kind                  string // rel (a table or view), func, type
	catalog, schema, name string
}

// maxRefs bounds the names read from one object's DDL.
const maxRefs = 10_000

// serializer asks DuckDB's parser for syntax trees.
type serializer struct {
	conn *sql.Conn
}

// batch bounds the statements parsed by one query.
const batch = 256

// refs returns, for each SELECT statement text, the names it uses, and
// false where DuckDB cannot parse it as exactly one SELECT. The texts
// are parsed a batch per query (a query each cost a millisecond).
func (s serializer) refs(ctx context.Context, texts []string) ([][]ref, []bool, error) {
	out := make([][]ref, len(texts))
	ok := make([]bool, len(texts))
	for lo := 0; lo < len(texts); lo += batch {
		hi := min(lo+batch, len(texts))
		var q strings.Builder
		n := 0
		for i := lo; i < hi; i++ {
			t := texts[i]
			if strings.TrimSpace(t) == "" || strings.ContainsRune(t, 0) {
				continue
			}
			if n > 0 {
				q.WriteString(" UNION ALL ")
			}
			// json_serialize_sql takes a constant only; the literal is
			// quoted. A text it cannot parse gives an error document,
			// not a failed query.
			fmt.Fprintf(&q, "SELECT %d AS i, CAST(json_serialize_sql(%s) AS VARCHAR) AS j", i, sqlq.Literal(t))
			n++
		}
		if n == 0 {
			continue
		}
		rows, err := s.conn.QueryContext(ctx, q.String())
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			slog.Debug("json_serialize_sql failed", "err", err)
			if hi-lo > 1 {
				// One text broke the batch: each is parsed on its own, so
				// that only that one is left unread (false).
				for i := lo; i < hi; i++ {
					r, k, err := s.refs(ctx, texts[i:i+1])
					if err != nil {
						return nil, nil, err
					}
					out[i], ok[i] = r[0], k[0]
				}
			}
			continue
		}
		for rows.Next() {
			var i int
			var doc string
			if err := rows.Scan(&i, &doc); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("read json_serialize_sql: %w", err)
			}
			if i < lo || i >= hi {
				continue
			}
			if tree, parsed := oneStatement(doc); parsed {
				ok[i] = walkRefs(tree, &out[i], 0)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("read json_serialize_sql: %w", err)
		}
	}
	return out, ok, nil
}

// oneStatement returns the syntax tree of json_serialize_sql's output
// when it holds exactly one statement.
func oneStatement(out string) (any, bool) {
	var doc struct {
		Error      bool              `json:"error"`
		Statements []json.RawMessage `json:"statements"`
	}
	if json.Unmarshal([]byte(out), &doc) != nil || doc.Error || len(doc.Statements) != 1 {
		return nil, false
	}
	var tree any
	d := json.NewDecoder(strings.NewReader(string(doc.Statements[0])))
	d.UseNumber()
	if d.Decode(&tree) != nil {
		return nil, false
	}
	return tree, true
}

// walkRefs collects the references of a json_serialize_sql tree.
func walkRefs(v any, out *[]ref, depth int) bool {
	if depth > 1000 || len(*out) > maxRefs {
		return false
	}
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	switch x := v.(type) {
	case map[string]any:
		switch {
		case str(x, "type") == "BASE_TABLE":
			*out = append(*out, ref{kind: "rel", catalog: str(x, "catalog_name"), schema: str(x, "schema_name"), name: str(x, "table_name")})
		case str(x, "class") == "FUNCTION":
			*out = append(*out, ref{kind: "func", catalog: str(x, "catalog"), schema: str(x, "schema"), name: str(x, "function_name")})
		case str(x, "type") == "UNBOUND_TYPE_INFO":
			*out = append(*out, ref{kind: "type", catalog: str(x, "catalog"), schema: str(x, "schema"), name: str(x, "name")})
		}
		for _, c := range x {
			if !walkRefs(c, out, depth+1) {
				return false
			}
		}
	case []any:
		for _, c := range x {
			if !walkRefs(c, out, depth+1) {
				return false
			}
		}
	}
	return true
}

// buildGraph reads what every table, macro and view of m uses and orders
// them. Tables come in m's table order where nothing else decides.
func buildGraph(ctx context.Context, s serializer, m *snapshot.Manifest) (*depGraph, error) {
	g := &depGraph{deps: map[string][]string{}, types: map[string][]string{}, nodes: map[string]node{}}
	var all []node
	add := func(n node) {
		if _, dup := g.nodes[n.key()]; dup {
			return
		}
		g.nodes[n.key()] = n
		all = append(all, n)
	}
	for i, k := range m.TableOrder {
		t := m.Tables[k]
		add(node{kind: "table", schema: t.Schema, name: t.Name, rank: i})
	}
	base := len(m.TableOrder)
	for i, mc := range m.Macros {
		add(node{kind: "macro", schema: mc.Schema, name: mc.Name, rank: base + i})
	}
	base += len(m.Macros)
	for i, vw := range m.Views {
		add(node{kind: "view", schema: vw.Schema, name: vw.Name, rank: base + i})
	}
	r := newResolver(m, g.nodes)
	late := map[string]bool{} // DDL that could not be read: after the others of its kind
	// First cut every object's queries and expressions out of its DDL,
	// then parse them all, then resolve what they name.
	type piece struct {
		n    node
		text string
	}
	var pieces []piece
	known := map[string]bool{}
	var prevTable string
	for _, n := range all {
		var texts []string
		var ok bool
		switch n.kind {
		case "table":
			t := m.Tables[catalog.Key(n.schema, n.name)]
			var fks []ref
			texts, fks, ok = tableParts(t.CreateSQL)
			for _, fk := range fks {
				// DuckDB only allows foreign keys within one schema.
				g.deps[n.key()] = append(g.deps[n.key()], r.resolve(n.schema, fk, "table")...)
			}
			if !ok && prevTable != "" {
				// The order the backup wrote (foreign-key parents first)
				// is kept for a table whose DDL cannot be read.
				g.deps[n.key()] = append(g.deps[n.key()], prevTable)
			}
			prevTable = n.key()
		case "macro":
			texts, ok = macroParts(objectSQL(m.Macros, n))
		case "view":
			var q string
			q, ok = viewQuery(objectSQL(m.Views, n))
			texts = []string{q}
		}
		known[n.key()] = ok
		for _, t := range texts {
			pieces = append(pieces, piece{n: n, text: t})
		}
	}
	texts := make([]string, len(pieces))
	for i, p := range pieces {
		texts[i] = p.text
	}
	refs, parsed, err := s.refs(ctx, texts)
	if err != nil {
		return nil, err
	}
	for i, p := range pieces {
		n := p.n
		if !parsed[i] {
			known[n.key()] = false
		}
		for _, rf := range refs[i] {
			switch rf.kind {
			case "rel":
				g.deps[n.key()] = append(g.deps[n.key()], r.resolve(n.schema, rf, "table", "view")...)
			case "func":
				g.deps[n.key()] = append(g.deps[n.key()], r.resolve(n.schema, rf, "macro")...)
			case "type":
				g.types[n.key()] = append(g.types[n.key()], r.resolveType(n.schema, rf)...)
			}
		}
	}
	for _, n := range all {
		if !known[n.key()] && n.kind != "table" {
			late[n.key()] = true
			slog.Debug("the DDL of an object could not be read for its dependencies; it is created after the others", "kind", n.kind, "name", catalog.Key(n.schema, n.name))
		}
	}
	for k, ds := range g.deps {
		g.deps[k] = dedupe(k, ds)
	}
	g.order = topoSort(all, g.deps, late)
	return g, nil
}

// objectSQL finds the DDL of n among objs.
func objectSQL(objs []snapshot.Object, n node) string {
	for _, o := range objs {
		if o.Schema == n.schema && o.Name == n.name {
			return o.SQL
		}
	}
	return ""
}

func dedupe(self string, ds []string) []string {
	seen := map[string]bool{self: true}
	out := ds[:0]
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// resolver maps a name as written to the snapshot's objects it may mean.
// It errs on the side of more: a reference it cannot pin down depends on
// every object it may name, which can only make an order stricter.
type resolver struct {
	byName  map[string][]node // lower(schema) \x00 lower(name) → nodes
	types   map[string]string // lower(schema) \x00 lower(name) → type key
	schemas map[string]bool   // lower-case schema names of the snapshot
}

func newResolver(m *snapshot.Manifest, nodes map[string]node) *resolver {
	r := &resolver{byName: map[string][]node{}, types: map[string]string{}, schemas: map[string]bool{"main": true}}
	for _, n := range nodes {
		k := lowerKey(n.schema, n.name)
		r.byName[k] = append(r.byName[k], n)
		r.schemas[strings.ToLower(n.schema)] = true
	}
	for _, t := range m.Types {
		r.types[lowerKey(t.Schema, t.Name)] = catalog.Key(t.Schema, t.Name)
	}
	for _, s := range m.Schemas {
		r.schemas[strings.ToLower(s.Name)] = true
	}
	return r
}

func lowerKey(schema, name string) string {
	return strings.ToLower(schema) + "\x00" + strings.ToLower(name)
}

// candidates lists the schemas an object of schema own may mean by rf:
// its own schema or main when unqualified (a view binds in its own
// schema, a macro call through the search path), the schema written
// otherwise, and main too when that "schema" is no schema of the
// snapshot (then it names a catalog).
func (r *resolver) candidates(own string, rf ref) []string {
	switch {
	case rf.schema == "" && rf.catalog == "":
		return []string{strings.ToLower(own), "main"}
	case rf.schema == "":
		return []string{"main"}
	case r.schemas[strings.ToLower(rf.schema)]:
		return []string{strings.ToLower(rf.schema)}
	default:
		return []string{"main"}
	}
}

func (r *resolver) resolve(own string, rf ref, kinds ...string) []string {
	var out []string
	for _, s := range r.candidates(own, rf) {
		for _, n := range r.byName[s+"\x00"+strings.ToLower(rf.name)] {
			for _, k := range kinds {
				if n.kind == k {
					out = append(out, n.key())
				}
			}
		}
	}
	return out
}

func (r *resolver) resolveType(own string, rf ref) []string {
	var out []string
	for _, s := range r.candidates(own, rf) {
		if k, ok := r.types[s+"\x00"+strings.ToLower(rf.name)]; ok {
			out = append(out, k)
		}
	}
	return out
}

// topoSort orders nodes so that each comes after what it uses; where
// nothing decides, by rank, and the late ones after the others. A cycle
// (which DuckDB's binding makes impossible among objects that bind, but
// a broken source or a name read too widely can form) is broken at its
// lowest-ranked node; that object's creation then says what is wrong.
func topoSort(nodes []node, deps map[string][]string, late map[string]bool) []node {
	byKey := map[string]node{}
	for _, n := range nodes {
		byKey[n.key()] = n
	}
	pending := map[string]int{}
	users := map[string][]string{}
	for _, n := range nodes {
		k := n.key()
		for _, d := range deps[k] {
			if _, ok := byKey[d]; ok {
				pending[k]++
				users[d] = append(users[d], k)
			}
		}
	}
	prio := func(n node) int {
		if late[n.key()] {
			return n.rank + len(nodes)
		}
		return n.rank
	}
	ready := &nodeHeap{prio: prio}
	waiting := &nodeHeap{prio: prio} // every node not yet emitted, to break cycles
	for _, n := range nodes {
		if pending[n.key()] == 0 {
			heap.Push(ready, n)
		}
		heap.Push(waiting, n)
	}
	done := map[string]bool{}
	out := make([]node, 0, len(nodes))
	emit := func(n node) {
		done[n.key()] = true
		out = append(out, n)
		for _, u := range users[n.key()] {
			pending[u]--
			if pending[u] == 0 && !done[u] {
				heap.Push(ready, byKey[u])
			}
		}
	}
	for len(out) < len(nodes) {
		if ready.Len() > 0 {
			n := heap.Pop(ready).(node)
			if !done[n.key()] {
				emit(n)
			}
			continue
		}
		// A cycle: take the first node still waiting.
		for waiting.Len() > 0 {
			n := heap.Pop(waiting).(node)
			if !done[n.key()] {
				slog.Warn("objects of the snapshot use each other in a cycle; creating one of them first", "kind", n.kind, "name", catalog.Key(n.schema, n.name))
				emit(n)
				break
			}
		}
	}
	return out
}

type nodeHeap struct {
	items []node
	prio  func(node) int
}

func (h *nodeHeap) Len() int           { return len(h.items) }
func (h *nodeHeap) Less(i, j int) bool { return h.prio(h.items[i]) < h.prio(h.items[j]) }
func (h *nodeHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *nodeHeap) Push(x any)         { h.items = append(h.items, x.(node)) }
func (h *nodeHeap) Pop() any {
	n := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return n
}

// closure returns the keys of every node start uses, directly or not
// (start excluded), restricted to nodes keep accepts.
func (g *depGraph) closure(start string) []string {
	seen := map[string]bool{start: true}
	var out []string
	stack := []string{start}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.deps[k] {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				stack = append(stack, d)
			}
		}
	}
	return out
}
