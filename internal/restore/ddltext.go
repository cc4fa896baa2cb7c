package restore

import "strings"

// The DDL a manifest records is DuckDB's own rendering (duckdb_tables()
// and duckdb_views().sql) or statsnap's (macros, from the parts
// duckdb_functions() lists). json_serialize_sql parses only SELECT
// statements, so the queries and expressions inside that DDL are cut out
// here along its tokens (quoted names, strings, comments and parentheses
// respected) and handed to DuckDB's parser; this file never decides what
// a name means. Text that does not have the expected shape is reported
// as unreadable, never guessed at.

type tokKind int

const (
	tokWord tokKind = iota
	tokQuoted
	tokString
	tokPunct
)

type token struct {
	kind       tokKind
	text       string // the token as written
	start, end int    // byte offsets in the input
}

// is reports whether t is the keyword kw (case-insensitively).
func (t token) is(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

func (t token) punct(p string) bool { return t.kind == tokPunct && t.text == p }

// maxTokens bounds the tokens read from one statement.
const maxTokens = 1 << 20

// tokenize splits s into tokens; false when a quote or comment is not
// closed.
func tokenize(s string) ([]token, bool) {
	var out []token
	i := 0
	for i < len(s) {
		if len(out) > maxTokens {
			return nil, false
		}
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, false
			}
			i += j + 4
		case c == '"' || c == '\'':
			j, ok := closeQuote(s, i, c, false)
			if !ok {
				return nil, false
			}
			k := tokQuoted
			if c == '\'' {
				k = tokString
			}
			out = append(out, token{kind: k, text: s[i:j], start: i, end: j})
			i = j
		case (c == 'E' || c == 'e') && i+1 < len(s) && s[i+1] == '\'':
			j, ok := closeQuote(s, i+1, '\'', true)
			if !ok {
				return nil, false
			}
			out = append(out, token{kind: tokString, text: s[i:j], start: i, end: j})
			i = j
		case c == '$':
			// $tag$ ... $tag$, or a parameter such as $1.
			j := i + 1
			for j < len(s) && isWordByte(s[j]) && !(s[j] >= '0' && s[j] <= '9' && j == i+1) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				k := strings.Index(s[j+1:], tag)
				if k < 0 {
					return nil, false
				}
				end := j + 1 + k + len(tag)
				out = append(out, token{kind: tokString, text: s[i:end], start: i, end: end})
				i = end
				continue
			}
			out = append(out, token{kind: tokPunct, text: "$", start: i, end: i + 1})
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{kind: tokWord, text: s[i:j], start: i, end: j})
			i = j
		case c == ':' && i+1 < len(s) && (s[i+1] == '=' || s[i+1] == ':'):
			out = append(out, token{kind: tokPunct, text: s[i : i+2], start: i, end: i + 2})
			i += 2
		default:
			out = append(out, token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out, true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// closeQuote returns the offset after the quote opened at s[i].
func closeQuote(s string, i int, q byte, backslash bool) (int, bool) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

// name reads a dotted name at toks[i]; it returns the index after it and
// its parts, unquoted.
func name(toks []token, i int) (int, []string) {
	var parts []string
	for i < len(toks) && (toks[i].kind == tokWord || toks[i].kind == tokQuoted) {
		p := toks[i].text
		if toks[i].kind == tokQuoted {
			p = unquote(p)
		}
		parts = append(parts, p)
		i++
		if i < len(toks) && toks[i].punct(".") {
			i++
			continue
		}
		break
	}
	return i, parts
}

// closing returns the index of the parenthesis closing the one at
// toks[i], or -1.
func closing(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case toks[j].punct("("):
			depth++
		case toks[j].punct(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func trimStatement(s string) string {
	return strings.TrimSuffix(strings.TrimSpace(s), ";")
}

// viewQuery cuts the query out of CREATE VIEW name [(columns)] AS query.
func viewQuery(ddl string) (string, bool) {
	toks, ok := tokenize(ddl)
	if !ok || len(toks) < 4 || !toks[0].is("CREATE") || !toks[1].is("VIEW") {
		return "", false
	}
	i, parts := name(toks, 2)
	if len(parts) == 0 || i >= len(toks) {
		return "", false
	}
	if toks[i].punct("(") {
		if i = closing(toks, i); i < 0 {
			return "", false
		}
		i++
	}
	if i >= len(toks) || !toks[i].is("AS") {
		return "", false
	}
	return trimStatement(ddl[toks[i].end:]), true
}

// macroParts cuts a CREATE MACRO as statsnap writes it into SELECT
// statements: each parameter default and each overload's body.
func macroParts(ddl string) ([]string, bool) {
	ddl = trimStatement(ddl)
	toks, ok := tokenize(ddl)
	if !ok || len(toks) < 3 || !toks[0].is("CREATE") || !toks[1].is("MACRO") {
		return nil, false
	}
	i, parts := name(toks, 2)
	if len(parts) == 0 {
		return nil, false
	}
	var out []string
	for {
		if i >= len(toks) || !toks[i].punct("(") {
			return nil, false
		}
		end := closing(toks, i)
		if end < 0 {
			return nil, false
		}
		// Parameters: name [:= default], split at the list's own commas.
		depth := 0
		for j := i + 1; j < end; j++ {
			t := toks[j]
			switch {
			case t.punct("("):
				depth++
			case t.punct(")"):
				depth--
			case depth == 0 && t.punct(":="):
				k := j + 1
				d := 0
				for ; k < end; k++ {
					if toks[k].punct("(") {
						d++
					} else if toks[k].punct(")") {
						d--
					} else if d == 0 && toks[k].punct(",") {
						break
					}
				}
				if k == j+1 {
					return nil, false
				}
				out = append(out, "SELECT "+ddl[toks[j+1].start:toks[k-1].end])
				j = k - 1
			}
		}
		i = end + 1
		if i >= len(toks) || !toks[i].is("AS") {
			return nil, false
		}
		i++
		if i < len(toks) && toks[i].is("TABLE") {
			// A table macro has one body, the rest of the statement.
			if i+1 >= len(toks) {
				return nil, false
			}
			return append(out, ddl[toks[i+1].start:]), true
		}
		// A scalar body is one expression: it ends at the first comma
		// outside parentheses, where the next overload starts.
		k, d := i, 0
		for ; k < len(toks); k++ {
			if toks[k].punct("(") {
				d++
			} else if toks[k].punct(")") {
				d--
			} else if d == 0 && toks[k].punct(",") {
				break
			}
		}
		if k == i {
			return nil, false
		}
		out = append(out, "SELECT "+ddl[toks[i].start:toks[k-1].end])
		if k >= len(toks) {
			return out, true
		}
		i = k + 1
	}
}

// tableParts reads DuckDB's rendering of a CREATE TABLE: the expressions
// of its DEFAULTs, CHECKs and generated columns (as SELECT statements)
// and the tables its foreign keys reference.
func tableParts(ddl string) ([]string, []ref, bool) {
	ddl = trimStatement(ddl)
	toks, ok := tokenize(ddl)
	if !ok || len(toks) < 4 || !toks[0].is("CREATE") || !toks[1].is("TABLE") {
		return nil, nil, false
	}
	i, parts := name(toks, 2)
	if len(parts) == 0 || i >= len(toks) || !toks[i].punct("(") {
		return nil, nil, false
	}
	end := closing(toks, i)
	if end != len(toks)-1 {
		return nil, nil, false
	}
	var exprs []string
	var fks []ref
	depth := 0
	for j := i + 1; j < end; j++ {
		t := toks[j]
		switch {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
		case depth == 0 && (t.is("DEFAULT") || t.is("CHECK") || t.is("AS")):
			if j+1 >= end || !toks[j+1].punct("(") {
				return nil, nil, false
			}
			c := closing(toks, j+1)
			if c < 0 || c > end {
				return nil, nil, false
			}
			if c > j+2 {
				exprs = append(exprs, "SELECT "+ddl[toks[j+2].start:toks[c-1].end])
			}
			j = c
		case depth == 0 && t.is("REFERENCES"):
			k, ps := name(toks, j+1)
			switch len(ps) {
			case 1:
				fks = append(fks, ref{kind: "rel", name: ps[0]})
			case 2:
				fks = append(fks, ref{kind: "rel", schema: ps[0], name: ps[1]})
			case 3:
				fks = append(fks, ref{kind: "rel", catalog: ps[0], schema: ps[1], name: ps[2]})
			default:
				return nil, nil, false
			}
			j = k - 1
		}
	}
	return exprs, fks, true
}
