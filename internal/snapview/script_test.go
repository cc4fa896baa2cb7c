package snapview_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/snapview"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// The script's views show every table of a real snapshot exactly as the
// source database holds it: encoded columns decoded, a table in two files
// read in order, hostile names quoted.
func TestScriptViewsMatchSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	weird := "we\"ird\n; DROP TABLE plain; --"
	testutil.WriteDB(t, src,
		`CREATE TABLE plain AS SELECT range AS id, 'row ' || range AS label FROM range(3000)`,
		`CREATE TABLE encoded (id INTEGER, big HUGEINT, span INTERVAL, tz TIMETZ, j JSON, nested STRUCT(h HUGEINT, l INTERVAL[]), total INTEGER GENERATED ALWAYS AS (id * 2))`,
		`INSERT INTO encoded (id, big, span, tz, j, nested) VALUES
			(1, 170141183460469231731687303715884105727, INTERVAL '-3 months 2 days 00:00:01.5', TIMETZ '12:00:00-00:00:01', '{"b":1,"a":2}', {'h': -1, 'l': [INTERVAL 1 DAY, NULL]}),
			(2, NULL, NULL, NULL, NULL, NULL)`,
		`CREATE SCHEMA extra`,
		`CREATE TABLE extra.small AS SELECT range AS id FROM range(10)`,
		`CREATE TABLE `+sqlq.Ident(weird)+` (v VARCHAR)`,
		`INSERT INTO `+sqlq.Ident(weird)+` VALUES ('x')`,
	)
	folderPath := filepath.Join(dir, "backups", "p")
	folder, err := local.OpenFolder(folderPath, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "p", Folder: folder, CompressionLevel: 3,
		Time: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.SplitTable(t, folderPath, res.ID, "plain", 1000, nil)
	m := testutil.ReadManifest(t, folderPath, res.ID)
	if n := len(m.Tables["plain"].DataFiles()); n != 2 {
		t.Fatalf("plain has %d files after the split", n)
	}

	script, err := snapview.Script(m, nil, func(name string) string { return filepath.Join(folderPath, name) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "-- column big (HUGEINT) is stored as hugeint-text and decoded here") {
		t.Errorf("the script does not say how big is stored:\n%s", script)
	}
	if !strings.Contains(script, "-- column total is generated") {
		t.Errorf("the script does not say total is generated:\n%s", script)
	}
	db := testutil.OpenDB(t, ":memory:", true)
	// One statement at a time, as the duckdb shell runs a script.
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("run the script: %v\n%s", err, script)
	}
	// The hostile name stayed one quoted identifier: the script made
	// exactly one view per table and dropped nothing.
	var views int
	if err := db.QueryRow(`SELECT count(*) FROM duckdb_views() WHERE NOT internal`).Scan(&views); err != nil || views != len(m.Tables) {
		t.Fatalf("the script made %d views for %d tables (%v)", views, len(m.Tables), err)
	}
	if _, err := db.Exec("ATTACH " + sqlq.Literal(src) + " AS src (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{
		`main.plain`:                `"id", "label"`,
		`main.encoded`:              `"id", "big", "span", "tz", "j", "nested"`,
		`extra.small`:               `"id"`,
		"main." + sqlq.Ident(weird): `"v"`,
	}
	for view, cols := range tables {
		schema, name, _ := strings.Cut(view, ".")
		qv := sqlq.Ident(schema) + "." + name
		if !strings.HasPrefix(name, `"`) {
			qv = sqlq.Qualified(schema, name)
		}
		for _, q := range []string{
			fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM memory.%s EXCEPT ALL SELECT %s FROM src.%s)", cols, qv, cols, qv),
			fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM src.%s EXCEPT ALL SELECT %s FROM memory.%s)", cols, qv, cols, qv),
		} {
			var n int64
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n != 0 {
				t.Errorf("%s: %d rows differ", q, n)
			}
		}
		var a, b int64
		if err := db.QueryRow("SELECT (SELECT count(*) FROM memory."+qv+"), (SELECT count(*) FROM src."+qv+")").Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a != b || a == 0 {
			t.Errorf("%s: view has %d rows, source %d", view, a, b)
		}
	}
	// Decoded, not merely equal: the view's type is the declared one.
	var typ string
	if err := db.QueryRow(`SELECT data_type FROM duckdb_columns() WHERE database_name = 'memory' AND table_name = 'encoded' AND column_name = 'big'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != "HUGEINT" {
		t.Errorf("the view's big is %s, want HUGEINT", typ)
	}
	// The split table reads in row order.
	var ordered bool
	if err := db.QueryRow(`SELECT bool_and(id = rn - 1) FROM (SELECT id, row_number() OVER () AS rn FROM memory.main.plain)`).Scan(&ordered); err != nil || !ordered {
		t.Errorf("plain does not read in order across its two files: %v %v", ordered, err)
	}
}

func TestCheckFileRefusesUnsafeNames(t *testing.T) {
	for _, name := range []string{
		"../x_20261101_030000.parquet",
		"*_20261101_030000.parquet",
		"a?_20261101_030000.parquet",
		"a[1]_20261101_030000.parquet",
		"{a,b}_20261101_030000.parquet",
		"backup_metadata_20261101_030000.json",
		"x.parquet",
		".hidden_20261101_030000.parquet",
	} {
		if err := snapview.CheckFile(name); !errors.Is(err, snapview.ErrUnsafeFile) {
			t.Errorf("CheckFile(%q) = %v, want ErrUnsafeFile", name, err)
		}
	}
	for _, name := range []string{"match_stats_20261101_030000.parquet", "meta.db_info_20261101_030000.2.parquet", "x-1a2b3c4d_20261101_030000.parquet"} {
		if err := snapview.CheckFile(name); err != nil {
			t.Errorf("CheckFile(%q) = %v", name, err)
		}
	}
	// A legacy entry's file goes through the same check.
	if _, err := snapview.Files(&snapshot.Table{File: "*_20261101_030000.parquet"}); !errors.Is(err, snapview.ErrUnsafeFile) {
		t.Errorf("Files of a glob name: %v", err)
	}
}
