package main

// The fidelity suite: databases nobody here designed, built from public
// datasets that .ci/run installs from the package registries
// (scripts/fidelity-data.sh), go through backup, verify, verify --deep
// and restore, and must come back with the same catalog and, table by
// table, the same multiset of rows, compared both by value and exactly
// (as text, so -0.0 and 0.0, or 1 month and 30 days, differ).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
)

// The suite runs statsnap as the real binary, and bounds the DuckDB it
// opens itself to compare: this test process's peak memory is
// what every binary it starts later inherits as its own starting peak
// (Linux carries the parent's high-water mark across vfork and exec),
// and other tests bound the peaks of theirs.
const fidelityMemory = "512MB"

// fidelityOpen opens a DuckDB under the suite's memory limit.
func fidelityOpen(t *testing.T, path string, write bool) *sql.DB {
	t.Helper()
	db := testutil.OpenDB(t, path, write)
	if _, err := db.Exec("SET memory_limit = '" + fidelityMemory + "'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// fidelityEnv names the folder scripts/fidelity-data.sh filled.
const fidelityEnv = "STATSNAP_FIDELITY_DATA"

// fidelityGroups are the databases the suite builds: one per source, each
// table named after its file's path in the package.
var fidelityGroups = []struct {
	name    string   // the database's stem and the snapshot's gamertag
	sources []string // folders under the data folder
	// storage is the database's storage version: DuckDB's default
	// (v1.0.0) keeps the file readable by older versions, but VARIANT
	// columns need v1.5.0.
	storage string
	objects []string // what an application adds on top of the raw tables
	checks  []string // queries the application runs, compared on both sides
	changes []string // what the application changes before the second backup
}{
	{name: "vega", sources: []string{"npm/vega-datasets"}, objects: vegaApp, checks: vegaChecks, changes: vegaChanges},
	{name: "statsmodels", sources: []string{"deb/python3-statsmodels"}},
	{name: "sklearn-pandas", sources: []string{"deb/python3-sklearn", "deb/python3-pandas"}},
	{name: "parquet-go", sources: []string{"go/github.com/parquet-go/parquet-go"}, storage: "v1.5.0"},
	{name: "arrow-minio", sources: []string{"go/github.com/apache/arrow-go/v18", "go/github.com/minio/minio"}},
}

// fidelityUnloadable lists the files DuckDB 1.5.6 itself refuses to read,
// each with why: they make no table, so statsnap never sees them. A file
// missing from this list that fails to load fails the suite, and so does
// a listed file that loads.
var fidelityUnloadable = map[string]string{
	"go/github.com/parquet-go/parquet-go/testdata/malformed/negative_page_size.parquet": "deliberately malformed (a page header declares a negative size): DuckDB refuses it with \"Page sizes must be >= 0\"",
}

// vegaApp is what an application would build over the raw vega tables:
// a schema, ENUM types, a sequence feeding a primary key, constraints, an
// index, views, macros with defaults, a table macro, a macro calling
// another, and comments.
var vegaApp = []string{
	`CREATE SCHEMA app`,
	`CREATE TYPE app.species AS ENUM (SELECT DISTINCT "Species" FROM "penguins.json" WHERE "Species" IS NOT NULL ORDER BY 1)`,
	`CREATE TYPE weather_kind AS ENUM (SELECT DISTINCT weather FROM "seattle-weather.csv" WHERE weather IS NOT NULL ORDER BY 1)`,
	`CREATE SEQUENCE app.penguin_id START 1000 INCREMENT 7`,
	`CREATE TABLE app.penguins (
		id BIGINT PRIMARY KEY DEFAULT nextval('app.penguin_id'),
		species app.species NOT NULL,
		island VARCHAR,
		body_mass_g INTEGER CHECK (body_mass_g IS NULL OR body_mass_g > 0),
		sex VARCHAR DEFAULT 'unknown'
	)`,
	`INSERT INTO app.penguins (species, island, body_mass_g, sex)
		SELECT "Species", "Island", TRY_CAST("Body Mass (g)" AS INTEGER), coalesce("Sex", 'unknown') FROM "penguins.json" WHERE "Species" IS NOT NULL`,
	`CREATE INDEX penguins_island ON app.penguins (island)`,
	`CREATE TABLE app.weather AS SELECT date, CAST(weather AS weather_kind) AS kind, precipitation, temp_max, temp_min, wind FROM "seattle-weather.csv"`,
	`COMMENT ON TABLE app.penguins IS 'one row per penguin, from penguins.json'`,
	`COMMENT ON COLUMN app.penguins.body_mass_g IS 'grams'`,
	`CREATE MACRO app.kg(g, digits := 1) AS round(g / 1000.0, digits)`,
	`CREATE MACRO app.heavy(min_g := 5000) AS TABLE SELECT * FROM app.penguins WHERE body_mass_g >= min_g`,
	`CREATE MACRO app.heavy_kg(min_g := 5000) AS TABLE SELECT id, app.kg(body_mass_g) AS kg FROM app.heavy(min_g := min_g)`,
	`CREATE VIEW app.penguin_summary AS SELECT species, island, count(*) AS n, avg(body_mass_g) AS mean_g FROM app.penguins GROUP BY ALL`,
	`CREATE VIEW app.stock_peaks AS SELECT symbol, max(price) AS peak FROM "stocks.csv" GROUP BY symbol`,
	`CREATE VIEW app.rainy AS SELECT * FROM app.weather WHERE kind = 'rain'`,
	`CREATE VIEW app.rainy_months AS SELECT date_trunc('month', date) AS month, count(*) AS days FROM app.rainy GROUP BY ALL`,
	`CREATE VIEW app.penguins_kg AS SELECT id, app.kg(body_mass_g, 2) AS kg FROM app.penguins`,
	`COMMENT ON VIEW app.rainy IS 'days of rain in Seattle'`,
	`COMMENT ON MACRO app.kg IS 'grams to kilograms'`,
	// A child table: a foreign key, a generated column, a composite UNIQUE.
	`CREATE TABLE app.weighings (
		penguin_id BIGINT NOT NULL REFERENCES app.penguins (id),
		grams INTEGER NOT NULL,
		kg DOUBLE GENERATED ALWAYS AS (grams / 1000.0),
		UNIQUE (penguin_id, grams)
	)`,
	`INSERT INTO app.weighings (penguin_id, grams) SELECT id, body_mass_g FROM app.penguins WHERE body_mass_g IS NOT NULL`,
	// The flights as an application would type them: every family of
	// DuckDB type, over real values (delay times -0.0 is -0.0 for every
	// delayed flight).
	`CREATE TABLE app.flights AS SELECT
		CAST(md5(origin || destination || CAST(rowid AS VARCHAR)) AS UUID) AS id,
		timezone('UTC', date) AS departed,
		CAST(date AS TIMESTAMP_NS) AS departed_ns, CAST(date AS TIMESTAMP_MS) AS departed_ms, CAST(date AS TIMESTAMP_S) AS departed_s,
		CAST(date AS DATE) AS day, CAST(date AS TIME) AS at, CAST(timezone('UTC', date) AS TIMETZ) AS at_tz,
		to_minutes(delay) AS delay, to_months(CAST(delay AS INTEGER) % 5) - to_days(distance % 40) AS odd_interval,
		CAST(distance AS DECIMAL(9, 2)) / 7 AS distance_dec, CAST(distance AS DECIMAL(38, 10)) * 1e20 AS distance_wide,
		CAST(distance AS HUGEINT) * CAST(1e30 AS HUGEINT) AS huge, CAST(distance AS UHUGEINT) AS uhuge,
		CAST(distance AS USMALLINT) AS distance_u16, TRY_CAST(delay AS TINYINT) AS delay_i8, CAST(distance AS UINTEGER) AS distance_u32,
		CAST(delay AS FLOAT) / 7 AS delay_f32, delay * CAST('-0.0' AS DOUBLE) AS signed_zero, CAST(delay AS DOUBLE) / 3 AS delay_f64,
		CAST(origin AS BLOB) AS origin_bytes, CAST(CAST(distance % 256 AS UTINYINT) AS BIT) AS distance_bits,
		{'origin': origin, 'destination': destination} AS route, MAP {origin: delay} AS delay_by_origin,
		[delay, distance] AS pair, CAST([delay, distance] AS INTEGER[2]) AS pair_fixed,
		CASE WHEN delay > 0 THEN CAST(delay AS UNION(late BIGINT, note VARCHAR)) ELSE CAST('on time' AS UNION(late BIGINT, note VARCHAR)) END AS status,
		CAST(CAST(delay AS VARCHAR) || repeat('0', 40) AS BIGNUM) AS delay_bignum
	FROM "flights-3m.parquet" WHERE rowid < 20000`,
}

// vegaChecks are the application's queries: each must give the same
// answer on the source and on the restored database.
var vegaChecks = []string{
	`SELECT app.kg(4250), app.kg(4250, 2)`,
	`SELECT count(*), sum(kg) FROM app.heavy_kg()`,
	`SELECT count(*) FROM app.heavy(min_g := 4000)`,
	`SELECT * FROM app.penguin_summary ORDER BY ALL`,
	`SELECT * FROM app.stock_peaks ORDER BY ALL`,
	`SELECT count(*) FROM app.rainy`,
	`SELECT nextval('app.penguin_id')`,
	`INSERT INTO app.penguins (species, island) VALUES ('Adelie', 'Biscoe') RETURNING id, sex`,
	`SELECT enum_range(NULL::app.species)`,
}

// vegaChanges is a week of the application's work on the vega database:
// rows deleted, updated and added in a big table and an app table, one
// table dropped and one created. The other tables stay as they were.
var vegaChanges = []string{
	`DELETE FROM "flights-3m.parquet" WHERE rowid BETWEEN 1000000 AND 1000500`,
	`INSERT INTO "flights-3m.parquet" SELECT * FROM "flights-3m.parquet" WHERE rowid < 300`,
	// (An UPDATE of app.penguins would be refused by DuckDB itself: a
	// row a foreign key references cannot be updated.)
	`UPDATE app.weather SET precipitation = precipitation + 0.5, kind = 'drizzle' WHERE kind = 'rain' AND day(date) = 1`,
	`DELETE FROM app.weighings WHERE grams < 3000`,
	`INSERT INTO app.penguins (species, island, body_mass_g) VALUES ('Gentoo', 'Biscoe', 5100), ('Chinstrap', 'Dream', NULL)`,
	`DROP TABLE "anscombe.json"`,
	`CREATE TABLE app.rain_days AS SELECT date, precipitation FROM app.weather WHERE kind = 'rain'`,
}

// fidelityData returns the data folder, or skips the test (fails it under
// CI=true, where .ci/run installs the data) when it is missing.
func fidelityData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(fidelityEnv)
	why := fidelityEnv + " is not set"
	if dir != "" {
		why = ""
		if _, err := os.Stat(filepath.Join(dir, "SOURCES")); err != nil {
			why = fmt.Sprintf("%s holds no SOURCES (%v)", dir, err)
		}
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: .ci/run installs the datasets with scripts/fidelity-data.sh", why)
		}
		t.Skipf("%s; run ./scripts/fidelity-data.sh DIR and set %s=DIR to run the fidelity suite", why, fidelityEnv)
	}
	return dir
}

