package snapshot

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenManifest is a manifest with every member of format version 2 set,
// the way backup writes one (tool and DuckDB versions fixed).
func goldenManifest() *Manifest {
	cols := []Column{
		{Name: "match_id", Type: "VARCHAR"},
		{Name: "duration", Type: "INTERVAL", Encoding: "interval-struct"},
		{Name: "score", Type: "HUGEINT", Encoding: "hugeint-string"},
		{Name: "total", Type: "INTEGER", Generated: true},
	}
	return &Manifest{
		Gamertag:         "Chocoboflor",
		BackupTimestamp:  "20260201_143025",
		BackupDatetime:   "2026-02-01T14:30:25.123456+01:00",
		SourceDB:         "data/players/Chocoboflor/stats.duckdb",
		Compression:      "zstd",
		CompressionLevel: 9,
		Tables: map[string]*Table{
			"match_stats": {
				Rows: 500, FileSizeBytes: 123456, File: "match_stats_20260125_143025.parquet",
				Schema: "main", Name: "match_stats",
				BLAKE3: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
				Files: []Part{
					{File: "match_stats_20260125_143025.parquet", Rows: 400, FileSizeBytes: 100000, RowidLo: 0, RowidHi: 2048,
						BLAKE3:      "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
						Fingerprint: "0123456789abcdef0123456789abcdef"},
					{File: "match_stats_20260201_143025.parquet", Rows: 100, FileSizeBytes: 23456, RowidLo: 2048, RowidHi: 4096,
						BLAKE3:      "1111111111111111111111111111111111111111111111111111111111111111",
						Fingerprint: "fedcba9876543210fedcba9876543210"},
				},
				Fingerprint:        "fedcba9876543210fedcba9876543210",
				Shape:              "2222222222222222222222222222222222222222222222222222222222222222",
				FingerprintVersion: 2,
				CreateSQL:          `CREATE TABLE match_stats(match_id VARCHAR PRIMARY KEY, duration INTERVAL, score HUGEINT, total INTEGER GENERATED ALWAYS AS (1) VIRTUAL);`,
				Columns:            cols,
				ArrowSchema: &ArrowSchema{
					Fields: []Field{
						{Name: "match_id", Type: "utf8", Nullable: false},
						{Name: "duration", Type: "struct", Nullable: true, Children: []Field{
							{Name: "months", Type: "int32", Nullable: true},
							{Name: "days", Type: "int32", Nullable: true},
							{Name: "micros", Type: "int64", Nullable: true},
						}},
						{Name: "score", Type: "utf8", Nullable: true},
					},
					IPC: "/////w==",
				},
			},
			"stats.medals": {
				Rows: 0, FileSizeBytes: 321, File: "stats.medals_20260201_143025.parquet",
				Schema: "stats", Name: "medals",
				BLAKE3:      "0000000000000000000000000000000000000000000000000000000000000000",
				CreateSQL:   `CREATE TABLE stats.medals(id BIGINT DEFAULT(nextval('stats.medal_id')));`,
				Columns:     []Column{{Name: "id", Type: "BIGINT"}},
				ArrowSchema: &ArrowSchema{Fields: []Field{{Name: "id", Type: "int64", Nullable: true}}, IPC: "AAAA"},
			},
		},
		TotalSizeBytes: 123777,
		TotalSizeMB:    0.12,
		FormatVersion:  FormatVersion,
		ToolVersion:    "0.1.0",
		DuckDBVersion:  "v1.5.6",
		StorageVersion: "v1.5.0",
		HashAlgorithm:  "blake3",
		TableOrder:     []string{"match_stats", "stats.medals"},
		Schemas:        []Object{{Kind: "schema", Schema: "stats", Name: "stats", SQL: "CREATE SCHEMA stats;"}},
		Types:          []Object{{Kind: "type", Schema: "main", Name: "mood", SQL: `CREATE TYPE "main"."mood" AS ENUM('sad', 'ok');`}},
		Sequences: []Sequence{{Schema: "stats", Name: "medal_id", Next: 42, Increment: 1,
			SQL: `CREATE SEQUENCE "stats"."medal_id" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START 42 NO CYCLE;`}},
		Indexes:  []Object{{Kind: "index", Schema: "main", Name: "by_score", Table: "match_stats", SQL: "CREATE INDEX by_score ON match_stats(score);"}},
		Views:    []Object{{Kind: "view", Schema: "main", Name: "recent", SQL: "CREATE VIEW recent AS SELECT * FROM match_stats;"}},
		Macros:   []Object{{Kind: "macro", Schema: "main", Name: "twice", SQL: `CREATE MACRO "main"."twice"(x) AS (x * 2);`}},
		Comments: []Object{{Kind: "comment", Schema: "main", Name: "match_stats", SQL: `COMMENT ON TABLE "main"."match_stats" IS 'one row per match';`}},
	}
}

// TestManifestGolden: the JSON of a full manifest is exactly
// testdata/manifest.golden.json, so that no change to the types (or to
// anything they are built from) changes the on-disk format unnoticed; and
// the golden file parses back to the same manifest. After a deliberate
// format change: go test ./snapshot -run TestManifestGolden -update.
func TestManifestGolden(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	got, err := Marshal(goldenManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the manifest format changed (run with -update if that is deliberate):\ngot:\n%s\nwant:\n%s", got, want)
	}
	p, err := ParseManifest(want)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := p.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if p.Checksum != Checksum(canon) {
		t.Error("the golden manifest's checksum does not match its canonical form")
	}
	if mac, err := MAC(key, canon); err != nil || mac != p.MAC {
		t.Errorf("the golden manifest's MAC does not match: %v", err)
	}
	back := goldenManifest()
	back.Checksum, back.MAC = p.Checksum, p.MAC
	if !reflect.DeepEqual(p.Manifest, back) {
		t.Errorf("the golden file parses to another manifest:\n%+v\nwant\n%+v", p.Manifest, back)
	}
}
