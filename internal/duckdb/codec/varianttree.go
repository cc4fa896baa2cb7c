package codec

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// A VARIANT that its JSON text does not give back exactly (an INTERVAL
// inside an object, a HUGEINT in a list, an object made from a STRUCT of
// INTEGERs, which JSON would make UBIGINTs) and that is not one value of
// typedVariants is stored by EncodingVariant as a typed tree: its shape, a
// DuckDB type that says how the value nests and what every leaf is, e.g.
//
//	STRUCT("a" INTERVAL, "b" HUGEINT[])
//
// in the stored field "shape", and a JSON payload of the same tree in
// "text", every leaf written as an exact string. Restore parses the
// payload into the shape with its leaves as text, casts each leaf back to
// its type, and casts the result to VARIANT: DuckDB keeps a STRUCT's field
// order and every member's type when it turns it into a VARIANT.
//
// DuckDB 1.5.6 has no SQL that builds a VARIANT object whose keys are known
// only from the data, so restore needs every shape spelled out in its SQL:
// backup reads the distinct shapes of each column up front (PlanVariants)
// and the manifest lists them (ColumnPlan.Shapes). Shapes are untrusted on
// restore and pass ParseShape, a strict grammar, before any is written into
// SQL.
//
// A list whose elements have different shapes becomes a list of a UNION of
// them (members "u0", "u1", ...), which DuckDB unwraps element by element
// when it casts the list to VARIANT; its payload is an object of a "tag"
// and every member (JSON null but the one set), as DuckDB's cast of JSON
// to a STRUCT wants every field. An empty object is a JSON leaf ("{}").
// A VARIANT_NULL is a NULL leaf: a VARCHAR whose payload is JSON null.

const (
	// MaxShapes bounds the distinct shapes one column may hold: each is
	// a branch of the restore's SQL.
	MaxShapes = 256
	// MaxShapeLen bounds one shape's text.
	MaxShapeLen = 16 << 10
	// maxTreeDepth is how deep objects and lists may nest around a leaf
	// in a typed tree; the backup's SQL is unrolled that many levels.
	maxTreeDepth = 10
	// maxSigDepth is how deep typeSig compares the types of a value
	// with those of its JSON text. Below it only the Parquet Variant
	// binary is compared, which does not tell a signed from an unsigned
	// integer, nor a 128-bit integer that fits 64 bits from a BIGINT.
	maxSigDepth = 14
	// maxUnion is DuckDB's limit on UNION members.
	maxUnion = 256
)

// treeLeaf is how one scalar inside a typed tree is written as text.
type treeLeaf struct {
	typeof string                // its variant_typeof
	name   string                // its DuckDB type as a shape spells it
	enc    func(x string) string // value of that type -> exact text
	dec    func(t string) string // that text -> value of that type
}

// treeLeaves are the scalar types a typed tree holds. Their spellings are
// frozen in EncodingVariant.
var treeLeaves = func() []treeLeaf {
	plain := func(typeof, name string) treeLeaf {
		return treeLeaf{typeof, name, castText, castTo(name)}
	}
	ls := []treeLeaf{
		plain("BOOL_TRUE", "BOOLEAN"), plain("BOOL_FALSE", "BOOLEAN"),
		plain("INT8", "TINYINT"), plain("INT16", "SMALLINT"), plain("INT32", "INTEGER"), plain("INT64", "BIGINT"),
		plain("UINT8", "UTINYINT"), plain("UINT16", "USMALLINT"), plain("UINT32", "UINTEGER"), plain("UINT64", "UBIGINT"),
		plain("FLOAT", "FLOAT"), plain("DOUBLE", "DOUBLE"),
		plain("VARCHAR", "VARCHAR"), plain("BLOB", "BLOB"), plain("UUID", "UUID"),
		plain("DATE", "DATE"), plain("TIME_MICROS", "TIME"),
		plain("TIMESTAMP_MICROS", "TIMESTAMP"), plain("TIMESTAMP_NANOS", "TIMESTAMP_NS"),
		// DuckDB prints a TIMESTAMPTZ with its offset, which reads back
		// as the same instant whatever the session's time zone.
		plain("TIMESTAMP_MICROS_TZ", "TIMESTAMP WITH TIME ZONE"),
	}
	// The types the Parquet Variant binary lacks, written as typedVariants
	// writes them when they are a VARIANT's whole value.
	for _, tv := range typedVariants {
		if tv.typeof == "UINT64" {
			continue // above, as a plain one
		}
		name := tv.sqlType
		ls = append(ls, treeLeaf{tv.typeof, name, tv.enc, tv.dec})
	}
	return ls
}()

