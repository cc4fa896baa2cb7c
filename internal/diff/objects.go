package diff

import (
	"fmt"
	"sort"

	"github.com/openspartan/statsnap/snapshot"
)

// ObjectDiff is one database object (not table data) that differs.
type ObjectDiff struct {
	// Kind is schema, type, sequence, index, view, macro or comment.
	Kind   string `json:"kind"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Table  string `json:"table,omitempty"` // an index's table
	Change Change `json:"change"`
	// SQLBefore and SQLAfter are the DDL on each side (absent on the side
	// that lacks the object).
	SQLBefore string `json:"sql_before,omitempty"`
	SQLAfter  string `json:"sql_after,omitempty"`
	// NextBefore and NextAfter are a sequence's next value on each side.
	NextBefore *int64 `json:"next_before,omitempty"`
	NextAfter  *int64 `json:"next_after,omitempty"`
}

// object is an ObjectDiff's side.
type object struct {
	kind, schema, name, table, sql string
	next                           *int64
}

func (o object) key() string { return o.kind + "\x00" + o.schema + "\x00" + o.name + "\x00" + o.table }

// objects lists every object of m, in kind order, each key once: two
// objects with one key (comments on two columns of one table, macro
// overloads) get an occurrence number in it.
func objects(m *snapshot.Manifest) (map[string]object, []string) {
	out := map[string]object{}
	var order []string
	add := func(o object) {
		k := o.key()
		for n := 2; ; n++ {
			if _, dup := out[k]; !dup {
				break
			}
			k = fmt.Sprintf("%s\x00#%d", o.key(), n)
		}
		out[k] = o
		order = append(order, k)
	}
	lists := []struct {
		kind string
		objs []snapshot.Object
	}{
		{"schema", m.Schemas}, {"type", m.Types}, {"index", m.Indexes},
		{"view", m.Views}, {"macro", m.Macros}, {"comment", m.Comments},
	}
	for _, s := range m.Sequences {
		next := s.Next
		add(object{kind: "sequence", schema: s.Schema, name: s.Name, sql: s.SQL, next: &next})
	}
	for _, l := range lists {
		for _, o := range l.objs {
			kind := l.kind
			if o.Kind != "" {
				kind = o.Kind
			}
			add(object{kind: kind, schema: o.Schema, name: o.Name, table: o.Table, sql: o.SQL})
		}
	}
	return out, order
}

var kindRank = map[string]int{"schema": 0, "type": 1, "sequence": 2, "index": 3, "view": 4, "macro": 5, "comment": 6}

// compareObjects lists the objects that differ: added, removed, or with
// other DDL (or, for a sequence, another next value).
func compareObjects(a, b *snapshot.Manifest) []ObjectDiff {
	oa, _ := objects(a)
	ob, _ := objects(b)
	keys := map[string]bool{}
	for k := range oa {
		keys[k] = true
	}
	for k := range ob {
		keys[k] = true
	}
	out := []ObjectDiff{}
	for k := range keys {
		x, inA := oa[k]
		y, inB := ob[k]
		var d ObjectDiff
		switch {
		case !inA:
			d = ObjectDiff{Kind: y.kind, Schema: y.schema, Name: y.name, Table: y.table, Change: Added, SQLAfter: y.sql, NextAfter: y.next}
		case !inB:
			d = ObjectDiff{Kind: x.kind, Schema: x.schema, Name: x.name, Table: x.table, Change: Removed, SQLBefore: x.sql, NextBefore: x.next}
		case x.sql != y.sql || !sameNext(x.next, y.next):
			d = ObjectDiff{Kind: x.kind, Schema: x.schema, Name: x.name, Table: x.table, Change: Changed,
				SQLBefore: x.sql, SQLAfter: y.sql, NextBefore: x.next, NextAfter: y.next}
		default:
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if kindRank[x.Kind] != kindRank[y.Kind] {
			return kindRank[x.Kind] < kindRank[y.Kind]
		}
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		if x.Schema != y.Schema {
			return x.Schema < y.Schema
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if x.Table != y.Table {
			return x.Table < y.Table
		}
		return x.SQLBefore+x.SQLAfter < y.SQLBefore+y.SQLAfter
	})
	return out
}

func sameNext(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
