package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/testutil/fuzzseed"
	"github.com/openspartan/statsnap/snapshot"
)

// TestWriteFuzzCorpus regenerates the seed corpus of snapshot's
// FuzzParseManifest from a real backup and hand-made hostile manifests.
// It only runs when asked.
func TestWriteFuzzCorpus(t *testing.T) {
	fuzzseed.SkipUnlessAsked(t, "regenerate snapshot/testdata/fuzz/FuzzParseManifest")
	folder, s := testSnapshot(t)
	real, err := os.ReadFile(filepath.Join(folder.Dir, snapshot.ManifestName(s.ID)))
	if err != nil {
		t.Fatal(err)
	}
	legacy := `{
  "gamertag": "Chocoboflor",
  "backup_timestamp": "20260201_143025",
  "backup_datetime": "2026-02-01T14:30:25.123456",
  "source_db": "data/players/Chocoboflor/stats.duckdb",
  "compression": "zstd",
  "compression_level": 9,
  "tables": {
    "match_stats": {
      "rows": 1500,
      "file_size_bytes": 2500000,
      "file": "match_stats_20260201_143025.parquet"
    }
  },
  "total_size_bytes": 5000000,
  "total_size_mb": 4.77
}`
	// withFile puts a JSON string literal, written as is, in the file member.
	withFile := func(literal string) string {
		return strings.Replace(legacy, `"match_stats_20260201_143025.parquet"`, literal, 1)
	}
	seeds := map[string]string{
		"real":                string(real),
		"legacy":              legacy,
		"duplicate_key":       strings.Replace(legacy, `"gamertag": "Chocoboflor",`, `"gamertag": "Chocoboflor", "gamertag": "Mallory",`, 1),
		"duplicate_table_key": strings.Replace(legacy, `"rows": 1500,`, `"rows": 1500, "rows": 1,`, 1),
		"deep_nesting":        strings.Replace(legacy, `"total_size_mb": 4.77`, `"x": `+strings.Repeat("[", 100)+strings.Repeat("]", 100), 1),
		"deep_objects":        strings.Replace(legacy, `"total_size_mb": 4.77`, `"x": `+strings.Repeat(`{"a":`, 70)+"1"+strings.Repeat("}", 70), 1),
		"huge_rows":           strings.Replace(legacy, `"rows": 1500`, `"rows": 99999999999999999999999`, 1),
		"huge_float":          strings.Replace(legacy, `"total_size_mb": 4.77`, `"total_size_mb": 1e400`, 1),
		"negative_rows":       strings.Replace(legacy, `"rows": 1500`, `"rows": -1`, 1),
		"fraction_rows":       strings.Replace(legacy, `"rows": 1500`, `"rows": 1.5`, 1),
		"invalid_utf8":        strings.Replace(legacy, `"Chocoboflor"`, "\"Choco\xff\xfeflor\"", 1),
		"invalid_utf8_file":   withFile("\"match\xc3\x28_20260201_143025.parquet\""),
		"traversal":           withFile(`"../../etc/passwd"`),
		"absolute":            withFile(`"/etc/passwd"`),
		"backslash":           withFile(`"..\\..\\windows\\win.ini"`),
		"hidden":              withFile(`".statsnap.lock"`),
		"nul":                 withFile(`"a\u0000b_20260201_143025.parquet"`),
		"empty_file":          withFile(`""`),
		"escaped_traversal":   withFile(`"\u002e\u002e\u002fetc\u002fpasswd"`),
		"format_3":            strings.Replace(string(real), `"format_version": 2`, `"format_version": 3`, 1),
		"format_negative":     strings.Replace(string(real), `"format_version": 2`, `"format_version": -1`, 1),
		"null_tables":         strings.Replace(legacy, `"tables": {`, `"tables": null, "t": {`, 1),
		"null_entry":          `{"tables": {"a": null}}`,
		"trailing":            legacy + `{}`,
		"not_object":          `[1,2,3]`,
		"empty":               ``,
		"escapes":             strings.Replace(legacy, `"Chocoboflor"`, `"\u0000\u2028\ud800<>&"`, 1),
	}
	// skipped_tables: a partial snapshot parses; a hostile list (a table
	// it also holds, a NUL in a name, no reason) does not.
	skipped := func(list string) string {
		return strings.Replace(string(real), `"manifest_checksum"`, `"skipped_tables": `+list+`, "manifest_checksum"`, 1)
	}
	seeds["skipped_tables_nul_column"] = skipped(`[{"schema": "main", "name": "imported", "reason": "a column name holds a NUL byte"}]`)
	seeds["skipped_tables_hostile"] = skipped(`[{"schema": "main", "name": "big", "reason": "r"}, {"schema": "ma\u0000in", "name": "x", "reason": ""}]`)
	// Format 2: a table held by several files. Each seed breaks one rule
	// of the files member; the parser must refuse every one.
	parts := func(edit func(files []any, table map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(real, &m); err != nil {
			t.Fatal(err)
		}
		tb := m["tables"].(map[string]any)["big"].(map[string]any)
		files := tb["files"].([]any)
		if len(files) < 2 {
			t.Fatalf("table big has %d files; the seeds need a chunked table", len(files))
		}
		edit(files, tb)
		out, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	part := func(files []any, i int) map[string]any { return files[i].(map[string]any) }
	seeds["parts_future_file"] = parts(func(f []any, _ map[string]any) {
		part(f, 1)["file"] = "big_29991231_235959.parquet"
	})
	seeds["parts_listed_twice"] = parts(func(f []any, _ map[string]any) { f[1] = f[0] })
	seeds["parts_rows_do_not_add_up"] = parts(func(f []any, _ map[string]any) { part(f, 1)["rows"] = 1 })
	seeds["parts_ranges_overlap"] = parts(func(f []any, _ map[string]any) { part(f, 1)["rowid_lo"] = 0 })
	seeds["parts_negative_range"] = parts(func(f []any, _ map[string]any) { part(f, 0)["rowid_hi"] = -5 })
	seeds["parts_traversal"] = parts(func(f []any, _ map[string]any) { part(f, 1)["file"] = "../big_20260201_143025.parquet" })
	seeds["parts_bad_fingerprint"] = parts(func(f []any, _ map[string]any) { part(f, 0)["fingerprint"] = "xyz" })
	seeds["parts_first_not_file"] = parts(func(f []any, tb map[string]any) { f[0], f[1] = f[1], f[0] })
	seeds["parts_huge_size"] = parts(func(f []any, _ map[string]any) {
		part(f, 0)["file_size_bytes"] = json.Number("9223372036854775807")
	})
	// The target lives in package snapshot, which links no DuckDB, so that
	// fuzzing builds fast; the real manifest needs a real backup, made here.
	fuzzseed.Write(t, filepath.Join("..", "snapshot", "testdata", "fuzz", "FuzzParseManifest"), seeds)
}
