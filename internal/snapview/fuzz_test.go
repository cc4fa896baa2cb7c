package snapview_test

import (
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/snapview"
	"github.com/openspartan/statsnap/snapshot"
)

// skeleton is a script with its comments removed and every quoted
// identifier and string literal replaced by Q: what is left is the SQL the
// script runs, which no name from a manifest may change.
func skeleton(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return b.String(), true
			}
			i += j + 1
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			j := i + 1
			for {
				if j >= len(s) {
					return "", false // unterminated
				}
				if s[j] == q {
					if j+1 < len(s) && s[j+1] == q {
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString("Q")
			i = j + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), true
}

// FuzzScript: whatever a manifest names its schema, table, column and
// encoding, the script either refuses it or runs exactly the statements
// statsnap writes, with the names only inside quotes.
func FuzzScript(f *testing.F) {
	f.Add("main", "match_stats", "match_id", "", "VARCHAR")
	f.Add("extra", "a\nb", "c\"d", "", "VARCHAR")
	f.Add("main", "x'; DROP TABLE t; --", "-- c\nSELECT 1;", "", "VARCHAR")
	f.Add("s\u2028", "t\r", "big", "hugeint-text", "HUGEINT")
	f.Add("main", "t", "span", "interval-struct", "INTERVAL")
	f.Add("main", "t", "l", "nested-v1", `STRUCT("a""b" HUGEINT, "c" INTERVAL[])`)
	f.Add("main", "t", "e", "", "ENUM('a', 'b''c')")
	f.Add("main", "t", "x", "", "VARCHAR); DROP TABLE t; --")
	f.Fuzz(func(t *testing.T, schema, name, col, enc, typ string) {
		m := &snapshot.Manifest{BackupTimestamp: "20261101_030000", Gamertag: "p\n; DROP", FormatVersion: 2,
			Tables: map[string]*snapshot.Table{"k\n": {
				Schema: schema, Name: name, Rows: 1, File: "t_20261101_030000.parquet",
				Columns: []snapshot.Column{{Name: col, Type: typ, Encoding: enc}},
			}}}
		script, err := snapview.Script(m, nil, func(n string) string { return "/b/'x/" + n })
		if err != nil {
			return
		}
		if strings.ContainsRune(script, 0) {
			t.Fatalf("a NUL byte in the script:\n%q", script)
		}
		sk, ok := skeleton(script)
		if !ok {
			t.Fatalf("unterminated quote in:\n%s", script)
		}
		sk = strings.TrimSpace(sk)
		sk = strings.TrimPrefix(sk, "CREATE SCHEMA IF NOT EXISTS Q;")
		sk = strings.TrimSpace(sk)
		// A column is selected by its quoted name, renamed to it; one whose
		// name holds a NUL, which SQL cannot spell, by a COLUMNS lambda
		// comparing names with a literal built around chr(0), which keeps
		// the column's own name.
		end := " AS Q FROM read_parquet([Q]);"
		if strings.ContainsRune(col, 0) {
			end = " FROM read_parquet([Q]);"
			if !strings.Contains(sk, "COLUMNS(lambda __statsnap_c: __statsnap_c = (Q || chr(0) ||") {
				t.Fatalf("a NUL name not selected by its lambda:\n%s\nskeleton:\n%s", script, sk)
			}
		}
		if !strings.HasPrefix(sk, "CREATE OR REPLACE VIEW Q.Q AS SELECT ") || !strings.HasSuffix(sk, end) {
			t.Fatalf("statements changed by a name:\n%s\nskeleton:\n%s", script, sk)
		}
		if strings.Count(sk, ";") != 1 {
			t.Fatalf("more than one statement:\n%s\nskeleton:\n%s", script, sk)
		}
	})
}

// FuzzCheckFile: a name CheckFile accepts is a plain Parquet file name of
// a snapshot, without a glob character.
func FuzzCheckFile(f *testing.F) {
	f.Add("match_stats_20261101_030000.parquet")
	f.Add("a*_20261101_030000.parquet")
	f.Add("../a_20261101_030000.parquet")
	f.Add("a_20261101_030000.1.parquet")
	f.Fuzz(func(t *testing.T, name string) {
		if snapview.CheckFile(name) != nil {
			return
		}
		if strings.ContainsAny(name, "*?[]{}/\\\x00\n") || strings.HasPrefix(name, ".") {
			t.Fatalf("CheckFile accepted %q", name)
		}
		if k, _ := snapshot.Classify(name); k != snapshot.KindParquet {
			t.Fatalf("CheckFile accepted %q, which is no Parquet file name", name)
		}
	})
}
