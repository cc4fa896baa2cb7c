// Package sample writes demo OpenSpartan Graph player databases: a realistic
// v4 schema (tables, primary keys, CHECK and UNIQUE constraints, defaults,
// sequences, an enum type, a macro, indexes, views and comments) filled with a
// made-up match history. The data is derived from a seed alone, so the same
// options always give the same rows, and it is produced by set-based SQL
// inside DuckDB, so large histories take seconds.
package sample

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/fsutil"
)

// DefaultMatches is the history length used when Options.Matches is 0.
const DefaultMatches = 500

// MaxMatches bounds a history; beyond it the database would run to tens of
// gigabytes, which is not a demo any more.
const MaxMatches = 10_000_000

// TempPrefix starts the name of the file a database is built in before it
// is moved to its final name.
const TempPrefix = ".statsnap-sample-"

// Options choose the player and the history to generate.
type Options struct {
	// Gamertag is the player's name, recorded in the data. It may contain
	// spaces and non-ASCII letters.
	Gamertag string
	// Matches is the number of matches; 0 means DefaultMatches.
	Matches int
	// Seed selects the history: the same seed, matches and gamertag give the
	// same rows.
	Seed int64
}

// Summary describes a generated database.
type Summary struct {
	// Path is the database file, as given to Generate.
	Path string
	// Tables holds the rows of each table, keyed by the table's name, or by
	// "schema.name" when the schema is not main.
	Tables map[string]int64
	// Bytes is the size of the database file.
	Bytes int64
}

// Generate writes a new demo player database at path.
//
// It never replaces an existing file: if path exists the error wraps
// fs.ErrExist. The database is built under a temporary name in the same
// folder, checkpointed, closed, fsynced and only then moved into place, so a
// crash or a cancelled ctx never leaves a partial database at path. Missing
// parent folders are created.
func Generate(ctx context.Context, path string, opt Options) (Summary, error) {
	if err := validate(path, &opt); err != nil {
		return Summary{}, err
	}
	if _, err := os.Lstat(path); err == nil {
		return Summary{}, fmt.Errorf("sample: %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Summary{}, fmt.Errorf("sample: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := tempName(dir)
	if err != nil {
		return Summary{}, err
	}
	// The same names as backup: dbfile takes any character but '?', which
	// DuckDB cannot keep a WAL beside.
	if strings.Contains(path, "?") {
		return Summary{}, fmt.Errorf("sample: %s: %w", path, dbfile.ErrQuestionMark)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("sample: create folder: %w", err)
	}

	published := false
	defer func() {
		if !published {
			removeTemp(tmp)
		}
	}()

	tables, err := build(ctx, tmp, opt)
	// DuckDB spills to <file>.tmp when memory runs short; it is scratch
	// space either way.
	_ = os.RemoveAll(tmp + ".tmp")
	if err != nil {
		return Summary{}, fmt.Errorf("sample: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, fmt.Errorf("sample: %w", err)
	}
	// A WAL left beside the file would hold data that the renamed file does
	// not; CHECKPOINT on close should have folded it in.
	if _, err := os.Lstat(tmp + ".wal"); err == nil {
		return Summary{}, fmt.Errorf("sample: %s.wal still present after checkpoint", tmp)
	}
	// Never replaces a database that appeared at path meanwhile.
	if err := fsutil.PublishNew(tmp, path); err != nil {
		return Summary{}, fmt.Errorf("sample: %w", err)
	}
	published = true
	info, err := os.Stat(path)
	if err != nil {
		return Summary{}, fmt.Errorf("sample: %w", err)
	}
	return Summary{Path: path, Tables: tables, Bytes: info.Size()}, nil
}

func validate(path string, opt *Options) error {
	if path == "" {
		return errors.New("sample: empty database path")
	}
	if opt.Matches == 0 {
		opt.Matches = DefaultMatches
	}
	if opt.Matches < 0 || opt.Matches > MaxMatches {
		return fmt.Errorf("sample: matches must be between 1 and %d, got %d", MaxMatches, opt.Matches)
	}
	g := opt.Gamertag
	if strings.TrimSpace(g) == "" {
		return errors.New("sample: empty gamertag")
	}
	if !utf8.ValidString(g) {
		return errors.New("sample: gamertag is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(g); n > 64 {
		return fmt.Errorf("sample: gamertag is %d characters long, at most 64 allowed", n)
	}
	for _, r := range g {
		if unicode.IsControl(r) {
			return fmt.Errorf("sample: gamertag contains control character %U", r)
		}
	}
	return nil
}

// tempName picks an unused name in dir. DuckDB refuses to open an existing
// empty file, so the name cannot be reserved with os.CreateTemp; 128 random
// bits make a clash with another writer practically impossible.
func tempName(dir string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sample: temporary name: %w", err)
	}
	return filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:])+".duckdb"), nil
}

