package codec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// leaf describes how one scalar type is stored when DuckDB's own Parquet
// encoding of it is lossy or unreadable elsewhere. Each expression builder
// takes the SQL of the value and returns SQL; the value SQL may be repeated,
// so it must be a plain reference (a quoted column, a lambda parameter or a
// struct_extract chain over one).
type leaf struct {
	name    string                     // encoding name recorded in the manifest
	stored  string                     // SQL type of the stored value
	enc     func(x string) string      // declared value -> stored value
	dec     func(x, typ string) string // stored value -> declared type typ
	castEnc bool                       // enc is a plain CAST(x AS stored)
	castDec bool                       // dec is a plain CAST(x AS typ)
}

func castTo(typ string) func(string) string {
	return func(x string) string { return "CAST(" + x + " AS " + typ + ")" }
}

func castBack(x, typ string) string { return "CAST(" + x + " AS " + typ + ")" }

const (
	// EncodingNested marks a LIST, ARRAY, STRUCT or MAP column with at least
	// one member that needs a leaf encoding; every member is then stored by the
	// leaf rules below, recursively. The rules behind this name are frozen: a
	// change to any leaf rule needs a new nested name, or old snapshots would be
	// decoded with the wrong rules.
	EncodingNested = "nested-v1"
)

// leaves maps a canonical scalar type name to its encoding. Types absent here
// are written natively by DuckDB (lossless and readable by DuckDB, Polars and
// pyarrow) and only cast back to the declared type on restore.
var leaves = map[string]*leaf{
	// DuckDB writes HUGEINT and UHUGEINT as DOUBLE, losing digits, and their
	// range (39 digits) does not fit DECIMAL(38,0). Decimal text is exact, and
	// every reader can turn it into its own 128-bit or decimal type.
	"HUGEINT":  {name: "hugeint-text", stored: "VARCHAR", enc: castTo("VARCHAR"), dec: castBack, castEnc: true, castDec: true},
	"UHUGEINT": {name: "uhugeint-text", stored: "VARCHAR", enc: castTo("VARCHAR"), dec: castBack, castEnc: true, castDec: true},
	// DuckDB already writes BIGNUM and BIT as text; the encoding makes that
	// explicit so that the file does not depend on the writer's choice.
	"BIGNUM": {name: "bignum-text", stored: "VARCHAR", enc: castTo("VARCHAR"), dec: castBack, castEnc: true, castDec: true},
	"BIT":    {name: "bit-text", stored: "VARCHAR", enc: castTo("VARCHAR"), dec: castBack, castEnc: true, castDec: true},
	// DuckDB tags JSON with Parquet's JSON logical type, which Polars reads as
	// binary. Plain UTF-8 text reads as a string everywhere; the cast back to
	// JSON keeps the text byte for byte.
	"JSON": {name: "json-text", stored: "VARCHAR", enc: castTo("VARCHAR"), dec: castBack, castEnc: true, castDec: true},
	// COPY fails on a TIMESTAMP_S infinity ("Could not convert Timestamp(S) to
	// Timestamp(US)"). Casting to TIMESTAMP first keeps infinities, and every
	// finite TIMESTAMP_S is a whole number of seconds that casts back exactly.
	"TIMESTAMP_S": {name: "timestamp_s-micros", stored: "TIMESTAMP", enc: castTo("TIMESTAMP"), dec: castBack, castEnc: true, castDec: true},
	// Parquet has no time with offset: DuckDB writes TIMETZ as a UTC time and
	// the offset is lost. DuckDB's own text form is not exact either: it prints
	// an offset of -1 second as "-00:01" (read back as -60 s). So the text is
	// built here: the local time as DuckDB prints a TIME, then ±HH:MM:SS.
	"TIME WITH TIME ZONE": {name: "timetz-text", stored: "VARCHAR", enc: encTimeTZ, dec: castBack, castDec: true},
	// Parquet's INTERVAL is unsigned (COPY fails on negative intervals), has
	// millisecond resolution and Polars cannot read it. DuckDB's INTERVAL is
	// three independent signed fields; storing them as they are is exact and a
	// plain struct every reader understands.
	"INTERVAL": {name: "interval-struct", stored: `STRUCT("months" INTEGER, "days" INTEGER, "micros" BIGINT)`, enc: encInterval, dec: decInterval},
	// DuckDB writes a GEOMETRY without CRS as a bare BLOB and one with a CRS as
	// GeoParquet, and reads them back as different types. ISO WKB is what
	// both forms hold; storing it always as a BLOB makes restore uniform.
	"GEOMETRY": {name: "geometry-wkb", stored: "BLOB", enc: func(x string) string { return "ST_AsWKB(" + x + ")" }, dec: decGeometry},
	// DuckDB writes VARIANT with Parquet's VARIANT logical type, which Polars
	// refuses ("LogicalType union has no variant set"). Stored instead is a
	// plain struct of strings and binaries: "json" holds the value's JSON
	// text when casting that text back to VARIANT gives the same value (a
	// JSON-made value, object key order included); otherwise "metadata" and
	// "value" hold the Parquet Variant binary form, which sorts object keys.
	// See the package comment for what a Parquet Variant cannot hold.
	//
	// A value the Parquet Variant binary cannot hold at all (an INTERVAL,
	// TIMETZ, BIT, BIGNUM, TIME_NS, TIMESTAMP_S, TIMESTAMP_MS, GEOMETRY or
	// 128-bit integer) and every UBIGINT are stored, when they are the whole
	// value, as their variant_typeof in "type" and an exact text in "text"
	// (see typedVariants); restore casts the text back to exactly that type
	// and the result to VARIANT. The type name read back is only ever
	// compared with the names of typedVariants, never written into SQL.
	//
	// An object or list holding such a value is stored as a typed tree:
	// its shape in "shape" and a JSON payload in "text" (varianttree.go).
	"VARIANT": {name: EncodingVariant, stored: variantStoredV3, enc: encVariantV3},
}

