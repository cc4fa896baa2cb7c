package codec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// kind classifies a parsed DuckDB type.
type kind int

const (
	kindScalar kind = iota
	kindEnum
	kindList
	kindArray
	kindStruct
	kindMap
	kindUnion
)

// dtype is a DuckDB type as printed by duckdb_columns().data_type, parsed into
// a tree so that nested types can be encoded member by member.
type dtype struct {
	kind kind
	// name is the canonical base name of a scalar ("HUGEINT", "TIME WITH TIME
	// ZONE", "DECIMAL", "GEOMETRY", ...).
	name string
	// params is the raw parenthesised suffix of a scalar, e.g. "(38,10)" for a
	// DECIMAL or "('OGC:CRS84')" for a GEOMETRY with a CRS; "" when absent.
	params string
	labels []string // ENUM labels
	elem   *dtype   // LIST and ARRAY element
	size   int      // ARRAY length
	fields []field  // STRUCT fields, UNION members, MAP key and value
}

type field struct {
	name string
	typ  *dtype
}

// scalarNames maps every spelling DuckDB may print (and the common aliases)
// to the canonical name used by the encoding rules. A name missing here is a
// type this build does not know how to carry, and planning fails on it rather
// than guessing.
var scalarNames = map[string]string{
	"BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
	"TINYINT": "TINYINT", "INT1": "TINYINT",
	"SMALLINT": "SMALLINT", "INT2": "SMALLINT", "SHORT": "SMALLINT",
	"INTEGER": "INTEGER", "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER",
	"BIGINT": "BIGINT", "INT8": "BIGINT", "LONG": "BIGINT",
	"HUGEINT": "HUGEINT", "INT128": "HUGEINT",
	"UTINYINT": "UTINYINT", "USMALLINT": "USMALLINT", "UINTEGER": "UINTEGER",
	"UBIGINT": "UBIGINT", "UHUGEINT": "UHUGEINT", "UINT128": "UHUGEINT",
	"FLOAT": "FLOAT", "FLOAT4": "FLOAT", "REAL": "FLOAT",
	"DOUBLE": "DOUBLE", "FLOAT8": "DOUBLE",
	"DECIMAL": "DECIMAL", "NUMERIC": "DECIMAL",
	"BIGNUM": "BIGNUM", "VARINT": "BIGNUM",
	"VARCHAR": "VARCHAR", "TEXT": "VARCHAR", "STRING": "VARCHAR",
	"BLOB": "BLOB", "BYTEA": "BLOB", "VARBINARY": "BLOB",
	"BIT": "BIT", "BITSTRING": "BIT",
	"UUID":                     "UUID",
	"JSON":                     "JSON",
	"DATE":                     "DATE",
	"TIME":                     "TIME",
	"TIME_NS":                  "TIME_NS",
	"TIME WITH TIME ZONE":      "TIME WITH TIME ZONE",
	"TIMETZ":                   "TIME WITH TIME ZONE",
	"TIMESTAMP":                "TIMESTAMP",
	"TIMESTAMP_US":             "TIMESTAMP",
	"DATETIME":                 "TIMESTAMP",
	"TIMESTAMP_S":              "TIMESTAMP_S",
	"TIMESTAMP_MS":             "TIMESTAMP_MS",
	"TIMESTAMP_NS":             "TIMESTAMP_NS",
	"TIMESTAMP WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
	"TIMESTAMPTZ":              "TIMESTAMP WITH TIME ZONE",
	"INTERVAL":                 "INTERVAL",
	"GEOMETRY":                 "GEOMETRY",
	"VARIANT":                  "VARIANT",
}

// parseType parses a type as printed by duckdb_columns().data_type.
func parseType(s string) (*dtype, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &typeParser{toks: toks}
	t, err := p.parse()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q after type", p.toks[p.pos].text)
	}
	return t, nil
}

type tokKind int

const (
	tokWord   tokKind = iota // bare word: a type name or an unquoted field name
	tokIdent                 // "quoted identifier", unescaped
	tokString                // 'string literal', unescaped
	tokPunct                 // one of ( ) [ ] ,
)

