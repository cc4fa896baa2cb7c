package codec

import (
	"errors"
	"strings"
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
	// The element list opens at the first top-level "(": before it come only
	// CREATE [OR REPLACE] [TEMP] TABLE [IF NOT EXISTS] and the (quoted) name.
	start := -1
	for i, t := range toks {
		if t.kind == tokPunct && t.text == "(" {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, errors.New("no column list in the table definition")
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
