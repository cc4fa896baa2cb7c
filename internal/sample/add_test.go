package sample

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/testutil"
)

// appendOnly are the tables Add only appends to.
var appendOnly = []string{"match_stats", "player_match_stats", "highlight_events", "medals_earned",
	"weapon_kills", "skill_history", "sessions"}

// compare runs one query with a attached as database a and b as b, both
// read-only, and returns its single integer.
func compare(t *testing.T, a, b, q string) int64 {
	t.Helper()
	conn, done := testutil.Attached(t, map[string]string{"a": a, "b": b})
	defer done()
	ctx := context.Background()
	var n int64
	if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// exceptCount counts the rows of table in database x that database y has
// not (as multisets, every column compared).
func exceptCount(t *testing.T, a, b, table string, aMinusB bool) int64 {
	x, y := "a", "b"
	if !aMinusB {
		x, y = y, x
	}
	return compare(t, a, b, "SELECT count(*) FROM (FROM "+x+"."+table+" EXCEPT ALL FROM "+y+"."+table+")")
}

// recomputeDiff recomputes every aggregate table of the database at path
// from its whole history, as a new database is filled, and returns per
// table how many rows differ from what the table holds.
func recomputeDiff(t *testing.T, path string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	var seedText string
	if err := conn.QueryRowContext(ctx, "SELECT value FROM meta.db_info WHERE key = 'seed'").Scan(&seedText); err != nil {
		t.Fatal(err)
	}
	seed, err := strconv.ParseInt(seedText, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	r := newHistory(1, seed).replacer()
	for _, q := range []string{
		"SET TimeZone = 'UTC'",
		`CREATE TEMP TABLE tmp_player AS SELECT
			(SELECT value FROM meta.db_info WHERE key = 'gamertag') AS gamertag,
			(SELECT value FROM meta.db_info WHERE key = 'xuid')::BIGINT AS xuid`,
		r.Replace(helperSQL), r.Replace(referenceSQL),
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	diff := map[string]int64{}
	for _, a := range aggregates {
		tmp := "tmp_check_" + a.table
		for _, q := range []string{
			"CREATE TEMP TABLE " + tmp + " AS FROM main." + a.table + " LIMIT 0",
			"INSERT INTO " + tmp + " BY NAME " + r.Replace(a.sql),
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var n int64
		q := "SELECT (SELECT count(*) FROM (FROM " + tmp + " EXCEPT ALL FROM main." + a.table + ")) + " +
			"(SELECT count(*) FROM (FROM main." + a.table + " EXCEPT ALL FROM " + tmp + "))"
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		diff[a.table] = n
	}
	return diff
}

func mustAdd(t *testing.T, path string, opt AddOptions) AddSummary {
	t.Helper()
	sum, err := Add(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return sum
}

// TestAdd appends matches to a generated player: every row that was there
// stays as it was, the append-only tables gain exactly the rows Add says,
// the sequences move on as inserts through them would, and the aggregate
// tables equal a recomputation from the whole new history.
func TestAdd(t *testing.T) {
	dir := t.TempDir()
	before := filepath.Join(dir, "before.duckdb")
	after := filepath.Join(dir, "after.duckdb")
	generate(t, before, Options{Gamertag: testGamertag, Matches: 400, Seed: 3})
	for name, n := range recomputeDiff(t, before) {
		if n != 0 {
			t.Fatalf("generated %s differs from its recomputation in %d rows", name, n)
		}
	}
	testutil.CopyFile(t, before, after)
	sum := mustAdd(t, after, AddOptions{Matches: 40})
	if sum.Matches != 440 || sum.Tables["match_stats"] != 440 {
		t.Errorf("summary says %d matches, %d match_stats rows; want 440", sum.Matches, sum.Tables["match_stats"])
	}
	for _, name := range appendOnly {
		if n := exceptCount(t, before, after, name, true); n != 0 {
			t.Errorf("%s: %d rows that were there before changed or vanished", name, n)
		}
		// Nor did they move: incremental snapshots share the files of
		// runs of rowids whose rows are unchanged.
		if n := compare(t, before, after, "SELECT count(*) FROM (SELECT rowid, * FROM a."+name+" EXCEPT ALL SELECT rowid, * FROM b."+name+")"); n != 0 {
			t.Errorf("%s: %d rows that were there before have another rowid", name, n)
		}
		added := exceptCount(t, before, after, name, false)
		if added == 0 || added != sum.Added[name] {
			t.Errorf("%s: %d new rows, Add says %d", name, added, sum.Added[name])
		}
		was := compare(t, before, after, "SELECT count(*) FROM a."+name)
		if now := sum.Tables[name]; now != was+added {
			t.Errorf("%s: %d rows after, want %d + %d", name, now, was, added)
		}
	}
	if n := sum.Added["highlight_events"] / 40; n < 40 || n > 80 {
		t.Errorf("%d highlight events per added match, want about 60", n)
	}
	// Some aggregate rows change (the refresh ran), and the rest of the
	// rows of those tables stay as they were.
	for name, n := range recomputeDiff(t, after) {
		if n != 0 {
			t.Errorf("%s differs from a recomputation over the whole history in %d rows", name, n)
		}
	}
	if sum.Updated["mv_global_stats"] != 1 || sum.Updated["teammates_aggregate"] == 0 {
		t.Errorf("refresh updated %v", sum.Updated)
	}
	kept := compare(t, before, after, "SELECT count(*) FROM (FROM a.teammates_aggregate INTERSECT ALL FROM b.teammates_aggregate)")
	was := compare(t, before, after, "SELECT count(*) FROM a.teammates_aggregate")
	if kept+sum.Updated["teammates_aggregate"] != was {
		t.Errorf("teammates_aggregate: %d rows kept + %d updated, of %d", kept, sum.Updated["teammates_aggregate"], was)
	}
	// The new matches come after the old ones, in new sessions.
	if n := compare(t, before, after, `SELECT count(*) FROM b.match_stats
		WHERE match_id NOT IN (SELECT match_id FROM a.match_stats)
		AND start_time <= (SELECT max(end_time) FROM a.match_stats)`); n != 0 {
		t.Errorf("%d new matches start before the last old one ended", n)
	}
	if n := compare(t, before, after, `SELECT count(*) FROM b.match_stats
		WHERE match_id NOT IN (SELECT match_id FROM a.match_stats)
		AND session_id IN (SELECT session_id FROM a.sessions)`); n != 0 {
		t.Errorf("%d new matches joined an old session", n)
	}
	if n := compare(t, before, after, `SELECT count(*) FROM b.match_stats
		WHERE session_id NOT IN (SELECT session_id FROM b.sessions)`); n != 0 {
		t.Errorf("%d matches have no session", n)
	}
	// Sequences stand where inserts through their defaults leave them.
	db, err := sql.Open("duckdb", after+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	maxHL := queryInt(t, db, "SELECT max(id) FROM highlight_events")
	distinct := queryInt(t, db, "SELECT count(DISTINCT id) FROM highlight_events")
	maxSession := queryInt(t, db, "SELECT max(session_id) FROM sessions")
	matches := testutil.Strings(t, db, "SELECT value FROM meta.db_info WHERE key IN ('matches', 'seed') ORDER BY key")
	db.Close()
	if distinct != sum.Tables["highlight_events"] {
		t.Errorf("%d distinct highlight ids among %d rows", distinct, sum.Tables["highlight_events"])
	}
	if got := nextValues(t, after, "highlight_events_id_seq", "sessions_id_seq"); !equalInts(got, []int64{maxHL + 1, maxSession + 1}) {
		t.Errorf("next sequence values %v, want %d and %d", got, maxHL+1, maxSession+1)
	}
	if len(matches) != 2 || matches[0] != "440" || matches[1] != "3" {
		t.Errorf("meta.db_info matches, seed = %q, want 440, 3", matches)
	}

	// A second sync, with another seed, appends again.
	seed := int64(9)
	second := mustAdd(t, after, AddOptions{Matches: 25, Seed: &seed})
	if second.Tables["match_stats"] != 465 {
		t.Errorf("after a second add: %d matches, want 465", second.Tables["match_stats"])
	}
	for name, n := range recomputeDiff(t, after) {
		if n != 0 {
			t.Errorf("after a second add, %s differs from a recomputation in %d rows", name, n)
		}
	}
}

// TestAddDeterminism: the same database and options give the same rows,
// however DuckDB splits the work; another seed gives other matches.
func TestAddDeterminism(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.duckdb")
	generate(t, base, Options{Gamertag: testGamertag, Matches: 2000, Seed: 7})
	a, b, c := filepath.Join(dir, "a.duckdb"), filepath.Join(dir, "b.duckdb"), filepath.Join(dir, "c.duckdb")
	for _, p := range []string{a, b, c} {
		testutil.CopyFile(t, base, p)
	}
	threads = 1
	mustAdd(t, a, AddOptions{Matches: 300})
	threads = 4
	mustAdd(t, b, AddOptions{Matches: 300})
	threads = 0
	for name, diff := range diffTables(t, a, b) {
		if diff != 0 {
			t.Errorf("%s: %d rows differ between two adds of the same matches", name, diff)
		}
	}
	seed := int64(8)
	mustAdd(t, c, AddOptions{Matches: 300, Seed: &seed})
	diff := diffTables(t, a, c)
	for _, name := range []string{"match_stats", "highlight_events", "player_match_stats"} {
		if diff[name] == 0 {
			t.Errorf("%s: identical with a different seed", name)
		}
	}
}

// TestAddLeavesDatabaseOnFailure: a cancelled or failing Add leaves every
// row, every sequence and the file's bytes as they were.
func TestAddLeavesDatabaseOnFailure(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.duckdb")
	generate(t, orig, Options{Gamertag: testGamertag, Matches: 3000, Seed: 5})
	want, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(t *testing.T, path string) {
		t.Helper()
		for name, d := range diffTables(t, orig, path) {
			if d != 0 {
				t.Errorf("%s: %d rows differ after a failed add", name, d)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// DuckDB writes a large insert's blocks to the file before the
		// commit; a rollback marks them free, so the file may have grown,
		// but the bytes the database was made of are as they were.
		if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
			t.Errorf("the file's bytes changed (%d bytes, was %d)", len(got), len(want))
		}
		for _, q := range []string{"sql FROM duckdb_tables()", "sql FROM duckdb_indexes()", "sql FROM duckdb_views()",
			"sql FROM duckdb_sequences()", "table_name, constraint_text FROM duckdb_constraints()"} {
			for _, x := range [][2]string{{"a", "b"}, {"b", "a"}} {
				if n := compare(t, orig, path, "SELECT count(*) FROM (SELECT "+q+" WHERE database_name = '"+x[0]+
					"' EXCEPT ALL SELECT "+q+" WHERE database_name = '"+x[1]+"')"); n != 0 {
					t.Errorf("%s: %d entries differ", q, n)
				}
			}
		}
		for _, extra := range []string{".wal", ".tmp"} {
			if _, err := os.Lstat(path + extra); err == nil {
				t.Errorf("%s%s left behind", path, extra)
			}
		}
	}
	defer func() { stepDone = nil }()
	for _, c := range []struct {
		name  string
		after string        // the step after which ctx is cancelled
		delay time.Duration // how long after it
	}{
		{"before the start", "", 0},
		{"after the appends", "fill sessions", 0},
		{"inside the big insert", "fill player_match_stats", 5 * time.Millisecond},
		{"inside the refresh", "recompute antagonists", 0},
		{"at the last step", "refresh meta.db_info", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stats.duckdb")
			testutil.CopyFile(t, orig, path)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.after == "" {
				cancel()
			}
			stepDone = func(name string, _ time.Duration) {
				if name == c.after {
					time.AfterFunc(c.delay, cancel)
				}
			}
			_, err := Add(ctx, path, AddOptions{Matches: 3000})
			stepDone = nil
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			unchanged(t, path)
		})
	}

	// A failure late in the work: a skill_history row already holds the
	// key of one of the ranked matches the add will write, so its insert
	// fails after match_stats, highlight_events and the rest were filled.
	t.Run("constraint violation", func(t *testing.T) {
		probe := filepath.Join(t.TempDir(), "probe.duckdb")
		testutil.CopyFile(t, orig, probe)
		mustAdd(t, probe, AddOptions{Matches: 50})
		path := filepath.Join(t.TempDir(), "stats.duckdb")
		testutil.CopyFile(t, orig, path)
		db, err := sql.Open("duckdb", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("ATTACH " + sqlString(probe) + " AS probe (READ_ONLY)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO skill_history (match_id, playlist_id, recorded_at, gamertag)
			SELECT match_id, 'x', TIMESTAMP '2020-01-01', 'x' FROM probe.skill_history
			WHERE match_id NOT IN (SELECT match_id FROM skill_history) LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if want, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		orig = path
		failed := filepath.Join(t.TempDir(), "stats.duckdb")
		testutil.CopyFile(t, path, failed)
		if _, err := Add(context.Background(), failed, AddOptions{Matches: 50}); err == nil {
			t.Fatal("Add succeeded over a duplicate key")
		}
		unchanged(t, failed)
	})
}

// TestAddRefuses: a missing file, a file that is not DuckDB and a DuckDB
// database that statsnap sample did not write are refused untouched.
func TestAddRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Add(context.Background(), filepath.Join(dir, "none.duckdb"), AddOptions{Matches: 1}); !errors.Is(err, dbfile.ErrNotExist) {
		t.Errorf("missing: %v, want dbfile.ErrNotExist", err)
	}
	text := filepath.Join(dir, "text.duckdb")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Add(context.Background(), text, AddOptions{Matches: 1}); !errors.Is(err, dbfile.ErrNotDuckDB) {
		t.Errorf("text file: %v, want dbfile.ErrNotDuckDB", err)
	}
	other := filepath.Join(dir, "other.duckdb")
	db, err := sql.Open("duckdb", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE match_stats (match_id VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	want, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Add(context.Background(), other, AddOptions{Matches: 1}); !errors.Is(err, ErrNotSample) {
		t.Errorf("another database: %v, want ErrNotSample", err)
	}
	if got, _ := os.ReadFile(other); !bytes.Equal(got, want) {
		t.Error("refusing another database changed its file")
	}
	for _, n := range []int{0, -1, MaxMatches + 1} {
		if _, err := Add(context.Background(), other, AddOptions{Matches: n}); err == nil {
			t.Errorf("Matches %d accepted", n)
		}
	}
}