// EncodingVariant is the VARIANT leaf: JSON text, the Parquet Variant
// binary, a typed text (typedVariants) or a typed tree (varianttree.go).
// Snapshots written before it record EncodingVariantV2 (no typed tree) or
// EncodingVariantV1 (no typed text either), which restore still decodes.
const (
	EncodingVariant   = "variant-typed-v3"
	EncodingVariantV2 = "variant-typed-v2"
	EncodingVariantV1 = "variant-json-binary"
	// EncodingNestedV3 is EncodingNested for a nested column holding a
	// VARIANT, whose leaf rule changed with EncodingVariant;
	// EncodingUnionV3 the same for a UNION. The V2 names are those of
	// EncodingVariantV2.
	EncodingNestedV3 = "nested-v3"
	EncodingUnionV3  = "union-struct-v3"
	EncodingNestedV2 = "nested-v2"
	EncodingUnionV2  = "union-struct-v2"
)

// variantNames are the encoding names of a column holding a VARIANT, by
// generation of the VARIANT leaf rule (1, 2, 3): at top level, in a
// UNION, in any other nested type.
var variantNames = [4][3]string{
	1: {EncodingVariantV1, EncodingUnion, EncodingNested},
	2: {EncodingVariantV2, EncodingUnionV2, EncodingNestedV2},
	3: {EncodingVariant, EncodingUnionV3, EncodingNestedV3},
}

// currentVariant reports whether encoding stores VARIANTs with
// EncodingVariant's rules, whose columns record their shapes.
func currentVariant(encoding string) bool {
	for _, n := range variantNames[3] {
		if n == encoding {
			return true
		}
	}
	return false
}

// legacyVariant is the VARIANT leaf of EncodingVariantV1, EncodingNested
// and EncodingUnion: restore decodes old snapshots with it.
var legacyVariant = &leaf{name: EncodingVariantV1, stored: variantStored, enc: encVariant, dec: decVariant}