// treeLeafByName finds a leaf rule by its shape spelling.
func treeLeafByName(name string) *treeLeaf {
	for i := range treeLeaves {
		if treeLeaves[i].name == name {
			return &treeLeaves[i]
		}
	}
	return nil
}

// Spellings of leaves that are not treeLeaves.
const (
	shapeJSON    = "JSON"    // an empty object, stored as JSON text
	shapeDecimal = "DECIMAL" // DECIMAL(p,s), written as its text
)

func treeVar(name string, d int) string { return "__statsnap_t" + name + strconv.Itoa(d) }

// treeSQL returns SQL of type STRUCT("s" VARCHAR, "p" VARCHAR) for the
// VARIANT y (a name or a struct_extract chain: it is repeated): "s" is its
// shape, NULL for a VARIANT_NULL, or a reason it cannot be carried that
// starts with "!"; "p" its payload. The SQL is unrolled to maxTreeDepth
// levels, each holding the next once, so that it grows linearly.
func treeSQL(y string, d int) string {
	ty := "variant_typeof(" + y + ")"
	pack := func(s, p string) string { return `struct_pack("s" := ` + s + `, "p" := ` + p + `)` }
	var leaf strings.Builder
	leaf.WriteString("CASE")
	for _, l := range treeLeaves {
		leaf.WriteString(" WHEN " + ty + " = " + sqlq.Literal(l.typeof) + " THEN " +
			pack(sqlq.Literal(l.name), "CAST(to_json("+l.enc("CAST("+y+" AS "+l.name+")")+") AS VARCHAR)"))
	}
	// DuckDB's text of a DECIMAL keeps every digit of its scale.
	leaf.WriteString(" WHEN " + ty + " LIKE 'DECIMAL(%' THEN " + pack("replace("+ty+", ' ', '')", "CAST(to_json(CAST("+y+" AS VARCHAR)) AS VARCHAR)"))
	leaf.WriteString(" ELSE " + pack("'!type ' || "+ty, "CAST(NULL AS VARCHAR)") + " END")
	isNull := y + " IS NULL OR " + ty + " = 'VARIANT_NULL'"
	compound := "(" + ty + " LIKE 'OBJECT(%' OR " + ty + " LIKE 'ARRAY(%')"
	if d >= maxTreeDepth {
		return "CASE WHEN " + isNull + " THEN " + pack("CAST(NULL AS VARCHAR)", "'null'") +
			" WHEN " + compound + " THEN " + pack("'!deep'", "CAST(NULL AS VARCHAR)") + " ELSE " + leaf.String() + " END"
	}
	e, ks, c, s, es, i := treeVar("e", d), treeVar("k", d), treeVar("c", d), treeVar("s", d), treeVar("u", d), treeVar("i", d)
	cs, cp, ck := "struct_extract(struct_extract("+c+", 'r'), 's')", "struct_extract(struct_extract("+c+", 'r'), 'p')", "struct_extract("+c+", 'k')"
	kids := "list_transform(CASE WHEN " + ty + " LIKE 'OBJECT(%' THEN map_entries(CAST(" + y + " AS MAP(VARCHAR, VARIANT)))" +
		" ELSE list_transform(CAST(" + y + " AS VARIANT[]), lambda " + e + `: struct_pack("key" := CAST(NULL AS VARCHAR), "value" := ` + e + ")) END, " +
		"lambda " + e + `: struct_pack("k" := struct_extract(` + e + `, 'key'), "r" := ` + treeSQL("struct_extract("+e+", 'value')", d+1) + "))"
	shapes := "list_transform(" + ks + ", lambda " + c + ": " + cs + ")"
	firstErr := "list_extract(list_filter(" + shapes + ", lambda " + s + ": starts_with(" + s + ", '!')), 1)"
	join := func(list, sep string) string { return "array_to_string(" + list + ", " + sqlq.Literal(sep) + ")" }
	payloads := "'[' || " + join("list_transform("+ks+", lambda "+c+": "+cp+")", ",") + " || ']'"
	object := "CASE WHEN len(" + ks + ") = 0 THEN " + pack("'"+shapeJSON+"'", "'{}'") +
		" WHEN list_contains(list_transform(" + ks + ", lambda " + c + ": " + ck + "), '') THEN " + pack("'!emptykey'", "CAST(NULL AS VARCHAR)") +
		" ELSE " + pack("'STRUCT(' || "+join("list_transform("+ks+", lambda "+c+": '\"' || replace("+ck+", '\"', '\"\"') || '\" ' || coalesce("+cs+", 'VARCHAR'))", ", ")+" || ')'",
		"'{' || "+join("list_transform("+ks+", lambda "+c+": CAST(to_json("+ck+") AS VARCHAR) || ':' || "+cp+")", ",")+" || '}'") + " END"
	pos := "(list_position(" + es + ", " + cs + ") - 1)"
	array := "list_extract(list_transform([list_sort(list_distinct(list_filter(" + shapes + ", lambda " + s + ": " + s + " IS NOT NULL)))], lambda " + es + ": " +
		"CASE WHEN len(" + es + ") = 0 THEN " + pack("'VARCHAR[]'", payloads) +
		" WHEN len(" + es + ") = 1 THEN " + pack("list_extract("+es+", 1) || '[]'", payloads) +
		" WHEN len(" + es + ") > " + strconv.Itoa(maxUnion) + " THEN " + pack("'!union'", "CAST(NULL AS VARCHAR)") +
		" ELSE " + pack("'UNION(' || "+join("list_transform(range(len("+es+")), lambda "+i+": '\"u' || "+i+" || '\" ' || list_extract("+es+", "+i+" + 1))", ", ")+" || ')[]'",
		"'[' || "+join("list_transform("+ks+", lambda "+c+": CASE WHEN "+cs+" IS NULL THEN 'null' ELSE '{\"tag\":\"u' || "+pos+" || '\"' || "+
			join("list_transform(range(len("+es+")), lambda "+i+": ',\"u' || "+i+" || '\":' || CASE WHEN "+i+" = "+pos+" THEN "+cp+" ELSE 'null' END)", "")+" || '}' END)", ",")+" || ']'") +
		" END), 1)"
	body := "CASE WHEN " + firstErr + " IS NOT NULL THEN " + pack(firstErr, "CAST(NULL AS VARCHAR)") +
		" WHEN " + ty + " LIKE 'OBJECT(%' THEN " + object + " ELSE " + array + " END"
	return "CASE WHEN " + isNull + " THEN " + pack("CAST(NULL AS VARCHAR)", "'null'") +
		" WHEN " + compound + " THEN list_extract(list_transform([" + kids + "], lambda " + ks + ": " + body + "), 1)" +
		" ELSE " + leaf.String() + " END"
}