// removeTemp deletes the temporary database and the files DuckDB may have
// created next to it (write-ahead log, spill folder).
func removeTemp(tmp string) {
	_ = os.Remove(tmp)
	_ = os.Remove(tmp + ".wal")
	_ = os.RemoveAll(tmp + ".tmp")
}

// Test hooks: stepDone observes how long each statement took; threads, when
// positive, caps DuckDB's worker threads (to show results do not depend on
// it).
var (
	stepDone func(name string, d time.Duration)
	threads  int
)

// build creates and fills the database at file and returns its row counts.
func build(ctx context.Context, file string, opt Options) (tables map[string]int64, err error) {
	db, err := dbfile.Open(ctx, file, false)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	// One connection throughout: temporary tables, macros and settings
	// belong to the connection that made them.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close connection: %w", cerr)
		}
	}()

	// TIMESTAMP to TIMESTAMPTZ casts use the session zone; pinning it keeps
	// the stored instants independent of the machine's zone.
	if _, err := conn.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return nil, fmt.Errorf("set time zone: %w", err)
	}
	if threads > 0 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
			return nil, fmt.Errorf("set threads: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx,
		`CREATE TEMP TABLE tmp_player AS
		SELECT ?::VARCHAR AS gamertag,
			2533274000000000 + (hash('xuid', ?::VARCHAR) % 1000000000::UBIGINT)::BIGINT AS xuid`,
		opt.Gamertag, opt.Gamertag); err != nil {
		return nil, stepError(ctx, "record player", err)
	}
	for _, s := range dataSteps(opt.Matches, opt.Seed) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := conn.ExecContext(ctx, s.sql); err != nil {
			return nil, stepError(ctx, s.name, err)
		}
		if stepDone != nil {
			stepDone(s.name, time.Since(start))
		}
	}
	// The application inserts through the sequences' defaults; we wrote the
	// ids ourselves (for determinism), so draw the sequences up to the same
	// point to leave them where the application would have.
	for _, sq := range []struct{ seq, table, column string }{
		{"highlight_events_id_seq", "highlight_events", "id"},
		{"sessions_id_seq", "sessions", "session_id"},
	} {
		start := time.Now()
		if err := advanceSequence(ctx, conn, sq.seq, sq.table, sq.column); err != nil {
			return nil, err
		}
		if stepDone != nil {
			stepDone("advance "+sq.seq, time.Since(start))
		}
	}
	for _, s := range finishDDL {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := conn.ExecContext(ctx, s.sql); err != nil {
			return nil, stepError(ctx, s.name, err)
		}
		if stepDone != nil {
			stepDone(s.name, time.Since(start))
		}
	}
	tables, err = countRows(ctx, conn)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, stepError(ctx, "checkpoint", err)
	}
	if stepDone != nil {
		stepDone("checkpoint", time.Since(start))
	}
	return tables, nil
}

// stepError reports a failed statement. When ctx ended, DuckDB reports the
// interruption in its own words; the context's error says why, and lets
// callers test for context.Canceled.
func stepError(ctx context.Context, name string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w", name, cerr)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func advanceSequence(ctx context.Context, conn *sql.Conn, seq, table, column string) error {
	var last int64
	q := fmt.Sprintf("SELECT coalesce(max(%s), 0) FROM %s", sqlIdent(column), sqlIdent(table))
	if err := conn.QueryRowContext(ctx, q).Scan(&last); err != nil {
		return stepError(ctx, "advance "+seq, err)
	}
	if last == 0 {
		return nil
	}
	var got int64
	q = fmt.Sprintf("SELECT max(nextval(%s)) FROM range(%d)", sqlString(seq), last)
	if err := conn.QueryRowContext(ctx, q).Scan(&got); err != nil {
		return stepError(ctx, "advance "+seq, err)
	}
	if got != last {
		return fmt.Errorf("advance %s: reached %d, want %d", seq, got, last)
	}
	return nil
}

func countRows(ctx context.Context, conn *sql.Conn) (map[string]int64, error) {
	rows, err := conn.QueryContext(ctx, `
		SELECT schema_name, table_name FROM duckdb_tables()
		WHERE database_name = current_database() AND NOT temporary
		ORDER BY schema_name, table_name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	type table struct{ schema, name string }
	var list []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.schema, &t.name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	counts := make(map[string]int64, len(list))
	for _, t := range list {
		var n int64
		q := "SELECT count(*) FROM " + sqlIdent(t.schema) + "." + sqlIdent(t.name)
		if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s.%s: %w", t.schema, t.name, err)
		}
		key := t.name
		if t.schema != "main" {
			key = t.schema + "." + t.name
		}
		counts[key] = n
	}
	return counts, nil
}
