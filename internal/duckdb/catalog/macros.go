package catalog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/fsutil"
)

// Execer is what reading macro defaults needs beyond Querier: it attaches
// and exports a scratch catalog. *sql.DB and *sql.Conn satisfy it.
type Execer interface {
	Querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// macroKey names one macro: its schema and name.
type macroKey struct{ schema, name string }

// overload is one parameter list of a macro, as duckdb_functions() lists
// it (one row per overload), with the defaults found for it.
type overload struct {
	params   []string
	defaults []string // "" where the parameter has no default
	def      string   // macro_definition
}

// exportMacroDefaults finds every macro's parameter defaults.
//
// DuckDB 1.5.6's duckdb_functions() lists a macro's parameter names but
// not their defaults, so a macro `f(a, b := 2)` read from it alone comes
// back as `f(a, b)` and the application's `f(1)` fails after a restore.
// The only place DuckDB renders defaults is a macro's own SQL, which
// EXPORT DATABASE writes to schema.sql. Exporting the real database would
// write every row, so its schema alone is copied into an in-memory catalog
// (COPY FROM DATABASE ... (SCHEMA): no rows, about a millisecond) and that
// empty catalog is exported to a private temporary folder.
//
// DuckDB folds defaults to constants when a macro is created
// (`a := current_date` is stored as a DATE literal), so the rendering is
// the catalog's exact value. It writes parameter names unquoted, even
// `"p,q"`; the parameter lists are therefore parsed against the names
// duckdb_functions() gave (see parseMacroParams), never by splitting alone.
func exportMacroDefaults(ctx context.Context, q Execer, known map[macroKey][]*overload, detach bool) error {
	var db string
	if err := q.QueryRowContext(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return fmt.Errorf("current database: %w", err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	scratch := "statsnap_macros_" + hex.EncodeToString(rnd[:])
	tmp, err := fsutil.NewScratch("", "macros")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer func() { _ = tmp.Remove() }()
	out := filepath.Join(tmp.Dir, "export")
	if _, err := q.ExecContext(ctx, "ATTACH ':memory:' AS "+sqlq.Ident(scratch)); err != nil {
		return fmt.Errorf("attach a scratch catalog: %w", err)
	}
	// Inside a transaction the scratch catalog stays attached until the
	// source is closed: DuckDB refuses DETACH there (and would abort the
	// transaction). It holds no rows. On a connection of its own
	// (detach) it is detached once read.
	if detach {
		defer func() { _, _ = q.ExecContext(context.WithoutCancel(ctx), "DETACH "+sqlq.Ident(scratch)) }()
	}
	if _, err := q.ExecContext(ctx, "COPY FROM DATABASE "+sqlq.Ident(db)+" TO "+sqlq.Ident(scratch)+" (SCHEMA)"); err != nil {
		return fmt.Errorf("copy the schema: %w", err)
	}
	if _, err := q.ExecContext(ctx, "EXPORT DATABASE "+sqlq.Ident(scratch)+" TO "+sqlq.Literal(out)); err != nil {
		return fmt.Errorf("export the schema: %w", err)
	}
	schema, err := os.ReadFile(filepath.Join(out, "schema.sql"))
	if err != nil {
		return fmt.Errorf("read the exported schema: %w", err)
	}
	return applyExportedMacros(string(schema), known)
}

// applyExportedMacros fills the defaults of known from the CREATE MACRO
// statements of an exported schema.sql.
//
// The file is read statement by statement. Every statement but a macro's
// is rendered with proper quoting, so it is skipped to its top-level
// semicolon. A macro's parameter list is not (DuckDB writes `p,q` and
// `r"s` raw), so it is parsed against the names duckdb_functions() listed,
// which is what keeps a quote inside a parameter name from derailing the
// rest of the file.
func applyExportedMacros(schemaSQL string, known map[macroKey][]*overload) error {
	s := schemaSQL
	for {
		s = strings.TrimLeft(s, " \t\r\n;")
		if s == "" {
			return nil
		}
		rest, ok := strings.CutPrefix(s, "CREATE MACRO ")
		if !ok {
			s = skipStatement(s)
			continue
		}
		key, rest, err := parseMacroName(rest)
		if err != nil {
			return err
		}
		ovs, ok := known[key]
		if !ok {
			return fmt.Errorf("the export holds macro %s.%s, which duckdb_functions() does not list", key.schema, key.name)
		}
		if s, err = parseMacroOverloads(rest, ovs); err != nil {
			return fmt.Errorf("macro %s.%s: %w", key.schema, key.name, err)
		}
	}
}

// skipStatement returns what follows the top-level semicolon ending the
// statement at the start of s, outside literals and quoted identifiers.
func skipStatement(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			i = skipQuoted(s, i)
		case ';':
			return s[i+1:]
		}
	}
	return ""
}

// skipQuoted returns the index of the quote closing the quoted token that
// starts at i (doubled quotes are escapes), or len(s)-1 when unclosed.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(s) - 1
}