// typeSig is SQL of type VARCHAR[]: the variant_typeof of every node of
// the VARIANT y, in order, to maxTreeDepth levels. With the text (which
// shows keys and their order) it tells two values apart exactly as far as
// their types go. It is much smaller than treeSQL: DuckDB 1.5.6 binds a
// lambda's body again for every enclosing lambda, so the cost of such SQL
// doubles with each level.
func typeSig(y string, d int) string {
	ty := "variant_typeof(" + y + ")"
	if d >= maxSigDepth {
		return "[" + ty + "]"
	}
	e := treeVar("g", d)
	return "CASE WHEN " + ty + " LIKE 'OBJECT(%' OR " + ty + " LIKE 'ARRAY(%' THEN list_concat([" + ty + "], flatten(list_transform(" +
		"CASE WHEN " + ty + " LIKE 'OBJECT(%' THEN map_values(CAST(" + y + " AS MAP(VARCHAR, VARIANT))) ELSE CAST(" + y + " AS VARIANT[]) END, " +
		"lambda " + e + ": " + typeSig(e, d+1) + ")))" +
		" ELSE [coalesce(" + ty + ", 'SQLNULL')] END"
}

// jsonExact is SQL true when the JSON text of a non-NULL VARIANT x gives
// it back exactly: the same text (which shows keys in order and every
// value as printed), the same Parquet Variant binary once both are
// normalized (which holds every value and tells integer widths, DECIMALs
// and doubles apart at any depth; unnormalized, its key dictionary's
// order differs between equal values) and the same variant_typeof at
// every node to maxSigDepth levels (typeSig), which tells a HUGEINT 1 or a
// BIGINT 1 from the UBIGINT 1 JSON makes of it where the binary cannot.
func jsonExact(x string) string {
	back := "TRY(CAST(CAST(" + x + " AS JSON) AS VARIANT))"
	pv := func(v string) string {
		return "TRY(CAST(variant_to_parquet_variant(variant_normalize(" + v + `)) AS STRUCT("metadata" BLOB, "value" BLOB)))`
	}
	return "(CAST(" + back + " AS VARCHAR) = CAST(" + x + " AS VARCHAR) AND " + pv(back) + " = " + pv(x) + " AND " + typeSig(back, 0) + " = " + typeSig(x, 0) + ")"
}

