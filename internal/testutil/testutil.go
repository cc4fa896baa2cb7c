// Package testutil holds the helpers statsnap's tests share: copying
// folders, hashing files, opening DuckDB, and writing a snapshot the way
// the seed's Python script did. It is imported by tests only.
package testutil

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// CopyFile copies a regular file, keeping its mode and creating the
// destination's folders.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// CopyDir copies the regular files of a folder (not its subfolders, and
// not statsnap's lock file) into to, creating it.
func CopyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Type().IsRegular() && de.Name() != storage.LockName {
			CopyFile(t, filepath.Join(from, de.Name()), filepath.Join(to, de.Name()))
		}
	}
}

// Names lists the names in a folder, sorted, without statsnap's lock
// file (which any command may create).
func Names(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != storage.LockName {
			out = append(out, de.Name())
		}
	}
	return out
}

// FlipByte damages the file at path by inverting its middle byte, as a
// faulty disk or copy would (its modification time changes too).
func FlipByte(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BLAKE3 returns the hex BLAKE3-256 of data, as manifests record it.
func BLAKE3(data []byte) string {
	s := blake3.Sum256(data)
	return hex.EncodeToString(s[:])
}

// FileBLAKE3 returns the hex BLAKE3-256 of the file at path.
func FileBLAKE3(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return BLAKE3(data)
}

// OpenDB opens the DuckDB database at path, read-only unless write, and
// closes it when the test ends. ":memory:" opens an empty in-memory one.
func OpenDB(t testing.TB, path string, write bool) *sql.DB {
	t.Helper()
	db, err := dbfile.Open(context.Background(), path, !write)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Conn opens one connection to the DuckDB database at path (read-only
// unless write; ":memory:" for an empty in-memory one). A connection, not
// a pool: ATTACH and temporary objects stay with it. done closes it and
// its database; it may be called more than once, and runs when the test
// ends if the test has not called it (a database stays locked while it is
// open, so tests that open one file many times close as they go).
func Conn(t testing.TB, path string, write bool) (conn *sql.Conn, done func()) {
	t.Helper()
	db, err := dbfile.Open(context.Background(), path, !write)
	if err != nil {
		t.Fatal(err)
	}
	conn, err = db.Conn(context.Background())
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	var once sync.Once
	done = func() {
		once.Do(func() {
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(done)
	return conn, done
}

// Attached is Conn to an in-memory DuckDB with each database of dbs
// (alias to path) attached read-only under its alias, to compare them in
// one query.
func Attached(t testing.TB, dbs map[string]string) (conn *sql.Conn, done func()) {
	t.Helper()
	conn, done = Conn(t, ":memory:", true)
	for alias, p := range dbs {
		if _, err := conn.ExecContext(context.Background(), "ATTACH "+sqlq.Literal(p)+" AS "+sqlq.Ident(alias)+" (READ_ONLY)"); err != nil {
			done()
			t.Fatal(err)
		}
	}
	return conn, done
}

// Exec runs statements in a fresh in-memory DuckDB.
func Exec(t testing.TB, stmts ...string) {
	t.Helper()
	db := OpenDB(t, ":memory:", true)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Querier is what Strings queries: a *sql.DB or a *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Strings runs q and returns its single column's values, in order.
func Strings(t testing.TB, db Querier, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Int64 runs q, which must return one row of one non-NULL integer, and
// returns it (a count, say).
func Int64(t testing.TB, db Querier, q string, args ...any) int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out []*int64
	for rows.Next() {
		var n *int64
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if len(out) != 1 || out[0] == nil {
		t.Fatalf("%d rows (or a NULL), want one integer\n%s", len(out), q)
	}
	return *out[0]
}

// Numbered is the rows of a VALUES list, (i, v) for each SQL value v of
// values, i counting from 0.
func Numbered(values []string) string {
	rows := make([]string, len(values))
	for i, v := range values {
		rows[i] = "(" + strconv.Itoa(i) + ", " + v + ")"
	}
	return strings.Join(rows, ", ")
}

// SeedExport writes a snapshot of the database at src into folder the
// way the seed's backup_player.py did: DuckDB's COPY of every main table
// to {table}_{id}.parquet (zstd), then, with metadata, its metadata JSON
// (no format_version, no hashes, no DDL) naming gamertag. It returns the
// rows of each table.
func SeedExport(t testing.TB, src, folder, gamertag, id string, metadata bool) map[string]int64 {
	t.Helper()
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	db := OpenDB(t, src, false)
	names := Strings(t, db, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name`)
	type entry struct {
		Rows          int64  `json:"rows"`
		FileSizeBytes int64  `json:"file_size_bytes"`
		File          string `json:"file"`
	}
	entries := map[string]entry{}
	counts := map[string]int64{}
	var total int64
	for _, n := range names {
		file := n + "_" + id + ".parquet"
		path := filepath.Join(folder, file)
		table := "main." + sqlq.Ident(n)
		if _, err := db.Exec("COPY (SELECT * FROM " + table + ") TO " + sqlq.Literal(path) + " (FORMAT PARQUET, COMPRESSION 'zstd')"); err != nil {
			t.Fatalf("copy %s: %v", n, err)
		}
		var c int64
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&c); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		entries[n] = entry{Rows: c, FileSizeBytes: fi.Size(), File: file}
		counts[n] = c
		total += fi.Size()
	}
	if !metadata {
		return counts
	}
	meta := map[string]any{
		"gamertag":          gamertag,
		"backup_timestamp":  id,
		"backup_datetime":   id[:4] + "-" + id[4:6] + "-" + id[6:8] + "T" + id[9:11] + ":" + id[11:13] + ":" + id[13:15] + ".123456",
		"source_db":         src,
		"compression":       "zstd",
		"compression_level": 9,
		"tables":            entries,
		"total_size_bytes":  total,
		"total_size_mb":     math.Round(float64(total)/(1<<20)*100) / 100,
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, snapshot.ManifestName(id)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return counts
}

// WriteDB creates the DuckDB database at path with stmts run in it.
func WriteDB(t testing.TB, path string, stmts ...string) {
	t.Helper()
	WriteDBWith(t, path, dbfile.Options{}, stmts...)
}

// WriteDBWith is WriteDB with open options (a storage version, say).
func WriteDBWith(t testing.TB, path string, o dbfile.Options, stmts ...string) {
	t.Helper()
	db, err := dbfile.OpenWith(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
