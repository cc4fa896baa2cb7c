package sample

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
)

// ErrNotSample reports a database that statsnap sample did not write: Add
// only knows how to continue its own histories.
var ErrNotSample = errors.New("not a database written by statsnap sample (meta.db_info does not say so)")

// AddOptions choose the matches Add appends.
type AddOptions struct {
	// Matches is the number of matches to append, at least 1.
	Matches int
	// Seed selects the new matches; nil means the seed recorded in the
	// database. The same database, Matches and Seed give the same rows.
	Seed *int64
}

// AddSummary describes what Add did.
type AddSummary struct {
	// Path is the database file, as given to Add.
	Path string
	// Matches is the number of matches in the history afterwards.
	Matches int
	// Added holds the rows appended to each table, Updated the rows of
	// the aggregate tables that the refresh changed.
	Added, Updated map[string]int64
	// Tables holds the rows of each table afterwards, keyed as in Summary.
	Tables map[string]int64
	// Bytes is the size of the database file afterwards.
	Bytes int64
}

// Add appends opt.Matches matches to the sample database at path, as the
// OpenSpartan app does on a sync: new rows in the append-only tables
// (match_stats, player_match_stats, highlight_events, medals_earned,
// weapon_kills, skill_history, sessions), with ids drawn from the
// sequences, and a refresh of the tables it recomputes from the history
// (teammates_aggregate, antagonists, the mv_* tables, meta.db_info), which
// changes only the rows whose values change. Rows already there are never
// rewritten otherwise.
//
// Everything happens in one transaction: an error or a cancelled ctx
// leaves the database as it was. A database held open by another process
// is a dbfile.LockedError, and is not touched.
func Add(ctx context.Context, path string, opt AddOptions) (AddSummary, error) {
	if opt.Matches < 1 || opt.Matches > MaxMatches {
		return AddSummary{}, fmt.Errorf("sample: matches to add must be between 1 and %d, got %d", MaxMatches, opt.Matches)
	}
	if err := dbfile.Check(path); err != nil {
		return AddSummary{}, fmt.Errorf("sample: %w", err)
	}
	// DuckDB spills to <file>.tmp when memory runs short; remove it after
	// only if this run made it.
	_, spillErr := os.Lstat(path + ".tmp")
	sum, err := add(ctx, path, opt)
	if errors.Is(spillErr, os.ErrNotExist) {
		_ = os.RemoveAll(path + ".tmp")
	}
	if err != nil {
		return AddSummary{}, fmt.Errorf("sample: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return AddSummary{}, fmt.Errorf("sample: %w", err)
	}
	sum.Path, sum.Bytes = path, info.Size()
	return sum, nil
}

func add(ctx context.Context, path string, opt AddOptions) (sum AddSummary, err error) {
	db, err := dbfile.Open(ctx, path, false)
	if err != nil {
		return sum, err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return sum, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close connection: %w", cerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return sum, fmt.Errorf("set time zone: %w", err)
	}
	if threads > 0 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
			return sum, fmt.Errorf("set threads: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return sum, stepError(ctx, "begin", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The context may be what ended the work: the rollback must
			// run all the same.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	h, err := readHistory(ctx, conn, opt)
	if err != nil {
		return sum, err
	}
	r := h.replacer()
	run := func(s step) (int64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		res, err := conn.ExecContext(ctx, s.sql)
		if err != nil {
			return 0, stepError(ctx, s.name, err)
		}
		if stepDone != nil {
			stepDone(s.name, time.Since(start))
		}
		n, _ := res.RowsAffected()
		return n, nil
	}
	for _, s := range h.planSteps(r) {
		if _, err := run(s); err != nil {
			return sum, err
		}
	}
	sum.Added, sum.Updated = map[string]int64{}, map[string]int64{}
	for _, s := range appendSteps(r) {
		n, err := run(s)
		if err != nil {
			return sum, err
		}
		sum.Added[strings.TrimPrefix(s.name, "fill ")] = n
	}
	for _, a := range aggregates {
		added, updated, err := refresh(ctx, conn, a, r)
		if err != nil {
			return sum, err
		}
		sum.Added[a.table], sum.Updated[a.table] = added, updated
	}
	n, err := run(step{"refresh meta.db_info", r.Replace(`
UPDATE meta.db_info SET value = CASE key
		WHEN 'matches' THEN '{{total}}'
		ELSE (SELECT strftime(max(created_at), '%Y-%m-%dT%H:%M:%SZ') FROM match_stats)
	END
WHERE key IN ('matches', 'last_sync')`)})
	if err != nil {
		return sum, err
	}
	sum.Updated["meta.db_info"] = n
	if sum.Tables, err = countRows(ctx, conn); err != nil {
		return sum, err
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	// The rows were given their ids, as the generator gives them, so draw
	// the sequences as far as inserting through their defaults would have.
	// Last, and deaf to ctx: DuckDB's nextval is not transactional, so a
	// value drawn in a transaction that then rolls back stays drawn, and
	// an interrupted add would leave the sequences ahead of the rows.
	if err := drawSequence(context.WithoutCancel(ctx), conn, "highlight_events_id_seq", h.highlights, sum.Added["highlight_events"]); err != nil {
		return sum, err
	}
	if err := drawSequence(context.WithoutCancel(ctx), conn, "sessions_id_seq", h.sessions, sum.Added["sessions"]); err != nil {
		return sum, err
	}
	// Past this point the work is done: an interrupt that arrives during
	// the commit must not make DuckDB report a failure for a commit that
	// it may already have written, so the commit ignores ctx.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return sum, fmt.Errorf("commit: %w", err)
	}
	committed = true
	sum.Matches = h.total
	// Fold the WAL into the file, as closing would, but while a failure
	// can still be reported.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "CHECKPOINT"); err != nil {
		return sum, fmt.Errorf("checkpoint: %w", err)
	}
	return sum, nil
}

// readHistory reads where the player's history stands, inside the
// transaction, and records the player in tmp_player.
func readHistory(ctx context.Context, conn *sql.Conn, opt AddOptions) (history, error) {
	var h history
	info := map[string]string{}
	rows, err := conn.QueryContext(ctx, `SELECT key, value FROM meta.db_info`)
	if err != nil {
		if ctx.Err() == nil {
			return h, ErrNotSample
		}
		return h, stepError(ctx, "read meta.db_info", err)
	}
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return h, stepError(ctx, "read meta.db_info", err)
		}
		info[k] = v.String
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return h, stepError(ctx, "read meta.db_info", err)
	}
	rows.Close()
	if info["generator"] != "statsnap sample" {
		return h, ErrNotSample
	}
	seed, err := strconv.ParseInt(info["seed"], 10, 64)
	if err != nil {
		return h, fmt.Errorf("%w: its seed is %q", ErrNotSample, info["seed"])
	}
	xuid, err := strconv.ParseInt(info["xuid"], 10, 64)
	if err != nil || info["gamertag"] == "" {
		return h, fmt.Errorf("%w: its player is %q (xuid %q)", ErrNotSample, info["gamertag"], info["xuid"])
	}
	h.peopleSeed, h.seed = seed, seed
	if opt.Seed != nil {
		h.seed = *opt.Seed
	}
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE tmp_player AS SELECT ?::VARCHAR AS gamertag, ?::BIGINT AS xuid`,
		info["gamertag"], xuid); err != nil {
		return h, stepError(ctx, "record player", err)
	}

	// The new matches are numbered on from the old ones, so that with the
	// database's own seed they are the matches a longer history would
	// have had, and start after the last one ended.
	var (
		count  int64
		lastUS sql.NullInt64
		csr    sql.NullInt64
	)
	if err := conn.QueryRowContext(ctx, `
		SELECT count(*), epoch_us(max(coalesce(end_time, start_time))),
			arg_max(csr_post, start_time) FILTER (WHERE is_ranked)
		FROM match_stats`).Scan(&count, &lastUS, &csr); err != nil {
		return h, stepError(ctx, "read match_stats", err)
	}
	if count+int64(opt.Matches) > MaxMatches {
		return h, fmt.Errorf("the history would hold %d matches, at most %d allowed", count+int64(opt.Matches), MaxMatches)
	}
	h.first, h.matches, h.total = int(count), opt.Matches, int(count)+opt.Matches
	h.originUS, h.csrBase = launch.UnixMicro(), 1200
	if lastUS.Valid {
		h.originUS = lastUS.Int64
	}
	if csr.Valid {
		h.csrBase = int(csr.Int64)
	}
	if h.sessions, err = sequenceValue(ctx, conn, "sessions_id_seq"); err != nil {
		return h, err
	}
	if h.highlights, err = sequenceValue(ctx, conn, "highlight_events_id_seq"); err != nil {
		return h, err
	}
	return h, nil
}

// sequenceValue is the last value drawn from a sequence of the main
// schema, read without drawing one (nextval is not transactional, and an
// add that is interrupted must leave the sequence as it was). The START
// of duckdb_sequences().sql is the value the next nextval returns, in a
// fresh session and after draws alike; the sample's sequences step by 1.
func sequenceValue(ctx context.Context, conn *sql.Conn, seq string) (int64, error) {
	var ddl string
	var inc int64
	err := conn.QueryRowContext(ctx, `
		SELECT sql, increment_by FROM duckdb_sequences()
		WHERE database_name = current_database() AND schema_name = 'main' AND sequence_name = ?`, seq).Scan(&ddl, &inc)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: sequence %s is missing", ErrNotSample, seq)
	}
	if err != nil {
		return 0, stepError(ctx, "read "+seq, err)
	}
	m := seqStart.FindStringSubmatch(ddl)
	if m == nil || inc != 1 {
		return 0, fmt.Errorf("%w: sequence %s is not the sample's (%s)", ErrNotSample, seq, ddl)
	}
	next, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: sequence %s: %v", ErrNotSample, seq, err)
	}
	return next - 1, nil
}

// seqStart finds the START of a sequence's DDL, anchored at the end.
var seqStart = regexp.MustCompile(`START (-?\d+) (?:NO )?CYCLE;?\s*$`)

// drawSequence leaves seq, whose last value was from, where n inserts
// through its default would have: at from+n.
func drawSequence(ctx context.Context, conn *sql.Conn, seq string, from, n int64) error {
	if n < 1 {
		return fmt.Errorf("advance %s: no rows took its values", seq)
	}
	var got int64
	q := fmt.Sprintf("SELECT max(nextval(%s)) FROM range(%d)", sqlString(seq), n)
	if err := conn.QueryRowContext(ctx, q).Scan(&got); err != nil {
		return stepError(ctx, "advance "+seq, err)
	}
	if got != from+n {
		return fmt.Errorf("advance %s: reached %d, want %d", seq, got, from+n)
	}
	return nil
}

// refresh recomputes an aggregate table from the whole history into a
// temporary table, then updates the rows whose values changed and appends
// the new ones, as an application's upsert does: unchanged rows are left
// alone, and no key column is ever written (DuckDB turns an update of an
// indexed column into a delete and an insert).
func refresh(ctx context.Context, conn *sql.Conn, a aggregate, r *strings.Replacer) (added, updated int64, err error) {
	cols, err := tableColumns(ctx, conn, a.table)
	if err != nil {
		return 0, 0, err
	}
	t := sqlIdent(a.table)
	tmp := sqlIdent("tmp_refresh_" + a.table)
	isKey := map[string]bool{}
	var on []string
	for _, k := range a.keys {
		isKey[k] = true
		on = append(on, fmt.Sprintf("%s.%s = n.%s", t, sqlIdent(k), sqlIdent(k)))
	}
	var set, differ []string
	for _, c := range cols {
		if isKey[c] {
			continue
		}
		q := sqlIdent(c)
		set = append(set, fmt.Sprintf("%s = n.%s", q, q))
		differ = append(differ, fmt.Sprintf("%s.%s IS DISTINCT FROM n.%s", t, q, q))
	}
	steps := []step{
		{"recompute " + a.table, "CREATE TEMP TABLE " + tmp + " AS FROM main." + t + " LIMIT 0;\n" +
			"INSERT INTO " + tmp + " BY NAME\n" + r.Replace(a.sql)},
		{"update " + a.table, "UPDATE main." + t + " SET " + strings.Join(set, ", ") + " FROM " + tmp + " n WHERE " +
			strings.Join(on, " AND ") + " AND (" + strings.Join(differ, " OR ") + ")"},
		{"append to " + a.table, "INSERT INTO main." + t + " SELECT n.* FROM " + tmp + " n WHERE NOT EXISTS (SELECT 1 FROM main." +
			t + " WHERE " + strings.Join(on, " AND ") + ")"},
		{"drop " + tmp, "DROP TABLE " + tmp},
	}
	var n [4]int64
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		start := time.Now()
		res, err := conn.ExecContext(ctx, s.sql)
		if err != nil {
			return 0, 0, stepError(ctx, s.name, err)
		}
		if stepDone != nil {
			stepDone(s.name, time.Since(start))
		}
		n[i], _ = res.RowsAffected()
	}
	return n[2], n[1], nil
}

// tableColumns lists a main-schema table's columns in order.
func tableColumns(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `
		SELECT column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
		ORDER BY column_index`, table)
	if err != nil {
		return nil, stepError(ctx, "list columns of "+table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, stepError(ctx, "list columns of "+table, err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, stepError(ctx, "list columns of "+table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%w: table %s is missing", ErrNotSample, table)
	}
	return cols, nil
}
