package snapshot

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/testutil/fuzzseed"
)

func testManifest() *Manifest {
	return &Manifest{
		Gamertag: "Chocobo Flör", BackupTimestamp: "20260201_143025",
		BackupDatetime: "2026-02-01T14:30:25.123456+01:00", SourceDB: "data/players/x/stats.duckdb",
		Compression: "zstd", CompressionLevel: 9,
		Tables: map[string]*Table{"t": {Rows: 3, FileSizeBytes: 10, File: "t_20260201_143025.parquet",
			Schema: "main", Name: "t", BLAKE3: strings.Repeat("ab", 32)}},
		TableOrder: []string{"t"}, FormatVersion: FormatVersion, HashAlgorithm: "blake3",
	}
}

func TestManifestChecksumDetectsEdits(t *testing.T) {
	raw, err := Marshal(testManifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if Checksum(mustCanon(t, p)) != p.Checksum {
		t.Fatal("fresh manifest does not match its checksum")
	}
	for _, edit := range [][2]string{
		{`"rows": 3`, `"rows": 4`},
		{`"source_db": "data/players/x/stats.duckdb"`, `"source_db": "elsewhere"`},
		{`+01:00`, `+02:00`},
		{`"gamertag": "Chocobo Flör"`, `"gamertag": "Chocobo Flor"`},
	} {
		edited := bytes.Replace(raw, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(edited, raw) {
			t.Fatalf("edit %q did not apply", edit[0])
		}
		p, err := ParseManifest(edited)
		if err != nil {
			t.Fatalf("edit %q: %v", edit[0], err)
		}
		if Checksum(mustCanon(t, p)) == p.Checksum {
			t.Errorf("edit %q not detected by the checksum", edit[0])
		}
	}
	// Whitespace and key order are not edits.
	p2, err := ParseManifest(bytes.ReplaceAll(raw, []byte("\n  "), []byte("\n")))
	if err != nil || Checksum(mustCanon(t, p2)) != p2.Checksum {
		t.Errorf("reformatting broke the checksum: %v", err)
	}
}

func TestManifestMAC(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	raw, err := Marshal(testManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParseManifest(raw)
	if mac, _ := MAC(key, mustCanon(t, p)); mac != p.MAC || p.MAC == "" {
		t.Fatal("MAC does not verify with its key")
	}
	if mac, _ := MAC(bytes.Repeat([]byte{8}, KeySize), mustCanon(t, p)); mac == p.MAC {
		t.Fatal("MAC verifies with another key")
	}
}

func TestParseManifestRefuses(t *testing.T) {
	good, _ := Marshal(testManifest(), nil)
	cases := map[string][]byte{
		"duplicate key":   []byte(`{"tables": {}, "tables": {"x": {"file": "../x"}}}`),
		"escaped dup key": []byte(`{"tables": {}, "\u0074ables": {"x": {"file": "../x"}}}`),
		"nested dup key":  []byte(`{"tables": {"t": {"rows": 1, "rows": 2}}}`),
		"deep nesting":    []byte(strings.Repeat("[", 200) + strings.Repeat("]", 200)),
		"invalid utf-8":   append([]byte(`{"gamertag": "`), 0xff, '"', '}'),
		"dotdot file":     bytes.Replace(good, []byte(`"t_20260201_143025.parquet"`), []byte(`"../../etc/passwd"`), 1),
		"absolute file":   bytes.Replace(good, []byte(`"t_20260201_143025.parquet"`), []byte(`"/etc/passwd"`), 1),
		"hidden file":     bytes.Replace(good, []byte(`"t_20260201_143025.parquet"`), []byte(`".statsnap.lock"`), 1),
		"huge rows":       bytes.Replace(good, []byte(`"rows": 3`), []byte(`"rows": 99999999999999999999999`), 1),
		"negative rows":   bytes.Replace(good, []byte(`"rows": 3`), []byte(`"rows": -3`), 1),
		"bad hash":        bytes.Replace(good, []byte(strings.Repeat("ab", 32)), []byte("zz"), 1),
		"key mismatch":    bytes.Replace(good, []byte(`"name": "t"`), []byte(`"name": "u"`), 1),
		"trailing object": append(append([]byte{}, good...), []byte(`{}`)...),
		"not an object":   []byte(`[1,2]`),
	}
	for name, raw := range cases {
		if _, err := ParseManifest(raw); !errors.Is(err, ErrManifestCorrupt) {
			t.Errorf("%s: got %v, want ErrManifestCorrupt", name, err)
		}
	}
	future := bytes.Replace(good, []byte(`"format_version": 2`), []byte(`"format_version": 99`), 1)
	if _, err := ParseManifest(future); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("future format: %v", err)
	}
}

func TestParseLegacyManifest(t *testing.T) {
	// The manifest the seed's backup_player.py wrote, kept as a seed of
	// FuzzParseManifest (verify's TestWriteFuzzCorpus writes it).
	seed := fuzzseed.Read(t, filepath.Join("testdata", "fuzz", "FuzzParseManifest", "legacy"))
	p, err := ParseManifest(seed)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Legacy() || p.Tables["match_stats"].Rows != 1500 {
		t.Fatalf("legacy manifest misread: %+v", p.Manifest)
	}
	if tm, err := ParseDatetime(p.BackupDatetime); err != nil || tm.Hour() != 14 {
		t.Fatalf("legacy datetime: %v %v", tm, err)
	}
}

func mustCanon(t testing.TB, p *Parsed) []byte {
	t.Helper()
	c, err := p.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDuplicateKeysAreNamed(t *testing.T) {
	for _, raw := range []string{
		`{"tables": {}, "tables": {}}`,
		`{"tables": {}, "\u0074ables": {}}`,
		`{"tables": {"t": {"rows": 1, "rows": 2}}}`,
		`{"a": [{"k": 1, "k": 2}]}`,
	} {
		if err := checkStructure([]byte(raw)); err == nil || !strings.Contains(err.Error(), "duplicate key") {
			t.Errorf("%s: %v", raw, err)
		}
	}
	for _, raw := range []string{
		`{"a": {"k": 1}, "b": {"k": 1}}`,
		`{"a": ["k", "k"], "s": "\"k\""}`,
		`{"k\\": 1, "k": 2}`,
	} {
		if err := checkStructure([]byte(raw)); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// TestSkippedTables: skipped_tables survives a round trip, and a hostile
// list (empty or NUL names, a table the snapshot holds, a name twice, no
// or an oversized reason, in a seed-made manifest) is refused on parse.
func TestSkippedTables(t *testing.T) {
	m := testManifest()
	m.Skipped = []SkippedTable{{Schema: "raw", Name: "imports", Reason: "left out at the user's request (--skip-table)"}}
	raw, err := Marshal(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Partial() || p.Skipped[0].Key() != "raw.imports" {
		t.Fatalf("skipped %+v", p.Skipped)
	}
	for name, bad := range map[string][]SkippedTable{
		"empty name":  {{Schema: "main", Name: "", Reason: "r"}},
		"NUL name":    {{Schema: "main", Name: "a\x00b", Reason: "r"}},
		"held table":  {{Schema: "main", Name: "t", Reason: "r"}},
		"twice":       {{Schema: "main", Name: "x", Reason: "r"}, {Schema: "main", Name: "x", Reason: "r"}},
		"no reason":   {{Schema: "main", Name: "x"}},
		"long reason": {{Schema: "main", Name: "x", Reason: strings.Repeat("r", MaxSkipReason+1)}},
	} {
		m := testManifest()
		m.Skipped = bad
		raw, err := Marshal(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(raw); !errors.Is(err, ErrManifestCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	legacy := []byte(`{"gamertag": "g", "tables": {}, "skipped_tables": [{"schema": "main", "name": "x", "reason": "r"}]}`)
	if _, err := ParseManifest(legacy); !errors.Is(err, ErrManifestCorrupt) {
		t.Errorf("legacy manifest with skipped_tables: err = %v", err)
	}
}