type token struct {
	kind tokKind
	text string
	// raw is the token as written, kept so that scalar parameters such as a
	// GEOMETRY CRS can be handed back to DuckDB exactly as it printed them.
	raw string
}

// tokenize splits a type string into words, quoted identifiers, string
// literals and punctuation. Quotes are doubled inside quoted tokens, as DuckDB
// prints them.
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
			toks = append(toks, token{kind: tokPunct, text: string(c), raw: string(c)})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quote in type %q", s)
			}
			k := tokIdent
			if c == '\'' {
				k = tokString
			}
			toks = append(toks, token{kind: k, text: b.String(), raw: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()[],\"'", rune(s[j])) {
				j++
			}
			toks = append(toks, token{kind: tokWord, text: s[i:j], raw: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type typeParser struct {
	toks []token
	pos  int
}

func (p *typeParser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *typeParser) isPunct(s string) bool {
	t := p.peek()
	return t != nil && t.kind == tokPunct && t.text == s
}

func (p *typeParser) expect(s string) error {
	if !p.isPunct(s) {
		if t := p.peek(); t != nil {
			return fmt.Errorf("expected %q, found %q", s, t.text)
		}
		return fmt.Errorf("expected %q at end of type", s)
	}
	p.pos++
	return nil
}

func (p *typeParser) parse() (*dtype, error) {
	// A base name may span several words: "TIME WITH TIME ZONE".
	var words []string
	for t := p.peek(); t != nil && t.kind == tokWord; t = p.peek() {
		words = append(words, strings.ToUpper(t.text))
		p.pos++
	}
	if len(words) == 0 {
		if t := p.peek(); t != nil {
			return nil, fmt.Errorf("expected a type name, found %q", t.text)
		}
		return nil, fmt.Errorf("expected a type name")
	}
	base := strings.Join(words, " ")
	var t *dtype
	var err error
	switch base {
	case "STRUCT", "ROW", "UNION":
		k := kindStruct
		if base == "UNION" {
			k = kindUnion
		}
		t, err = p.parseFields(k)
	case "MAP":
		t, err = p.parseMap()
	case "ENUM":
		t, err = p.parseEnum()
	default:
		name, ok := scalarNames[base]
		if !ok {
			return nil, fmt.Errorf("unsupported type %s", base)
		}
		t = &dtype{kind: kindScalar, name: name}
		if p.isPunct("(") {
			if t.params, err = p.rawParens(); err == nil {
				err = checkParams(name, t.params)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	// Suffixes, left to right: INTEGER[][3] is an ARRAY of 3 LISTs.
	for p.isPunct("[") {
		p.pos++
		if p.isPunct("]") {
			p.pos++
			t = &dtype{kind: kindList, elem: t}
			continue
		}
		n := p.peek()
		if n == nil || n.kind != tokWord {
			return nil, fmt.Errorf("expected an array size")
		}
		size, err := strconv.Atoi(n.text)
		if err != nil || size <= 0 {
			return nil, fmt.Errorf("bad array size %q", n.text)
		}
		p.pos++
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		t = &dtype{kind: kindArray, elem: t, size: size}
	}
	return t, nil
}

// Scalar parameters go back into SQL as written (restore casts to the
// type a manifest records, and a manifest may be hostile), so only the
// forms DuckDB prints are accepted: a precision and scale for DECIMAL, a
// length for VARCHAR (which DuckDB ignores), one string literal for a
// GEOMETRY's CRS (its quotes doubled by the tokenizer, so it cannot end
// early). Anything else in parentheses, a comment or a subquery, say, is
// refused before it reaches SQL.
var (
	decimalArgs = regexp.MustCompile(`^\(([0-9]{1,2})(?:, ?([0-9]{1,2}))?\)$`)
	lengthArg   = regexp.MustCompile(`^\([0-9]{1,9}\)$`)
	crsArg      = regexp.MustCompile(`^\('(?:[^']|'')*'\)$`)
)

func checkParams(name, params string) error {
	switch name {
	case "DECIMAL":
		if m := decimalArgs.FindStringSubmatch(params); m != nil {
			p, _ := strconv.Atoi(m[1])
			sc := 0
			if m[2] != "" {
				sc, _ = strconv.Atoi(m[2])
			}
			if p >= 1 && p <= 38 && sc <= p {
				return nil
			}
		}
	case "VARCHAR":
		if lengthArg.MatchString(params) {
			return nil
		}
	case "GEOMETRY":
		if len(params) <= 1024 && crsArg.MatchString(params) {
			return nil
		}
	}
	return fmt.Errorf("type %s with parameters %s, which DuckDB does not print", name, params)
}

// rawParens returns a balanced parenthesised group exactly as DuckDB printed
// it (quotes re-escaped), for scalar parameters this package passes through.
func (p *typeParser) rawParens() (string, error) {
	var b strings.Builder
	depth := 0
	for {
		t := p.peek()
		if t == nil {
			return "", fmt.Errorf("unbalanced parentheses in type")
		}
		p.pos++
		if t.kind == tokPunct && t.text == "(" {
			depth++
		}
		if t.kind == tokPunct && t.text == ")" {
			depth--
		}
		if b.Len() > 0 && t.kind != tokPunct && !strings.HasSuffix(b.String(), "(") {
			b.WriteByte(' ')
		}
		b.WriteString(t.raw)
		if depth == 0 {
			return b.String(), nil
		}
	}
}

func (p *typeParser) parseFields(k kind) (*dtype, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	t := &dtype{kind: k}
	for {
		n := p.peek()
		if n == nil || (n.kind != tokWord && n.kind != tokIdent) {
			return nil, fmt.Errorf("expected a field name")
		}
		if strings.IndexByte(n.text, 0) >= 0 {
			return nil, fmt.Errorf("field name %q contains a NUL byte, which SQL text cannot spell", n.text)
		}
		p.pos++
		ft, err := p.parse()
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", n.text, err)
		}
		t.fields = append(t.fields, field{name: n.text, typ: ft})
		if p.isPunct(",") {
			p.pos++
			continue
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return t, nil
	}
}

func (p *typeParser) parseMap() (*dtype, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	k, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("map key: %w", err)
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	v, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("map value: %w", err)
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return &dtype{kind: kindMap, fields: []field{{"key", k}, {"value", v}}}, nil
}

func (p *typeParser) parseEnum() (*dtype, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	t := &dtype{kind: kindEnum}
	for {
		n := p.peek()
		if n == nil || n.kind != tokString {
			return nil, fmt.Errorf("expected an ENUM label")
		}
		if strings.IndexByte(n.text, 0) >= 0 {
			return nil, fmt.Errorf("ENUM label %q contains a NUL byte, which SQL text cannot spell", n.text)
		}
		p.pos++
		t.labels = append(t.labels, n.text)
		if p.isPunct(",") {
			p.pos++
			continue
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return t, nil
	}
}

// sql renders the type back as DuckDB SQL, quoting every field name and label
// so that any name survives.
func (t *dtype) sql() string {
	switch t.kind {
	case kindEnum:
		q := make([]string, len(t.labels))
		for i, l := range t.labels {
			q[i] = sqlq.Literal(l)
		}
		return "ENUM(" + strings.Join(q, ", ") + ")"
	case kindList:
		return t.elem.sql() + "[]"
	case kindArray:
		return t.elem.sql() + "[" + strconv.Itoa(t.size) + "]"
	case kindStruct, kindUnion:
		kw := "STRUCT("
		if t.kind == kindUnion {
			kw = "UNION("
		}
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = sqlq.Ident(f.name) + " " + f.typ.sql()
		}
		return kw + strings.Join(parts, ", ") + ")"
	case kindMap:
		return "MAP(" + t.fields[0].typ.sql() + ", " + t.fields[1].typ.sql() + ")"
	}
	return t.name + t.params
}