// parseMacroName reads `name` or `schema.name` (each bare or "quoted") up
// to the space before the first parameter list.
func parseMacroName(s string) (macroKey, string, error) {
	var parts []string
	for {
		var part string
		if strings.HasPrefix(s, `"`) {
			end := skipQuoted(s, 0)
			if end <= 0 || s[end] != '"' {
				return macroKey{}, "", errors.New("exported macro name is not closed")
			}
			part = strings.ReplaceAll(s[1:end], `""`, `"`)
			s = s[end+1:]
		} else {
			end := strings.IndexAny(s, ". (")
			if end <= 0 {
				return macroKey{}, "", errors.New("exported macro has no parameter list")
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		if !strings.HasPrefix(s, ".") {
			break
		}
		s = s[1:]
	}
	switch len(parts) {
	case 1:
		return macroKey{"main", parts[0]}, s, nil
	case 2:
		return macroKey{parts[0], parts[1]}, s, nil
	}
	return macroKey{}, "", fmt.Errorf("exported macro name %q has %d parts", strings.Join(parts, "."), len(parts))
}

// parseMacroOverloads reads `(params) AS body, (params) AS body ...` and
// stores each parameter's default in the overload with the same names.
func parseMacroOverloads(s string, ovs []*overload) (string, error) {
	used := make([]bool, len(ovs))
	for n := 0; ; n++ {
		s = strings.TrimLeft(s, " ")
		if s == "" || s[0] == ';' {
			if n != len(ovs) {
				return "", fmt.Errorf("the export has %d overloads, duckdb_functions() %d", n, len(ovs))
			}
			return s, nil
		}
		if n > 0 {
			if !strings.HasPrefix(s, ",") {
				return "", fmt.Errorf("unexpected text after overload %d", n)
			}
			s = strings.TrimLeft(s[1:], " ")
		}
		if !strings.HasPrefix(s, "(") {
			return "", fmt.Errorf("overload %d has no parameter list", n+1)
		}
		// Match this rendering against the listed overloads in order,
		// each used once: DuckDB lists and renders them in the same order,
		// and names alone tell overloads apart where they differ.
		matched := false
		for i, ov := range ovs {
			if used[i] {
				continue
			}
			defaults, rest, ok := parseParams(s[1:], ov.params)
			if !ok {
				continue
			}
			ov.defaults, used[i], matched = defaults, true, true
			s = rest
			break
		}
		if !matched {
			return "", fmt.Errorf("overload %d does not match the parameters DuckDB lists", n+1)
		}
		// Skip " AS body" up to the next top-level comma.
		s = skipBody(s)
	}
}

// parseParams reads `name[ := default], ...)` against the known names and
// returns the defaults and what follows the closing parenthesis. A name is
// matched as DuckDB writes it (raw) or quoted.
func parseParams(s string, names []string) (defaults []string, rest string, ok bool) {
	defaults = make([]string, len(names))
	for i, name := range names {
		if i > 0 {
			if !strings.HasPrefix(s, ", ") {
				return nil, "", false
			}
			s = s[2:]
		}
		switch {
		case strings.HasPrefix(s, sqlq.Ident(name)):
			s = s[len(sqlq.Ident(name)):]
		case strings.HasPrefix(s, name):
			s = s[len(name):]
		default:
			return nil, "", false
		}
		if d, ok := strings.CutPrefix(s, " := "); ok {
			end := exprEnd(d)
			if end <= 0 {
				return nil, "", false
			}
			defaults[i], s = strings.TrimSpace(d[:end]), d[end:]
		}
	}
	if !strings.HasPrefix(s, ")") {
		return nil, "", false
	}
	return defaults, s[1:], true
}

// exprEnd returns the index of the top-level ',' or ')' that ends the
// expression at the start of s, or -1.
func exprEnd(s string) int { return topLevel(s, ",)") }

// skipBody skips " AS [TABLE] body" and returns the text from the next
// top-level comma (the next overload) or semicolon (the statement's end).
func skipBody(s string) string {
	if i := topLevel(s, ",;"); i >= 0 {
		return s[i:]
	}
	return ""
}

// topLevel returns the index of the first byte of stops that stands
// outside literals, quoted identifiers and brackets, or -1. A closing
// bracket at depth 0 is such a byte when stops holds it.
func topLevel(s, stops string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			i = skipQuoted(s, i)
		case depth == 0 && strings.IndexByte(stops, c) >= 0:
			return i
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		}
	}
	return -1
}

// macroSQL renders one CREATE MACRO statement holding every overload, with
// each parameter quoted and its default as DuckDB rendered it.
func macroSQL(key macroKey, table bool, ovs []*overload) string {
	var b strings.Builder
	b.WriteString("CREATE MACRO ")
	b.WriteString(sqlq.Ident(key.schema) + "." + sqlq.Ident(key.name))
	for i, ov := range ovs {
		if i > 0 {
			b.WriteString(", ")
		}
		ps := make([]string, len(ov.params))
		for j, p := range ov.params {
			ps[j] = sqlq.Ident(p)
			if j < len(ov.defaults) && ov.defaults[j] != "" {
				ps[j] += " := " + ov.defaults[j]
			}
		}
		b.WriteString("(" + strings.Join(ps, ", ") + ") AS ")
		if table {
			b.WriteString("TABLE ")
		}
		b.WriteString(ov.def)
	}
	b.WriteString(";")
	return b.String()
}