// isTyped is SQL true for a VARIANT x stored as typed text.
func isTyped(x string) string {
	var names []string
	for _, tv := range typedVariants {
		names = append(names, sqlq.Literal(tv.typeof))
	}
	return "variant_typeof(" + x + ") IN (" + strings.Join(names, ", ") + ")"
}

const variantStoredV3 = `STRUCT("json" VARCHAR, "metadata" BLOB, "value" BLOB, "type" VARCHAR, "text" VARCHAR, "shape" VARCHAR)`

// encVariantV3 stores a VARIANT as one of: typedVariants' exact text, when
// it is one such value; its JSON text, when that gives it back exactly;
// otherwise its typed tree, which carries every value DuckDB 1.5.6 can
// rebuild. (It never writes the Parquet Variant binary, whose form loses
// key order and the width and signedness of integers.) Backup refuses a
// table whose tree would say "!..." before its COPY (PlanVariants), so the
// error here is a guard.
func encVariantV3(x string) string {
	r := treeVar("r", 1)
	null := func(n ...string) string {
		var parts []string
		for _, f := range n {
			typ := "VARCHAR"
			if f == "metadata" || f == "value" {
				typ = "BLOB"
			}
			parts = append(parts, sqlq.Ident(f)+" := CAST(NULL AS "+typ+")")
		}
		return strings.Join(parts, ", ")
	}
	ty := "variant_typeof(" + x + ")"
	var b strings.Builder
	b.WriteString("CASE " + ty)
	for _, tv := range typedVariants {
		b.WriteString(" WHEN " + sqlq.Literal(tv.typeof) + " THEN " + tv.enc("CAST("+x+" AS "+tv.sqlType+")"))
	}
	b.WriteString(" END")
	return "CASE WHEN " + x + " IS NULL THEN NULL WHEN " + isTyped(x) + " THEN " +
		"struct_pack(" + null("json", "metadata", "value") + `, "type" := ` + ty + `, "text" := ` + b.String() + ", " + null("shape") + ")" +
		" WHEN " + jsonExact(x) + " THEN struct_pack(\"json\" := CAST(CAST(" + x + " AS JSON) AS VARCHAR), " + null("metadata", "value", "type", "text", "shape") + ")" +
		" ELSE list_extract(list_transform([" + treeSQL(x, 0) + "], lambda " + r + ": " +
		"CASE WHEN starts_with(struct_extract(" + r + ", 's'), '!') THEN error('statsnap: a VARIANT value cannot be stored: ' || struct_extract(" + r + ", 's'))" +
		" ELSE struct_pack(" + null("json", "metadata", "value", "type") + `, "text" := struct_extract(` + r + `, 'p'), "shape" := struct_extract(` + r + ", 's')) END), 1) END"
}

