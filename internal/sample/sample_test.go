package sample

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil"
)

const testGamertag = "Chocobo Flör"

var expectedTables = []string{
	"antagonists", "highlight_events", "match_stats", "medals_earned",
	"meta.db_info", "mv_global_stats", "mv_map_stats", "mv_mode_category_stats",
	"mv_session_stats", "pending_uploads", "player_match_stats", "sessions",
	"skill_history", "teammates_aggregate", "weapon_kills",
}

func generate(t *testing.T, path string, opt Options) Summary {
	t.Helper()
	sum, err := Generate(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return sum
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	return testutil.Int64(t, db, q, args...)
}

// assertOnlyFile fails if dir holds anything but name: no temporary
// database, WAL or spill folder may survive Generate.
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{}
	if name != "" {
		want = []string{name}
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("folder holds %q, want %q", names, want)
	}
}

func TestGenerateSmall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "players", testGamertag)
	path := filepath.Join(dir, "stats.duckdb")
	const matches = 50
	sum := generate(t, path, Options{Gamertag: testGamertag, Matches: matches, Seed: 42})
	assertOnlyFile(t, dir, "stats.duckdb")

	if sum.Path != path {
		t.Errorf("Path = %q, want %q", sum.Path, path)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Bytes != info.Size() || sum.Bytes == 0 {
		t.Errorf("Bytes = %d, file has %d", sum.Bytes, info.Size())
	}
	var keys []string
	for k := range sum.Tables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != strings.Join(expectedTables, ",") {
		t.Errorf("tables = %v\nwant %v", keys, expectedTables)
	}

	db := testutil.OpenDB(t, path, false)
	for _, name := range expectedTables {
		q := "SELECT count(*) FROM " + name
		if got := queryInt(t, db, q); got != sum.Tables[name] {
			t.Errorf("%s: Summary says %d rows, table has %d", name, sum.Tables[name], got)
		}
	}

	// Row count relations.
	if n := sum.Tables["match_stats"]; n != matches {
		t.Errorf("match_stats has %d rows, want %d", n, matches)
	}
	hl := sum.Tables["highlight_events"]
	if hl < 40*matches || hl > 80*matches || math.Abs(float64(hl)/matches-60) > 8 {
		t.Errorf("highlight_events has %d rows, want about %d", hl, 60*matches)
	}
	if n := sum.Tables["pending_uploads"]; n != 0 {
		t.Errorf("pending_uploads has %d rows, want 0", n)
	}
	for _, name := range expectedTables {
		if name != "pending_uploads" && sum.Tables[name] == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	if n := sum.Tables["mv_global_stats"]; n != 1 {
		t.Errorf("mv_global_stats has %d rows, want 1", n)
	}
	checks := map[string]string{
		"every highlight belongs to a match":     `SELECT count(*) FROM highlight_events h ANTI JOIN match_stats m USING (match_id)`,
		"every medal belongs to a match":         `SELECT count(*) FROM medals_earned x ANTI JOIN match_stats m USING (match_id)`,
		"one self row per match":                 `SELECT count(*) - (SELECT count(*) FROM match_stats) FROM player_match_stats WHERE is_self`,
		"skill_history covers ranked matches":    `SELECT (SELECT count(*) FROM match_stats WHERE is_ranked) - count(*) FROM skill_history`,
		"sessions cover all matches":             `SELECT (SELECT count(*) FROM match_stats) - sum(match_count) FROM sessions`,
		"mv_global_stats counts all matches":     `SELECT (SELECT count(*) FROM match_stats) - total_matches FROM mv_global_stats`,
		"mv_map_stats counts all matches":        `SELECT (SELECT count(*) FROM match_stats) - sum(matches_played) FROM mv_map_stats`,
		"placements are a permutation per match": `SELECT count(*) FROM (SELECT match_id FROM player_match_stats GROUP BY match_id HAVING count(DISTINCT placement) <> count(*) OR max(placement) <> count(*))`,
		"unranked matches have no CSR":           `SELECT count(*) FROM match_stats WHERE NOT is_ranked AND csr_post IS NOT NULL`,
		"highlight ids are 1..n":                 `SELECT count(*) - max(id) + (count(DISTINCT id) - count(*)) FROM highlight_events`,
	}
	for what, q := range checks {
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%s: got %d", what, n)
		}
	}

	// Schema: about 65 columns in match_stats, and the types the brief asks for.
	if n := queryInt(t, db, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'match_stats'`); n < 60 || n > 70 {
		t.Errorf("match_stats has %d columns, want about 65", n)
	}
	types := map[string]string{
		"match_stats.match_id":            "VARCHAR",
		"match_stats.start_time":          "TIMESTAMP",
		"match_stats.outcome":             "TINYINT",
		"match_stats.kills":               "SMALLINT",
		"match_stats.kda":                 "FLOAT",
		"match_stats.time_played_seconds": "INTEGER",
		"match_stats.is_ranked":           "BOOLEAN",
		"medals_earned.medal_name_id":     "BIGINT",
		"player_match_stats.joined_at":    "TIMESTAMP WITH TIME ZONE",
		"weapon_kills.weapon_id":          "UBIGINT",
		"highlight_events.id":             "BIGINT",
		"highlight_events.event_type":     "ENUM('kill', 'death', 'assist', 'medal', 'objective', 'spawn')",
	}
	for col, want := range types {
		table, column, _ := strings.Cut(col, ".")
		got := testutil.Strings(t, db, `SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ?`, table, column)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s has type %v, want %s", col, got, want)
		}
	}
	defaults := map[string]string{
		"highlight_events.id":      "nextval('highlight_events_id_seq')",
		"match_stats.is_ranked":    "'f'",
		"match_stats.created_at":   "current_timestamp",
		"pending_uploads.attempts": "0",
	}
	for col, want := range defaults {
		table, column, _ := strings.Cut(col, ".")
		got := testutil.Strings(t, db, `SELECT coalesce(column_default, '') FROM duckdb_columns() WHERE table_name = ? AND column_name = ?`, table, column)
		if len(got) != 1 || !strings.Contains(strings.ToLower(got[0]), want) {
			t.Errorf("%s defaults to %q, want %s", col, got, want)
		}
	}
	notNull := testutil.Strings(t, db, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'match_stats' AND NOT is_nullable ORDER BY ALL`)
	if len(notNull) < 5 {
		t.Errorf("match_stats NOT NULL columns: %v", notNull)
	}

	// Constraints.
	pks := testutil.Strings(t, db, `SELECT table_name || '(' || array_to_string(constraint_column_names, ',') || ')' FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' ORDER BY ALL`)
	for _, want := range []string{"match_stats(match_id)", "medals_earned(match_id,medal_name_id)", "sessions(session_id)", "db_info(key)"} {
		if !slices.Contains(pks, want) {
			t.Errorf("primary key %s missing from %v", want, pks)
		}
	}
	for _, kind := range []string{"CHECK", "UNIQUE", "NOT NULL"} {
		if n := queryInt(t, db, `SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = ?`, kind); n == 0 {
			t.Errorf("no %s constraint", kind)
		}
	}
	if idx := testutil.Strings(t, db, `SELECT index_name FROM duckdb_indexes() ORDER BY ALL`); len(idx) < 2 {
		t.Errorf("indexes: %v, want at least 2", idx)
	}
	if views := testutil.Strings(t, db, `SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY ALL`); len(views) < 1 {
		t.Errorf("views: %v, want at least 1", views)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM v_recent_matches`); n != 25 {
		t.Errorf("v_recent_matches has %d rows, want 25", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM duckdb_types() WHERE type_name = 'highlight_kind'`); n != 1 {
		t.Errorf("enum type highlight_kind missing")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM duckdb_functions() WHERE function_name = 'kda_ratio' AND function_type = 'macro' AND schema_name = 'main'`); n != 1 {
		t.Errorf("macro kda_ratio missing")
	}

	// Sequences: the id sequence has advanced past the last id, the empty
	// table's has never been used. duckdb_sequences().last_value is not
	// reliable once a file is reopened (it then shows the next value), so
	// ask nextval itself, on a copy.
	next := nextValues(t, path, "highlight_events_id_seq", "sessions_id_seq", "pending_uploads_id_seq")
	if want := []int64{hl + 1, sum.Tables["sessions"] + 1, 1}; !equalInts(next, want) {
		t.Errorf("next sequence values %v, want %v", next, want)
	}

	// Values: NULLs where the data has none, UBIGINTs beyond BIGINT.
	if n := queryInt(t, db, `SELECT count(*) FROM match_stats WHERE csr_post IS NULL`); n == 0 {
		t.Error("no NULL csr_post: unranked matches should have none")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM match_stats WHERE extraction_conversions IS NOT NULL`); n != 0 {
		t.Errorf("extraction_conversions should be all NULL, has %d values", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM weapon_kills WHERE weapon_id > 9223372036854775807::UBIGINT`); n == 0 {
		t.Error("no weapon_id above the BIGINT range")
	}

	// The gamertag is stored exactly.
	for _, q := range []string{
		`SELECT DISTINCT gamertag FROM match_stats`,
		`SELECT gamertag FROM mv_global_stats`,
		`SELECT value FROM meta.db_info WHERE key = 'gamertag'`,
		`SELECT DISTINCT gamertag FROM player_match_stats WHERE is_self`,
	} {
		if got := testutil.Strings(t, db, q); len(got) != 1 || got[0] != testGamertag {
			t.Errorf("%s: %q, want %q", q, got, testGamertag)
		}
	}
}

func TestGamertagEscaping(t *testing.T) {
	for _, g := range []string{"O'Brien \"Ünal\" 🎮", `x'); DROP TABLE match_stats; --`, "Łukasz\\N"} {
		path := filepath.Join(t.TempDir(), "stats.duckdb")
		generate(t, path, Options{Gamertag: g, Matches: 5, Seed: 1})
		db := testutil.OpenDB(t, path, false)
		got := testutil.Strings(t, db, `SELECT DISTINCT gamertag FROM match_stats UNION ALL SELECT value FROM meta.db_info WHERE key = 'gamertag'`)
		if len(got) != 2 || got[0] != g || got[1] != g {
			t.Errorf("gamertag %q stored as %q", g, got)
		}
	}
}

func TestAwkwardPaths(t *testing.T) {
	// Modern gamertags carry a '#' suffix and player folders are named
	// after them.
	path := filepath.Join(t.TempDir(), "players", "Chocobo Flör#1234", "stats.duckdb")
	generate(t, path, Options{Gamertag: "Chocobo Flör#1234", Matches: 5})
	assertOnlyFile(t, filepath.Dir(path), "stats.duckdb")

	// Every character backup accepts in a path, sample accepts too.
	for _, folder := range []string{"100%zz", "a&b=c;d", "c:x", "Jöhn 名前"} {
		path := filepath.Join(t.TempDir(), folder, "stats.duckdb")
		generate(t, path, Options{Gamertag: "a", Matches: 5})
		assertOnlyFile(t, filepath.Dir(path), "stats.duckdb")
	}
	// '?' is the one DuckDB cannot keep a WAL beside; backup refuses it too.
	for _, folder := range []string{"what?"} {
		root := t.TempDir()
		path := filepath.Join(root, folder, "stats.duckdb")
		if _, err := Generate(context.Background(), path, Options{Gamertag: "a", Matches: 5}); err == nil {
			t.Errorf("%q: no error", folder)
		}
		assertOnlyFile(t, root, "")
	}
}

func TestRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.duckdb")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(context.Background(), path, Options{Gamertag: testGamertag, Matches: 5})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("existing file changed to %q", b)
	}
	assertOnlyFile(t, dir, "stats.duckdb")

	// A folder in the way counts as existing too.
	if _, err := Generate(context.Background(), dir, Options{Gamertag: testGamertag, Matches: 5}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("folder: err = %v, want fs.ErrExist", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opt := range map[string]Options{
		"empty gamertag":    {Gamertag: "  "},
		"control character": {Gamertag: "a\nb"},
		"invalid UTF-8":     {Gamertag: "a\xffb"},
		"too long":          {Gamertag: strings.Repeat("x", 65)},
		"negative matches":  {Gamertag: "a", Matches: -1},
		"too many matches":  {Gamertag: "a", Matches: MaxMatches + 1},
	} {
		path := filepath.Join(dir, "stats.duckdb")
		if _, err := Generate(context.Background(), path, opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Generate(context.Background(), "", Options{Gamertag: "a"}); err == nil {
		t.Error("empty path: no error")
	}
	assertOnlyFile(t, dir, "")
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.duckdb")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, path, Options{Gamertag: testGamertag, Matches: 5}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: err = %v, want context.Canceled", err)
	}
	assertOnlyFile(t, dir, "")

	// Cancel while DuckDB is busy with the big inserts.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	stepDone = func(name string, _ time.Duration) {
		if name == "fill match_stats" {
			cancel()
		}
	}
	defer func() { stepDone = nil }()
	if _, err := Generate(ctx, path, Options{Gamertag: testGamertag, Matches: 2000}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled between statements: err = %v, want context.Canceled", err)
	}
	assertOnlyFile(t, dir, "")

	// Cancel while DuckDB is inside the largest statement.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	stepDone = func(name string, _ time.Duration) {
		if name == "fill player_match_stats" {
			time.AfterFunc(20*time.Millisecond, cancel)
		}
	}
	start := time.Now()
	_, err := Generate(ctx, path, Options{Gamertag: testGamertag, Matches: 50000})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during a statement: err = %v, want context.Canceled", err)
	}
	t.Logf("cancelled run returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
	assertOnlyFile(t, dir, "")
}

func TestDefaultMatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.duckdb")
	start := time.Now()
	sum := generate(t, path, Options{Gamertag: testGamertag})
	if n := sum.Tables["match_stats"]; n != DefaultMatches {
		t.Errorf("match_stats has %d rows, want %d", n, DefaultMatches)
	}
	var keys []string
	for k := range sum.Tables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-24s %9d", k, sum.Tables[k])
	}
	t.Logf("%d bytes in %s", sum.Bytes, time.Since(start).Round(time.Millisecond))
}

// diffTables counts, per table, the rows that one database has and the other
// has not (as multisets), comparing every column.
func diffTables(t *testing.T, a, b string) map[string]int64 {
	t.Helper()
	conn, done := testutil.Attached(t, map[string]string{"a": a, "b": b})
	defer done()
	ctx := context.Background()
	diff := map[string]int64{}
	for _, name := range expectedTables {
		q := "SELECT (SELECT count(*) FROM (FROM a." + name + " EXCEPT ALL FROM b." + name + ")) + " +
			"(SELECT count(*) FROM (FROM b." + name + " EXCEPT ALL FROM a." + name + "))"
		var n int64
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		diff[name] = n
	}
	var seqA, seqB string
	seqQ := "SELECT string_agg(sql, ',' ORDER BY sequence_name) FROM duckdb_sequences() WHERE database_name = "
	if err := conn.QueryRowContext(ctx, seqQ+"'a'").Scan(&seqA); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, seqQ+"'b'").Scan(&seqB); err != nil {
		t.Fatal(err)
	}
	if seqA != seqB {
		diff["sequences"] = 1
	}
	return diff
}

