package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
)

// What a --tables restore touches besides the tables named:
//
//   - a table it creates (or rebuilds with --replace) needs the tables
//     its foreign keys reference. When the target lacks one and --tables
//     does not name it, the restore is refused before anything is
//     written, naming each missing table, unless WithDependencies asks
//     to restore those too (transitively). A parent the target already
//     has is used as it is, never appended to or replaced;
//   - the sequences its DEFAULTs use are created or advanced (plan), and
//     the snapshot's macros its DEFAULTs, CHECKs and generated columns
//     call are created when the target lacks them;
//   - a view or macro of the snapshot that uses a restored table,
//     directly or through other views and macros, is created when the
//     target lacks it and everything it uses exists once the restore is
//     done; the snapshot's views, macros and types it needs and the
//     target lacks are created with it. One the target already has is
//     kept as it is (even with --replace: only the named tables are
//     replaced). One that uses a table neither restored nor in the
//     target is skipped and reported, with the table it lacks;
//   - views and macros that use no restored table are left alone.
//
// A full restore (no --tables) handles every object of the snapshot.

// MissingDependenciesError is --tables choosing tables whose foreign keys
// reference tables that neither --tables nor the target has. Nothing was
// written. Callers treat it as a usage error.
type MissingDependenciesError struct {
	// Missing maps a chosen table to the tables it lacks.
	Missing map[string][]string
	// Tables is the --tables list that would include them all.
	Tables []string
}

func (e *MissingDependenciesError) Error() string {
	children := make([]string, 0, len(e.Missing))
	for c := range e.Missing {
		children = append(children, c)
	}
	sort.Strings(children)
	var parts []string
	for _, c := range children {
		parts = append(parts, fmt.Sprintf("table %s has a foreign key to %s", c, tableList(e.Missing[c])))
	}
	return fmt.Sprintf("%s, which neither --tables nor the target has; nothing was restored (restore them too with --with-dependencies, or name them: --tables %s)",
		strings.Join(parts, "; "), strings.Join(e.Tables, ","))
}

func tableList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "table " + k
	}
	return strings.Join(q, " and ")
}

// withParents returns the chosen tables with the foreign-key parents the
// target lacks (when WithDependencies), in creation order (rows are
// loaded in it, and replaced tables dropped in its reverse), or refuses.
func (j *job) withParents(st *state) ([]srcTable, error) {
	if j.v.graph == nil {
		return j.tables, nil
	}
	all := map[string]srcTable{}
	for _, t := range j.snap.tables {
		all[t.key] = t
	}
	chosen := map[string]bool{}
	for _, t := range j.tables {
		chosen[t.key] = true
	}
	if j.full {
		return j.inGraphOrder(all, chosen), nil
	}
	parents := func(k string) []string {
		if vt := j.v.tables[k]; vt != nil {
			return vt.parents
		}
		return nil
	}
	inTarget := func(k string) bool { _, ok := st.tables[k]; return ok }
	extra, err := missingParents(j.tables, j.snap.tables, parents, inTarget, j.opt)
	if err != nil {
		return nil, err
	}
	for p := range extra {
		chosen[p] = true
	}
	return j.inGraphOrder(all, chosen), nil
}

// missingParents returns the tables the chosen ones need (their
// foreign-key parents, transitively) that neither the chosen ones nor the
// target have, or refuses with them unless opt.WithDependencies. A chosen
// table the target has is appended to unless --replace: its foreign keys
// already hold there.
func missingParents(chosenTables, all []srcTable, parents func(string) []string, inTarget func(string) bool, opt Options) (map[string]bool, error) {
	inSnap, chosen := map[string]bool{}, map[string]bool{}
	for _, t := range all {
		inSnap[t.key] = true
	}
	queue := make([]string, 0, len(chosenTables))
	for _, t := range chosenTables {
		chosen[t.key] = true
		queue = append(queue, t.key)
	}
	missing := map[string][]string{}
	extra := map[string]bool{} // parents --tables lacks
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if inTarget(k) && opt.Mode != ModeReplace && !extra[k] {
			continue
		}
		for _, p := range parents(k) {
			if chosen[p] || extra[p] || inTarget(p) || !inSnap[p] {
				// A parent the snapshot lacks: creating the table fails
				// with DuckDB's own error.
				continue
			}
			extra[p] = true
			queue = append(queue, p)
			missing[k] = append(missing[k], p)
		}
	}
	if len(missing) == 0 || opt.WithDependencies {
		return extra, nil
	}
	var names []string
	for _, t := range chosenTables {
		names = append(names, t.key)
	}
	for _, t := range all {
		if extra[t.key] {
			names = append(names, t.key)
		}
	}
	for _, ps := range missing {
		sort.Strings(ps)
	}
	return nil, &MissingDependenciesError{Missing: missing, Tables: names}
}