// variantV2 is the VARIANT leaf of EncodingVariantV2, EncodingNestedV2 and
// EncodingUnionV2.
var variantV2 = &leaf{name: EncodingVariantV2, stored: variantStoredV2, enc: encVariantV2, dec: decVariantV2}

// typedVariant is how a VARIANT holding one value of a type the Parquet
// Variant binary lacks is stored as text, exactly.
type typedVariant struct {
	typeof  string                // its variant_typeof
	sqlType string                // the DuckDB type that holds it
	enc     func(x string) string // value of sqlType -> exact text
	dec     func(t string) string // that text -> value of sqlType
}

func castText(x string) string { return "CAST(" + x + " AS VARCHAR)" }

// typedVariants are, in the order the encoding tries them, the types a
// VARIANT's value may have that go through text. Their names are frozen
// in EncodingVariant: add new ones under a new encoding name.
var typedVariants = []typedVariant{
	// Three fields, as interval-struct stores them: DuckDB's text of an
	// INTERVAL normalises nothing either, but the numbers are plainer.
	{"INTERVAL", "INTERVAL", func(x string) string {
		return "printf('%d %d %d', datepart('year', " + x + ") * 12 + datepart('month', " + x + "), datepart('day', " + x + "), " +
			"datepart('hour', " + x + ") * 3600000000 + datepart('minute', " + x + ") * 60000000 + datepart('microseconds', " + x + "))"
	}, func(t string) string {
		part := func(i, typ string) string {
			return "CAST(list_extract(string_split(" + t + ", ' '), " + i + ") AS " + typ + ")"
		}
		return "(to_months(" + part("1", "INTEGER") + ") + to_days(" + part("2", "INTEGER") + ") + to_microseconds(" + part("3", "BIGINT") + "))"
	}},
	// DuckDB's own text of a TIMETZ is not exact (see timetz-text).
	{"TIME_MICROS_TZ", "TIME WITH TIME ZONE", encTimeTZ, castTo("TIME WITH TIME ZONE")},
	{"BITSTRING", "BIT", castText, castTo("BIT")},
	{"BIGNUM", "BIGNUM", castText, castTo("BIGNUM")},
	{"TIME_NANOS", "TIME_NS", castText, castTo("TIME_NS")},
	{"TIMESTAMP_SEC", "TIMESTAMP_S", castText, castTo("TIMESTAMP_S")},
	{"TIMESTAMP_MILIS", "TIMESTAMP_MS", castText, castTo("TIMESTAMP_MS")},
	{"GEOMETRY", "GEOMETRY", func(x string) string { return "to_hex(ST_AsWKB(" + x + "))" },
		func(t string) string { return "ST_GeomFromWKB(from_hex(" + t + "))" }},
	{"INT128", "HUGEINT", castText, castTo("HUGEINT")},
	{"UINT128", "UHUGEINT", castText, castTo("UHUGEINT")},
	// The Parquet Variant binary has no unsigned integers: a UBIGINT
	// would come back as a BIGINT, or not at all above 2^63-1.
	{"UINT64", "UBIGINT", castText, castTo("UBIGINT")},
}

const variantStoredV2 = `STRUCT("json" VARCHAR, "metadata" BLOB, "value" BLOB, "type" VARCHAR, "text" VARCHAR)`