// decVariantV3 undoes encVariantV3, given the column's parsed shapes.
func decVariantV3(x, typ string, shapes []*shape) string {
	sh := "struct_extract(" + x + ", 'shape')"
	text := "CAST(struct_extract(" + x + ", 'text') AS JSON)"
	tree := "error('statsnap: a stored VARIANT has a nested shape the manifest does not list')"
	if len(shapes) > 0 {
		var b strings.Builder
		b.WriteString("CASE " + sh)
		for _, s := range shapes {
			payload := "CAST(" + text + " AS " + primed(s.t) + ")"
			if s.t.kind == kindScalar && s.t.name != shapeJSON {
				// A whole JSON string casts to VARCHAR with its quotes.
				payload = "json_extract_string(" + text + ", '$')"
			}
			b.WriteString(" WHEN " + sqlq.Literal(s.text) + " THEN CAST(" + treeDec(s.t, payload, 0) + " AS VARIANT)")
		}
		b.WriteString(" ELSE " + tree + " END")
		tree = b.String()
	}
	return "CASE WHEN " + x + " IS NULL THEN NULL WHEN " + sh + " IS NOT NULL THEN " + tree + " ELSE " + decVariantV2(x, typ) + " END"
}

// primed is the type the payload of shape t is parsed into: t with every
// scalar leaf as text and every UNION as a struct of a tag and its members.
func primed(t *dtype) string {
	switch t.kind {
	case kindList:
		return primed(t.elem) + "[]"
	case kindStruct:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " " + primed(f.typ)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case kindUnion:
		parts := []string{`"tag" VARCHAR`}
		for _, f := range t.fields {
			parts = append(parts, sqlq.Ident(f.name)+" "+primed(f.typ))
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	}
	if t.name == shapeJSON {
		return "JSON"
	}
	return "VARCHAR"
}

// treeDec turns x, a payload parsed into primed(t), into a value of t.
func treeDec(t *dtype, x string, depth int) string {
	switch t.kind {
	case kindList:
		v := treeVar("d", depth)
		return "list_transform(" + x + ", lambda " + v + ": " + treeDec(t.elem, v, depth+1) + ")"
	case kindStruct:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " := " + treeDec(f.typ, structField(x, f.name), depth)
		}
		return "CASE WHEN " + x + " IS NULL THEN NULL ELSE struct_pack(" + strings.Join(parts, ", ") + ") END"
	case kindUnion:
		tag := structField(x, "tag")
		var b strings.Builder
		b.WriteString("CASE WHEN " + x + " IS NULL THEN NULL")
		for _, f := range t.fields {
			b.WriteString(" WHEN " + tag + " = " + sqlq.Literal(f.name) + " THEN CAST(union_value(" + sqlq.Ident(f.name) + " := " +
				treeDec(f.typ, structField(x, f.name), depth) + ") AS " + t.sql() + ")")
		}
		b.WriteString(" ELSE error('statsnap: unknown member in a stored VARIANT list') END")
		return b.String()
	}
	switch t.name {
	case shapeJSON:
		return "CAST(" + x + " AS VARIANT)"
	case shapeDecimal:
		return "CAST(" + x + " AS " + t.sql() + ")"
	}
	return treeLeafByName(t.name).dec(x)
}

// shape is a validated shape: its text as stored and its parsed type.
type shape struct {
	text string
	t    *dtype
}

var decimalParams = regexp.MustCompile(`^\(([0-9]{1,2}), ?([0-9]{1,2})\)$`)

// ParseShape checks that s is a shape as backup writes it, and nothing
// else: STRUCTs with quoted, non-empty field names that differ even
// ignoring case, lists, UNIONs of members "u0", "u1", ..., and the leaf
// types of treeLeaves, DECIMAL(p,s) and JSON; at most MaxShapeLen bytes and
// maxTreeDepth+1 levels; spelled exactly as backup spells it.
func ParseShape(s string) error {
	_, err := parseShape(s)
	return err
}

func parseShape(s string) (*shape, error) {
	if len(s) > MaxShapeLen {
		return nil, fmt.Errorf("shape of %d bytes is longer than %d", len(s), MaxShapeLen)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("shape holds a NUL byte")
	}
	t, err := parseType(s)
	if err != nil {
		return nil, fmt.Errorf("shape %q: %w", s, err)
	}
	if err := checkShape(t, 0); err != nil {
		return nil, fmt.Errorf("shape %q: %w", s, err)
	}
	if got := shapeText(t); got != s {
		return nil, fmt.Errorf("shape %q is not spelled as backup writes it (%q)", s, got)
	}
	return &shape{text: s, t: t}, nil
}