// inGraphOrder lists the chosen tables in the dependency graph's order.
func (j *job) inGraphOrder(all map[string]srcTable, chosen map[string]bool) []srcTable {
	var out []srcTable
	for _, n := range j.v.graph.order {
		if n.kind != "table" {
			continue
		}
		if k := catalog.Key(n.schema, n.name); chosen[k] {
			out = append(out, all[k])
		}
	}
	return out
}

// objectScope decides which views and macros a --tables restore handles
// and which types it creates (see the comment at the top).
func (j *job) objectScope(st *state) {
	j.scope, j.needTypes = map[string]bool{}, map[string]bool{}
	g := j.v.graph
	if g == nil {
		return
	}
	if j.full {
		for _, n := range g.order {
			if n.kind != "table" {
				j.scope[n.key()] = true
			}
		}
		for _, t := range j.v.types {
			j.needTypes[catalog.Key(t.Schema, t.Name)] = true
		}
		return
	}
	restored := map[string]bool{}
	for _, p := range j.plans {
		restored[objKey("table", p.vt.schema, p.vt.name)] = true
	}
	inTarget := func(n node) bool {
		k := catalog.Key(n.schema, n.name)
		switch n.kind {
		case "table":
			_, ok := st.tables[k]
			return ok
		case "view":
			return st.views[k]
		default:
			return st.macros[k]
		}
	}
	broken := map[string]error{}
	for _, vv := range j.v.views {
		if vv.broken != nil {
			broken[objKey("view", vv.obj.Schema, vv.obj.Name)] = vv.broken
		}
	}
	for _, vm := range j.v.macros {
		if vm.broken != nil {
			broken[objKey("macro", vm.obj.Schema, vm.obj.Name)] = vm.broken
		}
	}
	// A table this restore builds needs the macros its DEFAULTs, CHECKs
	// and generated columns call (and what those use).
	for _, p := range j.plans {
		if p.action == ActionAppend || p.vt.legacy {
			continue
		}
		for _, d := range g.closure(objKey("table", p.vt.schema, p.vt.name)) {
			if dn := g.nodes[d]; dn.kind != "table" && !inTarget(dn) {
				j.scope[d] = true
				for _, t := range g.types[d] {
					if !st.types[t] {
						j.needTypes[t] = true
					}
				}
			}
		}
	}
	for _, n := range g.order {
		if n.kind == "table" {
			continue
		}
		uses := g.closure(n.key())
		related := false
		for _, d := range uses {
			if restored[d] {
				related = true
				break
			}
		}
		if !related {
			continue
		}
		if inTarget(n) {
			j.scope[n.key()] = true // reported as kept
			continue
		}
		var lacks []string
		for _, d := range uses {
			dn := g.nodes[d]
			if dn.kind == "table" && !restored[d] && !inTarget(dn) {
				lacks = append(lacks, catalog.Key(dn.schema, dn.name))
			}
		}
		if len(lacks) > 0 {
			sort.Strings(lacks)
			j.skipDeps(n, lacks)
			continue
		}
		if err := broken[n.key()]; err != nil {
			j.scope[n.key()] = true // its creation reports it
			continue
		}
		j.scope[n.key()] = true
		for _, d := range append(uses, n.key()) {
			dn := g.nodes[d]
			if dn.kind != "table" && !inTarget(dn) {
				j.scope[d] = true
			}
			for _, t := range g.types[d] {
				if !st.types[t] {
					j.needTypes[t] = true
				}
			}
		}
	}
}

// skipDeps reports a view or macro a --tables restore cannot create.
func (j *job) skipDeps(n node, lacks []string) {
	key := catalog.Key(n.schema, n.name)
	ddl := ""
	for _, vv := range j.v.views {
		if n.kind == "view" && vv.obj.Schema == n.schema && vv.obj.Name == n.name {
			ddl = vv.obj.SQL
		}
	}
	for _, vm := range j.v.macros {
		if n.kind == "macro" && vm.obj.Schema == n.schema && vm.obj.Name == n.name {
			ddl = vm.obj.SQL
		}
	}
	reason := fmt.Sprintf("it uses %s, which neither this restore nor the target has", tableList(lacks))
	j.rep.Skipped = append(j.rep.Skipped, SkippedObject{Kind: n.kind, Name: key, SQL: ddl, Reason: reason})
	j.rep.Warnings = append(j.rep.Warnings, fmt.Sprintf("%s %s was not restored: %s (add %s to --tables to restore it)", n.kind, key, reason, strings.Join(lacks, ",")))
}