func TestDeterminism(t *testing.T) {
	dir := t.TempDir()
	// Large enough that the big inserts are split between threads.
	opt := Options{Gamertag: testGamertag, Matches: 2000, Seed: 7}
	a := filepath.Join(dir, "a.duckdb")
	b := filepath.Join(dir, "b.duckdb")
	c := filepath.Join(dir, "c.duckdb")
	// Results must not depend on how the work is split between threads.
	threads = 1
	sa := generate(t, a, opt)
	threads = 4
	sb := generate(t, b, opt)
	threads = 0
	if len(sa.Tables) != len(sb.Tables) {
		t.Fatalf("table sets differ: %v vs %v", sa.Tables, sb.Tables)
	}
	for name, diff := range diffTables(t, a, b) {
		if diff != 0 {
			t.Errorf("%s: %d rows differ between runs with the same seed", name, diff)
		}
	}

	opt.Seed = 8
	generate(t, c, opt)
	diff := diffTables(t, a, c)
	for _, name := range []string{"match_stats", "highlight_events", "player_match_stats"} {
		if diff[name] == 0 {
			t.Errorf("%s: identical with a different seed", name)
		}
	}
}

// TestBig generates the 200,000-match history of the brief and logs the time
// it takes; it asserts nothing about speed, which depends on the machine.
// Run with: STATSNAP_BIG=1 go test -run TestBig -v ./internal/sample/
func TestBig(t *testing.T) {
	if testing.Short() || os.Getenv("STATSNAP_BIG") != "1" {
		t.Skip("set STATSNAP_BIG=1 (and do not pass -short) to generate 200,000 matches")
	}
	path := filepath.Join(t.TempDir(), "stats.duckdb")
	stepDone = func(name string, d time.Duration) {
		if d > 250*time.Millisecond {
			t.Logf("  %-40s %s", name, d.Round(time.Millisecond))
		}
	}
	defer func() { stepDone = nil }()
	cpu0 := processCPU()
	start := time.Now()
	sum := generate(t, path, Options{Gamertag: testGamertag, Matches: 200000, Seed: 1})
	wall := time.Since(start)
	t.Logf("200000 matches: %d highlight_events rows, %d bytes, wall %s, process CPU %s",
		sum.Tables["highlight_events"], sum.Bytes, wall.Round(time.Millisecond), (processCPU() - cpu0).Round(time.Millisecond))
	if n := sum.Tables["highlight_events"]; n < 11_000_000 || n > 13_000_000 {
		t.Errorf("highlight_events has %d rows, want about 12 million", n)
	}
}

// nextValues returns what nextval gives for each sequence, on a copy of the
// database so that the original stays as generated.
func nextValues(t *testing.T, path string, seqs ...string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.duckdb")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []int64
	for _, s := range seqs {
		out = append(out, queryInt(t, db, "SELECT nextval(?)", s))
	}
	return out
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