func checkShape(t *dtype, depth int) error {
	if depth > maxTreeDepth+1 {
		return fmt.Errorf("nested deeper than %d levels", maxTreeDepth+1)
	}
	switch t.kind {
	case kindList:
		return checkShape(t.elem, depth+1)
	case kindStruct:
		seen := map[string]bool{}
		for _, f := range t.fields {
			if f.name == "" {
				return fmt.Errorf("empty field name")
			}
			k := strings.ToLower(f.name)
			if seen[k] {
				return fmt.Errorf("keys %q differ only in case, which a DuckDB STRUCT cannot hold", f.name)
			}
			seen[k] = true
			if err := checkShape(f.typ, depth+1); err != nil {
				return err
			}
		}
		return nil
	case kindUnion:
		if len(t.fields) < 2 || len(t.fields) > maxUnion {
			return fmt.Errorf("a UNION of %d members", len(t.fields))
		}
		for i, f := range t.fields {
			if f.name != "u"+strconv.Itoa(i) {
				return fmt.Errorf("UNION member %q where %q belongs", f.name, "u"+strconv.Itoa(i))
			}
			if err := checkShape(f.typ, depth); err != nil {
				return err
			}
		}
		return nil
	case kindScalar:
		switch {
		case t.name == "DECIMAL":
			m := decimalParams.FindStringSubmatch(t.params)
			if m == nil {
				return fmt.Errorf("bad DECIMAL parameters %q", t.params)
			}
			p, _ := strconv.Atoi(m[1])
			sc, _ := strconv.Atoi(m[2])
			if p < 1 || p > 38 || sc > p {
				return fmt.Errorf("bad DECIMAL parameters %q", t.params)
			}
			t.params = "(" + m[1] + "," + m[2] + ")"
			return nil
		case t.params != "":
			return fmt.Errorf("type %s takes no parameters", t.name)
		case t.name == shapeJSON || treeLeafByName(t.name) != nil:
			return nil
		}
	}
	return fmt.Errorf("type %s is not a shape's", t.sql())
}

// shapeText spells a checked shape as backup's SQL does: a shape holds
// only lists, structs, unions and scalars, which sql spells that way.
func shapeText(t *dtype) string { return t.sql() }

