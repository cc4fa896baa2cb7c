package codec

import (
	"errors"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// generatedColumns returns the names of the generated columns in a CREATE
// TABLE statement as DuckDB prints it in duckdb_tables().sql, e.g.
//
//	CREATE TABLE "t"(a INTEGER, b INTEGER GENERATED ALWAYS AS((a + 1)), CHECK((a > 0)));
//
// DuckDB normalises both "GENERATED ALWAYS AS (e)" and "AS (e) VIRTUAL" to
// the first form. The statement is split into its top-level elements, with
// quoted identifiers, string literals and parentheses respected, so that the
// words inside a DEFAULT string or an ENUM label are never mistaken for the
// clause.
func generatedColumns(ddl string) (map[string]bool, error) {
	toks, err := ddlTokens(ddl)
	if err != nil {
		return nil, err
	}
	start, err := listStart(toks)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	var elem []token
	depth := 0
	flush := func() {
		if len(elem) >= 5 && (elem[0].kind == tokIdent || elem[0].kind == tokWord) {
			for i := 1; i+2 < len(elem); i++ {
				if elem[i].kind == tokWord && strings.EqualFold(elem[i].text, "GENERATED") &&
					elem[i+1].kind == tokWord && strings.EqualFold(elem[i+1].text, "ALWAYS") &&
					elem[i+2].kind == tokWord && strings.EqualFold(elem[i+2].text, "AS") {
					out[elem[0].text] = true
					break
				}
			}
		}
		elem = elem[:0]
	}
	for _, t := range toks[start+1:] {
		if t.kind == tokPunct {
			switch t.text {
			case "(":
				depth++
			case ")":
				if depth == 0 {
					flush()
					return out, nil
				}
				depth--
			case ",":
				if depth == 0 {
					flush()
					continue
				}
			}
		}
		// Only top-level words count: GENERATED inside a CHECK expression
		// or a nested type is not the column clause.
		if depth == 0 || t.kind == tokPunct {
			elem = append(elem, t)
		} else {
			elem = append(elem, token{kind: tokPunct, text: "…"})
		}
	}
	return nil, errors.New("unterminated column list in the table definition")
}

// ddlTokens tokenizes a CREATE TABLE statement printed by DuckDB with the type
// tokenizer: dots and operators stay inside words, which is all the scan for
// generated columns needs.
func ddlTokens(s string) ([]token, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ";")
	return tokenize(s)
}

// ErrNULRebuild is a table with a column whose name holds a NUL byte and
// whose definition is more than its columns' names and types. Restore
// rebuilds such a table with CREATE TABLE ... AS SELECT, the only statement
// that can make a column of that name without writing it in SQL text, and
// that statement makes no constraint, DEFAULT or generated column.
var ErrNULRebuild = errors.New("a column name holds a NUL byte, and the table has constraints, defaults or generated columns, which statsnap can only rebuild by writing that name in SQL")

// checkNULNames accepts a table whose column names hold a NUL byte only
// when its DDL, as DuckDB renders it, lists each column as a name and a type
// and nothing else, in catalog order: then CREATE TABLE AS SELECT rebuilds
// it exactly (restore checks DuckDB's rendering of the result against the
// manifest's create_sql). Each element must parse as a name followed by a
// type this package knows; any further word (NOT NULL, DEFAULT, COLLATE,
// PRIMARY KEY, CHECK, ...) fails that parse.
func checkNULNames(ddl string, plans []ColumnPlan) error {
	nul := false
	for _, p := range plans {
		if sqlq.HasNUL(p.Name) {
			nul = true
		}
	}
	if !nul {
		return nil
	}
	if !strings.HasPrefix(ddl, "CREATE TABLE ") {
		return ErrNULRebuild
	}
	elems, err := ddlElements(ddl)
	if err != nil || len(elems) != len(plans) {
		return ErrNULRebuild
	}
	for i, el := range elems {
		if len(el) < 2 || (el[0].kind != tokIdent && el[0].kind != tokWord) || el[0].text != plans[i].Name || plans[i].Generated {
			return ErrNULRebuild
		}
		p := &typeParser{toks: el[1:]}
		if _, err := p.parse(); err != nil || p.pos != len(el)-1 {
			return ErrNULRebuild
		}
	}
	return nil
}

// ddlElements splits the top-level element list of a CREATE TABLE into
// its elements' tokens.
func ddlElements(ddl string) ([][]token, error) {
	toks, err := ddlTokens(ddl)
	if err != nil {
		return nil, err
	}
	start, err := listStart(toks)
	if err != nil {
		return nil, err
	}
	var out [][]token
	var elem []token
	depth := 0
	for i, t := range toks[start+1:] {
		if t.kind == tokPunct {
			switch t.text {
			case "(":
				depth++
			case ")":
				if depth == 0 {
					if i+start+2 != len(toks) {
						return nil, errors.New("text after the column list")
					}
					return append(out, elem), nil
				}
				depth--
			case ",":
				if depth == 0 {
					out = append(out, elem)
					elem = nil
					continue
				}
			}
		}
		elem = append(elem, t)
	}
	return nil, errors.New("unterminated column list in the table definition")
}

// listStart is the index of the "(" that opens a CREATE TABLE's element
// list: the first top-level one, since before it come only CREATE [OR
// REPLACE] [TEMP] TABLE [IF NOT EXISTS] and the (quoted) name.
func listStart(toks []token) (int, error) {
	for i, t := range toks {
		if t.kind == tokPunct && t.text == "(" {
			return i, nil
		}
	}
	return -1, errors.New("no column list in the table definition")
}