// encVariantV2 is encVariant with the typed text first: a value of one of
// typedVariants' types goes to "type" and "text".
func encVariantV2(x string) string {
	ty := "variant_typeof(" + x + ")"
	var names []string
	var b strings.Builder
	b.WriteString("CASE " + ty)
	for _, tv := range typedVariants {
		names = append(names, sqlq.Literal(tv.typeof))
		b.WriteString(" WHEN " + sqlq.Literal(tv.typeof) + " THEN " + tv.enc("CAST("+x+" AS "+tv.sqlType+")"))
	}
	b.WriteString(" END")
	// The other branches are encVariant's, each with the two new fields.
	v1 := encVariantWith(x, `, "type" := CAST(NULL AS VARCHAR), "text" := CAST(NULL AS VARCHAR)`)
	return "CASE WHEN " + x + " IS NULL THEN NULL WHEN " + ty + " IN (" + strings.Join(names, ", ") + ") THEN " +
		`struct_pack("json" := CAST(NULL AS VARCHAR), "metadata" := CAST(NULL AS BLOB), "value" := CAST(NULL AS BLOB), "type" := ` + ty + `, "text" := ` + b.String() + ")" +
		" ELSE " + v1 + " END"
}

// decVariantV2 undoes encVariantV2. A "type" that is not one of
// typedVariants' names fails the restore.
func decVariantV2(x, typ string) string {
	ty := "struct_extract(" + x + ", 'type')"
	text := "struct_extract(" + x + ", 'text')"
	var b strings.Builder
	b.WriteString("CASE " + ty)
	for _, tv := range typedVariants {
		b.WriteString(" WHEN " + sqlq.Literal(tv.typeof) + " THEN CAST(" + tv.dec(text) + " AS VARIANT)")
	}
	b.WriteString(" ELSE error('statsnap: unknown VARIANT type in a stored value: ' || " + ty + ") END")
	return "CASE WHEN " + x + " IS NULL THEN NULL WHEN " + ty + " IS NOT NULL THEN " + b.String() + " ELSE " + decVariant(x, typ) + " END"
}

func encTimeTZ(x string) string {
	off := "datepart('timezone', " + x + ")"
	return "(CAST(CAST(" + x + " AS TIME) AS VARCHAR) || CASE WHEN " + off + " < 0 THEN '-' ELSE '+' END || " +
		"printf('%02d:%02d:%02d', abs(" + off + ") // 3600, abs(" + off + ") % 3600 // 60, abs(" + off + ") % 60))"
}

// encInterval extracts the three raw fields. datepart normalises nothing
// across fields: year*12+month gives back the month field, and hour, minute and
// microseconds (which includes seconds) split the micros field exactly.
func encInterval(x string) string {
	return "CASE WHEN " + x + " IS NULL THEN NULL ELSE struct_pack(" +
		`"months" := CAST(datepart('year', ` + x + ") * 12 + datepart('month', " + x + ") AS INTEGER), " +
		`"days" := CAST(datepart('day', ` + x + ") AS INTEGER), " +
		`"micros" := CAST(datepart('hour', ` + x + ") * 3600000000 + datepart('minute', " + x + ") * 60000000 + datepart('microseconds', " + x + ") AS BIGINT)) END"
}

// decInterval adds the fields back; DuckDB adds intervals field by field.
func decInterval(x, typ string) string {
	return "CASE WHEN " + x + " IS NULL THEN NULL ELSE to_months(struct_extract(" + x + ", 'months')) + to_days(struct_extract(" + x +
		", 'days')) + to_microseconds(struct_extract(" + x + ", 'micros')) END"
}

func decGeometry(x, typ string) string {
	return "CAST(ST_GeomFromWKB(" + x + ") AS " + typ + ")"
}

const variantStored = `STRUCT("json" VARCHAR, "metadata" BLOB, "value" BLOB)`

// encVariant chooses the JSON text only when the value read back from it is
// the same as far as DuckDB can tell: same Parquet Variant binary (which
// encodes every value's type and so tells an INTEGER from a BIGINT or a
// DOUBLE), same VARCHAR text (which shows object key order) and same
// variant_typeof (which tells a BIGINT from the UBIGINT that JSON makes of a
// non-negative integer; the Parquet binary has one 64-bit integer type).
// hash() cannot decide this: DuckDB 1.5.6 hashes a VARIANT by its internal
// layout, so one value hashes differently from query to query. TRY turns
// failures (NaN is not JSON; an INTERVAL has no Parquet Variant form) into
// NULL, which sends the value to the binary branch, where a value that cannot
// be carried fails the COPY with DuckDB's error. SQL NULL stays apart from a
// VARIANT holding JSON null.
func encVariant(x string) string { return encVariantWith(x, "") }

