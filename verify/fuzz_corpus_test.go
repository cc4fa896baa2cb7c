package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/snapshot"
)

// TestWriteFuzzCorpus regenerates the seed corpus of snapshot's
// FuzzParseManifest from a real backup and hand-made hostile manifests.
// It only runs when asked.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("STATSNAP_WRITE_CORPUS") == "" {
		t.Skip("set STATSNAP_WRITE_CORPUS=1 to regenerate snapshot/testdata/fuzz/FuzzParseManifest")
	}
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
	// The target lives in package snapshot, which links no DuckDB, so that
	// fuzzing builds fast; the real manifest needs a real backup, made here.
	dir := filepath.Join("..", "snapshot", "testdata", "fuzz", "FuzzParseManifest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(data))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
