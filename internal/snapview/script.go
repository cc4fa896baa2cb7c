package snapview

import (
	"fmt"
	"strings"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// Script returns a DuckDB script with one CREATE VIEW per table of m (the
// ones keys names, in that order; every table when keys is empty), each
// over read_parquet of the table's files in row order, with encoded
// columns decoded so that the view shows the original values. path maps a
// file name of the manifest to the path or URL the script reads.
//
// Nothing of the manifest reaches the script unquoted: identifiers are
// quoted, paths are string literals, and the comments hold only text with
// its control characters replaced.
func Script(m *snapshot.Manifest, keys []string, path func(name string) string) (string, error) {
	if len(keys) == 0 {
		keys = m.Keys()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- statsnap snapshot %s of %s: one view per table over its Parquet files.\n",
		comment(m.BackupTimestamp), comment(m.Gamertag))
	b.WriteString("-- Encoded columns are decoded, so each view shows the values the database held.\n")
	b.WriteString("-- This script does not check the files: run 'statsnap verify' to prove them first.\n")
	schemas := map[string]bool{"main": true}
	for _, key := range keys {
		t, ok := m.Tables[key]
		if !ok {
			return "", fmt.Errorf("snapshot %s has no table %q", m.BackupTimestamp, key)
		}
		schema, name := t.Schema, t.Name
		if schema == "" || name == "" {
			// A seed-made manifest names tables by their key only.
			schema, name = "main", key
		}
		if err := sqlq.Check(schema); err != nil {
			return "", fmt.Errorf("table %q: schema: %w", key, err)
		}
		if err := sqlq.Check(name); err != nil {
			return "", fmt.Errorf("table %q: %w", key, err)
		}
		files, err := Files(t)
		if err != nil {
			return "", fmt.Errorf("table %q: %w", key, err)
		}
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = path(f)
		}
		sel, cols, err := Select(t, paths)
		if err != nil {
			return "", fmt.Errorf("table %q: %w", key, err)
		}
		b.WriteString("\n")
		if !schemas[schema] {
			schemas[schema] = true
			fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", sqlq.Ident(schema))
		}
		fmt.Fprintf(&b, "-- table %s: %d rows in %d %s\n", comment(key), t.Rows, len(files), plural(len(files), "file", "files"))
		for _, c := range cols {
			if c.Encoding != "" {
				fmt.Fprintf(&b, "-- column %s (%s) is stored as %s and decoded here\n", comment(c.Name), comment(c.Type), comment(c.Encoding))
			}
		}
		for _, c := range t.Columns {
			if c.Generated {
				fmt.Fprintf(&b, "-- column %s is generated: it is not stored, so the view lacks it\n", comment(c.Name))
			}
		}
		fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s AS %s;\n", sqlq.Qualified(schema, name), sel)
	}
	return b.String(), nil
}

// comment makes s safe inside a "--" comment: a newline in a table name
// would otherwise end the comment and start a statement.
func comment(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