// parseShapes checks a column's recorded shapes.
func parseShapes(list []string) ([]*shape, error) {
	if len(list) > MaxShapes {
		return nil, fmt.Errorf("%d VARIANT shapes, more than %d", len(list), MaxShapes)
	}
	seen := map[string]bool{}
	out := make([]*shape, 0, len(list))
	for _, s := range list {
		if seen[s] {
			return nil, fmt.Errorf("VARIANT shape %q listed twice", s)
		}
		seen[s] = true
		sh, err := parseShape(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	return out, nil
}

// collectShapes returns SQL of type VARCHAR[]: the shapes of the VARIANTs
// in x (of type t) that are stored as typed trees.
func collectShapes(t *dtype, x string) string {
	return eachVariant(t, x, 0, func(v string) string {
		return "CASE WHEN " + v + " IS NULL OR " + isTyped(v) + " OR " + jsonExact(v) + " THEN CAST([] AS VARCHAR[]) ELSE [struct_extract(" + treeSQL(v, 0) + ", 's')] END"
	})
}

// eachVariant returns SQL of type VARCHAR[]: the lists leaf returns for
// every VARIANT in x (of type t), concatenated in order.
func eachVariant(t *dtype, x string, depth int, leaf func(v string) string) string {
	empty := "CAST([] AS VARCHAR[])"
	switch t.kind {
	case kindScalar:
		if t.name != "VARIANT" {
			return empty
		}
		return leaf(x)
	case kindList, kindArray:
		v := lambdaVar(depth)
		return "coalesce(flatten(list_transform(" + x + ", lambda " + v + ": " + eachVariant(t.elem, v, depth+1, leaf) + ")), " + empty + ")"
	case kindMap:
		v := lambdaVar(depth)
		return "coalesce(flatten(list_transform(map_entries(" + x + "), lambda " + v + ": list_concat(" +
			eachVariant(t.fields[0].typ, structField(v, "key"), depth+1, leaf) + ", " + eachVariant(t.fields[1].typ, structField(v, "value"), depth+1, leaf) + "))), " + empty + ")"
	case kindStruct, kindUnion:
		var parts []string
		for _, f := range t.fields {
			if !hasVariant(f.typ) {
				continue
			}
			m := structField(x, f.name)
			if t.kind == kindUnion {
				m = "union_extract(" + x + ", " + sqlq.Literal(f.name) + ")"
			}
			parts = append(parts, "coalesce("+eachVariant(f.typ, m, depth, leaf)+", "+empty+")")
		}
		if len(parts) == 0 {
			return empty
		}
		if len(parts) == 1 {
			return parts[0]
		}
		return "list_concat(" + strings.Join(parts, ", ") + ")"
	}
	return empty
}

// PlanVariants reads the shapes of the typed trees in each column of
// schema.table (in q's transaction) whose encoding stores VARIANTs with
// EncodingVariant's rules, and records them in the plans. A value that
// cannot be carried is an error naming the column and why: backup then
// refuses the table before writing anything (the user may skip it).
func PlanVariants(ctx context.Context, q Querier, schema, table string, plans []ColumnPlan) error {
	for i := range plans {
		p := &plans[i]
		if p.Generated || !currentVariant(p.Encoding) {
			continue
		}
		t, err := parseType(p.Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", p.Name, err)
		}
		var col string
		q2 := "SELECT DISTINCT s FROM (SELECT unnest(" + overColumn(p.Name, func(x string) string { return collectShapes(t, x) }) +
			") AS s FROM " + sqlq.Qualified(schema, table) + ") WHERE s IS NOT NULL ORDER BY s LIMIT " + strconv.Itoa(MaxShapes+1)
		rows, err := q.QueryContext(ctx, q2)
		if err != nil {
			return fmt.Errorf("column %q: read the shapes of its VARIANT values: %w", p.Name, err)
		}
		var shapes []string
		for rows.Next() {
			if err := rows.Scan(&col); err != nil {
				rows.Close()
				return fmt.Errorf("column %q: read the shapes of its VARIANT values: %w", p.Name, err)
			}
			shapes = append(shapes, col)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("column %q: read the shapes of its VARIANT values: %w", p.Name, err)
		}
		if len(shapes) > MaxShapes {
			return &VariantError{Column: p.Name, Why: fmt.Sprintf("its VARIANT values that their JSON text does not give back exactly come in more than %d "+
				"different shapes (nestings and types), more than a restore's SQL can spell out", MaxShapes)}
		}
		for _, s := range shapes {
			if why := uncarriedTree(s); why != "" {
				return &VariantError{Column: p.Name, Why: "a VARIANT value " + why}
			}
			if _, err := parseShape(s); err != nil {
				return &VariantError{Column: p.Name, Why: "a VARIANT value that its JSON text does not give back exactly has a shape " +
					"restore could not rebuild: " + err.Error()}
			}
		}
		sort.Strings(shapes)
		p.Shapes = shapes
	}
	return nil
}

// VariantError is a column holding a VARIANT value that DuckDB 1.5.6
// cannot rebuild: the table cannot be carried. Other errors of
// PlanVariants are the query's own (a cancelled context, memory).
type VariantError struct {
	Column string
	Why    string
}

func (e *VariantError) Error() string { return fmt.Sprintf("column %q: %s", e.Column, e.Why) }

// uncarriedTree explains a "!" shape, or returns "".
func uncarriedTree(s string) string {
	switch {
	case !strings.HasPrefix(s, "!"):
		return ""
	case s == "!deep":
		return fmt.Sprintf("nests objects and lists more than %d levels deep and holds values its JSON text does not give back exactly", maxTreeDepth)
	case s == "!emptykey":
		return "has an object with an empty key and values its JSON text does not give back exactly, and DuckDB 1.5.6 " +
			"has no STRUCT with an empty field name to rebuild it"
	case s == "!union":
		return fmt.Sprintf("has a list whose elements have more than %d different shapes, more than a DuckDB UNION holds", maxUnion)
	case strings.HasPrefix(s, "!type "):
		return "holds a nested value of type " + strconv.Quote(strings.TrimPrefix(s, "!type ")) + ", which this build does not know how to carry"
	}
	return "cannot be carried (" + strconv.Quote(s) + ")"
}