// fidelityFile is one data file and the table it becomes.
type fidelityFile struct {
	rel, path, table string
}

// fidelityFiles lists the data files under the group's sources, sorted,
// with unique table names (DuckDB's names ignore case).
func fidelityFiles(t *testing.T, data string, sources []string) []fidelityFile {
	t.Helper()
	var out []fidelityFile
	seen := map[string]bool{}
	for _, src := range sources {
		root := filepath.Join(data, src)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(data, p)
			table, _ := filepath.Rel(root, p)
			for n := 2; seen[strings.ToLower(table)]; n++ {
				table = fmt.Sprintf("%s#%d", strings.TrimSuffix(table, fmt.Sprintf("#%d", n-1)), n)
			}
			seen[strings.ToLower(table)] = true
			out = append(out, fidelityFile{rel: filepath.ToSlash(rel), path: p, table: filepath.ToSlash(table)})
			return nil
		})
		if err != nil {
			t.Fatalf("list %s: %v", root, err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no data files under %v in %s: run ./scripts/fidelity-data.sh again", sources, data)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// fidelityReader is the table function DuckDB reads a file with.
func fidelityReader(path string) string {
	lit := sqlq.Literal(path)
	switch {
	case strings.HasSuffix(path, ".parquet"):
		return "read_parquet(" + lit + ")"
	case strings.HasSuffix(path, ".json"):
		return "read_json_auto(" + lit + ", maximum_object_size = 67108864)"
	default: // .csv, .tsv, .csv.gz
		return "read_csv_auto(" + lit + ")"
	}
}

// fidelityBuild creates the group's database: one table per file DuckDB
// reads, then the application's objects. It returns the tables made.
func fidelityBuild(t *testing.T, db, storage string, files []fidelityFile, objects []string) []fidelityFile {
	t.Helper()
	// No memory limit here: DuckDB's accounting refuses the widest CSV
	// (20,190 columns) under 1 GB, though it reads it in about 640 MB.
	dsn := db
	if storage != "" {
		dsn += "?storage_compatibility_version=" + storage
	}
	conn, err := sql.Open("duckdb", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var made []fidelityFile
	for _, f := range files {
		_, err := conn.Exec("CREATE TABLE " + sqlq.Ident(f.table) + " AS SELECT * FROM " + fidelityReader(f.path))
		why, listed := fidelityUnloadable[f.rel]
		switch {
		case err != nil && !listed:
			t.Errorf("DuckDB cannot load %s (add it to fidelityUnloadable with the reason if that is DuckDB's own limit): %v", f.rel, err)
		case err == nil && listed:
			t.Errorf("%s loads now; remove it from fidelityUnloadable (%s)", f.rel, why)
			made = append(made, f)
		case err == nil:
			made = append(made, f)
		}
	}
	for _, q := range objects {
		if _, err := conn.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	return made
}

// TestFidelityPublicDatasets: every table of databases built from public
// datasets backs up, verifies (hash and --deep) and restores into a new
// file with the same catalog and the same rows. The vega database then
// changes as an application's would and goes round again through an
// incremental backup, which shares the files of unchanged tables.
func TestFidelityPublicDatasets(t *testing.T) {
	data := fidelityData(t)
	defer func() {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			t.Logf("peak memory of the test process: %d MiB", ru.Maxrss>>10)
		}
	}()
	for _, g := range fidelityGroups {
		t.Run(g.name, func(t *testing.T) {
			start := time.Now()
			dir := t.TempDir()
			src := filepath.Join(dir, g.name+".duckdb")
			tables := fidelityBuild(t, src, g.storage, fidelityFiles(t, data, g.sources), g.objects)
			t.Logf("%d tables from %d files of %v in %v; column types: %s", countTables(t, src), len(tables), g.sources,
				time.Since(start).Round(time.Millisecond), fidelityTypes(t, src))
			first := fidelityRound(t, dir, src, g.name, g.checks)
			if len(g.changes) == 0 {
				return
			}
			conn := fidelityOpen(t, src, true)
			for _, q := range g.changes {
				if _, err := conn.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			conn.Close()
			second := fidelityRound(t, dir, src, g.name, g.checks)
			if second.Base != first.Snapshot || second.SharedFiles == 0 || second.NewFiles == 0 {
				t.Errorf("the second backup (base %q, %d files shared, %d new) should share the unchanged files of %s and write the changed ones",
					second.Base, second.SharedFiles, second.NewFiles, first.Snapshot)
			}
		})
	}
}

// fidelitySnapshot is what the suite reads of backup's JSON.
type fidelitySnapshot struct {
	Snapshot    string                     `json:"snapshot"`
	Tables      map[string]json.RawMessage `json:"tables"`
	Base        string                     `json:"base"`
	NewFiles    int                        `json:"new_files"`
	SharedFiles int                        `json:"shared_files"`
}

// fidelityRound backs up src as gamertag, verifies the snapshot by hash
// and --deep, restores it into a new file and compares that with src:
// catalog, rows as text, and the application's queries.
func fidelityRound(t *testing.T, dir, src, gamertag string, checks []string) fidelitySnapshot {
	t.Helper()
	start := time.Now()
	phase := func(what string) {
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}
	want := countTables(t, src)
	r := binCLI(t, dir, nil, "backup", "--db", src, "--gamertag", gamertag, "--json")
	if r.Code != 0 {
		t.Fatalf("backup: exit %d: %s", r.Code, r.Stderr)
	}
	var doc struct {
		Snapshots []fidelitySnapshot `json:"snapshots"`
	}
	jsonOut(t, r, &doc)
	if len(doc.Snapshots) != 1 || len(doc.Snapshots[0].Tables) != want {
		t.Fatalf("backup wrote %d snapshots; want 1 of %d tables: %s", len(doc.Snapshots), want, r.Stdout)
	}
	snap := doc.Snapshots[0]
	phase("backup " + snap.Snapshot)
	folder := filepath.Join(dir, "data", "backups", gamertag)
	for _, mode := range [][]string{nil, {"--deep"}} {
		r := binCLI(t, dir, nil, append([]string{"verify", "--backup", folder, "--snapshot", snap.Snapshot, "--json"}, mode...)...)
		var v verifyDocT
		jsonOut(t, r, &v)
		if r.Code != 0 || !v.OK {
			t.Errorf("verify %v: exit %d: %s\n%s", mode, r.Code, r.Stderr, r.Stdout)
		}
		phase(strings.TrimSpace("verify " + strings.Join(mode, " ")))
	}
	restored := filepath.Join(dir, "restored-"+snap.Snapshot+".duckdb")
	r = binCLI(t, dir, nil, "restore", "--backup", folder, "--snapshot", snap.Snapshot, "--db", restored, "--json")
	var rs rsDoc
	jsonOut(t, r, &rs)
	if r.Code != 0 || !rs.OK {
		t.Fatalf("restore: exit %d: %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	phase("restore")
	if len(rs.Tables) != want {
		t.Errorf("restore rebuilt %d tables; want %d", len(rs.Tables), want)
	}
	for _, tb := range rs.Tables {
		if !tb.Checked || tb.RowsAfter != tb.Rows {
			t.Errorf("restore: table %s: %d rows of %d after restore (checked %v)", tb.Table, tb.RowsAfter, tb.Rows, tb.Checked)
		}
	}
	if len(rs.Skipped) > 0 {
		t.Errorf("restore skipped %+v", rs.Skipped)
	}
	for _, p := range rsDiffDBs(t, src, restored, rsCmpOpts{catalogOnly: true}) {
		t.Error(p)
	}
	phase("compare the catalogs")
	for _, p := range fidelityExact(t, src, restored) {
		t.Error(p)
	}
	fidelityChecks(t, src, restored, checks)
	phase("compare the rows as text, the application's queries")
	return snap
}

// fidelityTypes lists the distinct column types of the database's tables.
func fidelityTypes(t *testing.T, path string) string {
	t.Helper()
	db := fidelityOpen(t, path, false)
	defer db.Close()
	var s string
	// The type's name without its parameters or members: a nested type
	// names its nesting (STRUCT, MAP, a LIST as [], an array as [n]).
	err := db.QueryRow(`SELECT string_agg(DISTINCT regexp_replace(data_type, '\(.*', '(…)'), ', ' ORDER BY regexp_replace(data_type, '\(.*', '(…)'))
		FROM duckdb_columns() WHERE database_name = current_database()`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// countTables counts the database's tables.
func countTables(t *testing.T, path string) int {
	t.Helper()
	db := fidelityOpen(t, path, false)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fidelityExact compares every table of a and b as text, row by row: the
// multisets of rows printed by DuckDB must be equal. Text tells apart what
// value equality merges (-0.0 and 0.0, 1 month and 30 days, 1.0 and 1.00
// of different DECIMAL scales) and compares what has no equality.
func fidelityExact(t *testing.T, a, b string) []string {
	t.Helper()
	db, done := testutil.Attached(t, map[string]string{"dba": a, "dbb": b})
	defer done()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "SET memory_limit = '"+fidelityMemory+"'"); err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, tb := range tablesOf(t, db, "dba") {
		name := sqlq.Ident(tb[0]) + "." + sqlq.Ident(tb[1])
		text := func(alias string) string {
			return "SELECT CAST(x AS VARCHAR) AS row FROM " + alias + "." + name + " x"
		}
		// Equal multisets of rows have equal counts and equal sums of two
		// independent hashes of each row's text; one pass over each side,
		// no table of rows. Only when they differ, EXCEPT ALL says how.
		sums := func(alias string) (n int64, h1, h2 string, err error) {
			err = db.QueryRowContext(ctx, "SELECT count(*), CAST(coalesce(sum(CAST(hash(row) AS HUGEINT)), 0) AS VARCHAR), "+
				"CAST(coalesce(sum(CAST(md5_number_lower(row) AS HUGEINT)), 0) AS VARCHAR) FROM ("+text(alias)+")").Scan(&n, &h1, &h2)
			return n, h1, h2, err
		}
		na, ha1, ha2, err := sums("dba")
		if err == nil {
			var nb int64
			var hb1, hb2 string
			nb, hb1, hb2, err = sums("dbb")
			if err == nil && na == nb && ha1 == hb1 && ha2 == hb2 {
				continue
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("table %s: compare as text: %v", name, err))
			continue
		}
		var onlyA, onlyB int64
		var sample sql.NullString
		err = db.QueryRowContext(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM (%s EXCEPT ALL %s)), (SELECT count(*) FROM (%s EXCEPT ALL %s)), (SELECT min(row) FROM (%s EXCEPT ALL %s))",
			text("dba"), text("dbb"), text("dbb"), text("dba"), text("dba"), text("dbb"))).Scan(&onlyA, &onlyB, &sample)
		if err != nil {
			problems = append(problems, fmt.Sprintf("table %s: rows differ; compare as text: %v", name, err))
			continue
		}
		problems = append(problems, fmt.Sprintf("table %s: %d rows of the source are not in the restored database and %d the reverse (as text; e.g. %.300s)",
			name, onlyA, onlyB, sample.String))
	}
	return problems
}

// fidelityChecks runs the application's queries on both databases (each
// on its own writable copy, since some write) and compares the answers.
func fidelityChecks(t *testing.T, a, b string, checks []string) {
	t.Helper()
	if len(checks) == 0 {
		return
	}
	answers := func(path string) []string {
		cp := path + ".app"
		testutil.CopyFile(t, path, cp)
		db := fidelityOpen(t, cp, true)
		defer db.Close()
		var out []string
		for _, q := range checks {
			out = append(out, strings.Join(rsRows(t, db, q), "\n"))
		}
		return out
	}
	wa, wb := answers(a), answers(b)
	for i, q := range checks {
		if wa[i] != wb[i] {
			t.Errorf("%s: the source answers\n%s\nthe restored database answers\n%s", q, wa[i], wb[i])
		}
	}
}

// TestFidelityExactTellsApart: the suite's row comparison finds what
// value equality would let through (-0.0 for 0.0, 1 month for 30 days, a
// row lost while its duplicate doubled), so a passing suite means equal
// rows.
func TestFidelityExactTellsApart(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.duckdb"), filepath.Join(dir, "b.duckdb")
	testutil.WriteDB(t, a,
		`CREATE TABLE z (x DOUBLE)`, `INSERT INTO z VALUES (CAST('-0.0' AS DOUBLE)), (1)`,
		`CREATE TABLE i (x INTERVAL)`, `INSERT INTO i VALUES (INTERVAL 1 MONTH)`,
		`CREATE TABLE d (x INTEGER)`, `INSERT INTO d VALUES (1), (1), (2)`,
		`CREATE TABLE same (x VARCHAR)`, `INSERT INTO same VALUES ('a'), (NULL)`)
	testutil.WriteDB(t, b,
		`CREATE TABLE z (x DOUBLE)`, `INSERT INTO z VALUES (0.0), (1)`,
		`CREATE TABLE i (x INTERVAL)`, `INSERT INTO i VALUES (INTERVAL 30 DAYS)`,
		`CREATE TABLE d (x INTEGER)`, `INSERT INTO d VALUES (1), (2), (2)`,
		`CREATE TABLE same (x VARCHAR)`, `INSERT INTO same VALUES (NULL), ('a')`)
	got := strings.Join(fidelityExact(t, a, b), "\n")
	for _, table := range []string{`"main"."z"`, `"main"."i"`, `"main"."d"`} {
		if !strings.Contains(got, "table "+table+": 1 rows of the source") {
			t.Errorf("no difference reported for %s:\n%s", table, got)
		}
	}
	if strings.Contains(got, "same") {
		t.Errorf("equal tables reported as different:\n%s", got)
	}
}

// TestBackupRefusesAnUnreadableManifest: a table whose column names add up
// to megabytes (read_csv_auto takes them from any header) would need a
// manifest larger than verify and restore read. backup refuses it before
// its commit point, naming the table, and leaves no snapshot behind
// rather than one that can never be restored; --skip-table backs up the
// rest.
func TestBackupRefusesAnUnreadableManifest(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "wide.csv")
	var header, row []string
	for i := range 16 {
		header = append(header, strings.Repeat("n", 1<<20)+fmt.Sprint(i))
		row = append(row, fmt.Sprint(i))
	}
	if err := os.WriteFile(csv, []byte(strings.Join(header, ",")+"\n"+strings.Join(row, ",")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "wide.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE small AS SELECT 1 AS x`,
		"CREATE TABLE long_names AS FROM read_csv("+sqlq.Literal(csv)+", header = true, max_line_size = 100000000)")
	r := binCLI(t, dir, nil, "backup", "--db", src, "--gamertag", "wide")
	if r.Code != 1 || !strings.Contains(r.Stderr, "manifest too large") || !strings.Contains(r.Stderr, "table long_names alone takes") {
		t.Fatalf("backup: exit %d, want 1 and a sentence naming the table:\n%s", r.Code, r.Stderr)
	}
	folder := filepath.Join(dir, "data", "backups", "wide")
	if names := testutil.Names(t, folder); len(names) > 0 {
		t.Errorf("the refused backup left %v", names)
	}
	// The hint works: without that table, the rest is backed up and verifies.
	for _, args := range [][]string{{"backup", "--db", src, "--gamertag", "wide", "--skip-table", "long_names"}, {"verify", "--backup", folder}} {
		if r := binCLI(t, dir, nil, args...); r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
}