// encVariantWith is encVariant with extra struct fields (", name := ...")
// appended to each branch's struct_pack.
func encVariantWith(x, extra string) string {
	pv := func(v string) string {
		return "CAST(variant_to_parquet_variant(" + v + `) AS STRUCT("metadata" BLOB, "value" BLOB))`
	}
	back := "TRY(CAST(CAST(" + x + " AS JSON) AS VARIANT))"
	return "CASE WHEN " + x + " IS NULL THEN NULL" +
		" WHEN TRY(" + pv(back) + ") = TRY(" + pv(x) + ") AND CAST(" + back + " AS VARCHAR) = CAST(" + x + " AS VARCHAR)" +
		" AND variant_typeof(" + back + ") = variant_typeof(" + x + ")" +
		` THEN struct_pack("json" := CAST(CAST(` + x + ` AS JSON) AS VARCHAR), "metadata" := CAST(NULL AS BLOB), "value" := CAST(NULL AS BLOB)` + extra + `)` +
		` ELSE struct_pack("json" := CAST(NULL AS VARCHAR), "metadata" := struct_extract(` + pv(x) + `, 'metadata'), "value" := struct_extract(` + pv(x) + `, 'value')` + extra + `) END`
}

func decVariant(x, typ string) string {
	return "CASE WHEN " + x + " IS NULL THEN NULL WHEN struct_extract(" + x + ", 'json') IS NOT NULL THEN CAST(CAST(struct_extract(" + x +
		", 'json') AS JSON) AS VARIANT) ELSE variant_bytes_to_variant(struct_extract(" + x + ", 'metadata') || struct_extract(" + x + ", 'value')) END"
}

// EncodingUnion marks a UNION column (at top level; inside a nested column
// the union rule is part of EncodingNested). DuckDB writes a UNION as a
// struct with an unnamed tag field that its own reader cannot turn back into
// a UNION when a member is a LIST or STRUCT. It is stored instead as
// STRUCT(tag VARCHAR, <member> <stored member type>, ...): tag names the
// member that is set, every other member is NULL. The tag field is called
// "tag", with underscores in front when a member already has that name.
const EncodingUnion = "union-struct"

// needsEncoding reports whether any part of t has a leaf encoding or is a UNION.
func needsEncoding(t *dtype) bool {
	switch t.kind {
	case kindScalar:
		return leaves[t.name] != nil
	case kindEnum:
		return false
	case kindList, kindArray:
		return needsEncoding(t.elem)
	case kindUnion:
		return true
	}
	for _, f := range t.fields {
		if needsEncoding(f.typ) {
			return true
		}
	}
	return false
}

// castOnly reports whether encoding (enc true) or decoding (enc false) the
// whole of t is one CAST: then nested values are converted by a single cast
// of the column instead of lambdas, which is simpler and faster.
func castOnly(t *dtype, enc bool) bool {
	switch t.kind {
	case kindScalar:
		l := leaves[t.name]
		if l == nil {
			return true
		}
		if enc {
			return l.castEnc
		}
		return l.castDec
	case kindEnum:
		return true
	case kindList, kindArray:
		return castOnly(t.elem, enc)
	case kindUnion:
		return false
	}
	for _, f := range t.fields {
		if !castOnly(f.typ, enc) {
			return false
		}
	}
	return true
}

// storedType is the SQL type a value of t has in the Parquet file.
func storedType(t *dtype) string {
	if !needsEncoding(t) {
		return t.sql()
	}
	switch t.kind {
	case kindScalar:
		return leaves[t.name].stored
	case kindList, kindArray:
		// Parquet has no fixed-size list; DuckDB writes an ARRAY as a LIST.
		return storedType(t.elem) + "[]"
	case kindMap:
		return "MAP(" + storedType(t.fields[0].typ) + ", " + storedType(t.fields[1].typ) + ")"
	case kindStruct:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " " + storedType(f.typ)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case kindUnion:
		parts := []string{sqlq.Ident(unionTag(t)) + " VARCHAR"}
		for _, f := range t.fields {
			parts = append(parts, sqlq.Ident(f.name)+" "+storedType(f.typ))
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	}
	return t.sql()
}

// unionTag is the name of the tag field of a stored UNION: "tag" unless a
// member is called that (struct field names compare case-insensitively).
func unionTag(t *dtype) string {
	tag := "tag"
	for {
		clash := false
		for _, f := range t.fields {
			if strings.EqualFold(f.name, tag) {
				clash = true
				break
			}
		}
		if !clash {
			return tag
		}
		tag = "_" + tag
	}
}

// lambdaVar names the lambda parameter at a nesting depth. Names only need
// to differ between enclosing lambdas; the body of a lambda never refers to a
// table column, so they cannot be captured by one.
func lambdaVar(depth int) string { return "__statsnap_" + strconv.Itoa(depth) }

func structField(x, name string) string {
	return "struct_extract(" + x + ", " + sqlq.Literal(name) + ")"
}

// encodeExpr returns SQL turning x (of type t) into its stored form.
func encodeExpr(t *dtype, x string, depth int) string {
	if !needsEncoding(t) {
		return x
	}
	if castOnly(t, true) {
		return "CAST(" + x + " AS " + storedType(t) + ")"
	}
	switch t.kind {
	case kindScalar:
		return leaves[t.name].enc(x)
	case kindList, kindArray:
		v := lambdaVar(depth)
		return "list_transform(" + x + ", lambda " + v + ": " + encodeExpr(t.elem, v, depth+1) + ")"
	case kindMap:
		v := lambdaVar(depth)
		return "map_from_entries(list_transform(map_entries(" + x + "), lambda " + v + ": struct_pack(" +
			`"key" := ` + encodeExpr(t.fields[0].typ, structField(v, "key"), depth+1) + ", " +
			`"value" := ` + encodeExpr(t.fields[1].typ, structField(v, "value"), depth+1) + ")))"
	case kindStruct:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " := " + encodeExpr(f.typ, structField(x, f.name), depth)
		}
		return "CASE WHEN " + x + " IS NULL THEN NULL ELSE struct_pack(" + strings.Join(parts, ", ") + ") END"
	case kindUnion:
		parts := []string{sqlq.Ident(unionTag(t)) + " := CAST(union_tag(" + x + ") AS VARCHAR)"}
		for _, f := range t.fields {
			parts = append(parts, sqlq.Ident(f.name)+" := "+
				encodeExpr(f.typ, "union_extract("+x+", "+sqlq.Literal(f.name)+")", depth))
		}
		return "CASE WHEN " + x + " IS NULL THEN NULL ELSE struct_pack(" + strings.Join(parts, ", ") + ") END"
	}
	return x
}

// decodeExpr returns SQL turning x (the stored form of t, as read_parquet
// returns it) into a value of exactly type t.
// decoder says how a column's VARIANTs were stored: the generation of the
// VARIANT leaf rule (variantNames) and, for the current one, the
// column's shapes.
type decoder struct {
	gen    int
	shapes []*shape
}

func decodeExpr(t *dtype, x string, depth int, legacy decoder) string {
	typ := t.sql()
	if !needsEncoding(t) || castOnly(t, false) {
		return "CAST(" + x + " AS " + typ + ")"
	}
	switch t.kind {
	case kindScalar:
		if t.name == "VARIANT" {
			switch legacy.gen {
			case 1:
				return legacyVariant.dec(x, typ)
			case 2:
				return variantV2.dec(x, typ)
			}
			return decVariantV3(x, typ, legacy.shapes)
		}
		return leaves[t.name].dec(x, typ)
	case kindList:
		v := lambdaVar(depth)
		return "list_transform(" + x + ", lambda " + v + ": " + decodeExpr(t.elem, v, depth+1, legacy) + ")"
	case kindArray:
		v := lambdaVar(depth)
		return "CAST(list_transform(" + x + ", lambda " + v + ": " + decodeExpr(t.elem, v, depth+1, legacy) + ") AS " + typ + ")"
	case kindMap:
		v := lambdaVar(depth)
		return "map_from_entries(list_transform(map_entries(" + x + "), lambda " + v + ": struct_pack(" +
			`"key" := ` + decodeExpr(t.fields[0].typ, structField(v, "key"), depth+1, legacy) + ", " +
			`"value" := ` + decodeExpr(t.fields[1].typ, structField(v, "value"), depth+1, legacy) + ")))"
	case kindStruct:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " := " + decodeExpr(f.typ, structField(x, f.name), depth, legacy)
		}
		return "CASE WHEN " + x + " IS NULL THEN NULL ELSE struct_pack(" + strings.Join(parts, ", ") + ") END"
	case kindUnion:
		tag := structField(x, unionTag(t))
		var b strings.Builder
		b.WriteString("CASE WHEN " + x + " IS NULL THEN NULL")
		for _, f := range t.fields {
			b.WriteString(" WHEN " + tag + " = " + sqlq.Literal(f.name) + " THEN CAST(union_value(" +
				sqlq.Ident(f.name) + " := " + decodeExpr(f.typ, structField(x, f.name), depth, legacy) + ") AS " + typ + ")")
		}
		// A tag this type does not have means the file does not belong to
		// this column: fail rather than restore a NULL.
		b.WriteString(" ELSE error('statsnap: unknown UNION tag ' || " + tag + ") END")
		return b.String()
	}
	return "CAST(" + x + " AS " + typ + ")"
}

// encodingName is the name recorded for a column of type t.
func encodingName(t *dtype) string {
	if !needsEncoding(t) {
		return ""
	}
	switch {
	case t.kind == kindScalar:
		return leaves[t.name].name
	case t.kind == kindUnion && hasVariant(t):
		return EncodingUnionV3
	case t.kind == kindUnion:
		return EncodingUnion
	case hasVariant(t):
		return EncodingNestedV3
	}
	return EncodingNested
}

// variantName is the name a column of type t holding a VARIANT records
// when its VARIANTs are stored by the leaf rule of generation gen.
func variantName(t *dtype, gen int) string {
	switch t.kind {
	case kindScalar:
		return variantNames[gen][0]
	case kindUnion:
		return variantNames[gen][1]
	}
	return variantNames[gen][2]
}

// hasVariant reports whether any part of t is a VARIANT.
func hasVariant(t *dtype) bool {
	switch t.kind {
	case kindScalar:
		return t.name == "VARIANT"
	case kindEnum:
		return false
	case kindList, kindArray:
		return hasVariant(t.elem)
	}
	for _, f := range t.fields {
		if hasVariant(f.typ) {
			return true
		}
	}
	return false
}

// checkEncoding verifies that a recorded encoding is one this build
// derives for the declared type, now or in an earlier generation of the
// VARIANT leaf rule, so a manifest cannot pair an encoding with a type it
// was not made for. It returns how the column's VARIANTs decode.
func checkEncoding(t *dtype, encoding string) (decoder, error) {
	if !Known(encoding) {
		return decoder{}, fmt.Errorf("unknown encoding %q", encoding)
	}
	if hasVariant(t) {
		for gen := 1; gen <= 3; gen++ {
			if variantName(t, gen) == encoding {
				return decoder{gen: gen}, nil
			}
		}
	}
	if want := encodingName(t); want != encoding {
		return decoder{}, fmt.Errorf("encoding %q does not apply to type %s (expected %q)", encoding, t.sql(), want)
	}
	return decoder{gen: 3}, nil
}
