// Package backup writes snapshots: one Parquet file per table, all read
// from a source opened read-only (so no writer can change it meanwhile),
// and a manifest committed last.
package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/parquetfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// MemoryLimit caps DuckDB's buffers during a backup (BackupOptions can
// set another). A table whose row groups do not fit is retried with
// DuckDB's own default (80% of RAM).
const MemoryLimit = "512MB"

// Compression levels zstd accepts.
const (
	MinCompressionLevel     = 1
	MaxCompressionLevel     = 22
	DefaultCompressionLevel = 9
)

// BackupOptions describes one backup.
type BackupOptions struct {
	Source           string // DuckDB file, opened read-only
	Gamertag         string
	Folder           storage.Folder
	CompressionLevel int
	NoMetadata       bool      // the seed's bare export: Parquet files only
	Time             time.Time // zero: now
	// TimeGiven says Time came from the user: an id that is taken is then
	// an error instead of a reason to wait for the next second.
	TimeGiven bool
	Key       []byte // non-nil: add a MAC
	// Jobs is how many tables are written at once, each on its own
	// connection (0: two, or one on a single CPU).
	Jobs int
	// MemoryLimit is DuckDB's memory_limit for the backup (empty:
	// MemoryLimit). It must be a size DuckDB accepts, such as "512MB".
	MemoryLimit string
	LockWait    time.Duration
	// defaultLimit is DuckDB's own memory_limit, read before ours is set:
	// the limit a table that does not fit is retried with.
	defaultLimit string
	// Progress, when set, is called before and after each table.
	Progress func(Progress)
}

// Progress reports one step of a backup.
type Progress struct {
	Table string
	Index int // 1-based
	Count int
	Rows  int64
	Bytes int64
	Done  bool
}

// BackupResult is a committed snapshot.
type BackupResult struct {
	ID           string
	ManifestName string // empty with NoMetadata
	Manifest     *snapshot.Manifest
	Cleanup      snapshot.Cleanup // leftovers of earlier crashes removed first
}

// Errors a caller decides on.
var (
	ErrIDTaken       = errors.New("snapshot id already used")
	ErrRowsDisagree  = errors.New("row count of the written file disagrees with DuckDB")
	ErrBadCompressor = errors.New("compression level out of range")
)

// Backup writes one snapshot of opt.Source into opt.Folder, committing in
// SPEC's order so that a crash at any point leaves either no snapshot
// (and a journal naming the leftovers) or a complete one.
func Backup(ctx context.Context, opt BackupOptions) (*BackupResult, error) {
	if opt.CompressionLevel < MinCompressionLevel || opt.CompressionLevel > MaxCompressionLevel {
		return nil, fmt.Errorf("%w: %d (zstd levels are %d to %d)", ErrBadCompressor, opt.CompressionLevel, MinCompressionLevel, MaxCompressionLevel)
	}
	f := opt.Folder
	unlock, err := f.Lock(ctx, true, opt.LockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := time.Now()
	res := &BackupResult{}
	if res.Cleanup, err = snapshot.Recover(ctx, f, now); err != nil {
		return nil, fmt.Errorf("clean up an earlier interrupted run: %w", err)
	}

	db, err := dbfile.Open(ctx, opt.Source, true)
	if err != nil {
		return nil, err
	}
	var conn *sql.Conn
	// Closing DuckDB takes about 30 ms (it frees its buffers): once the
	// tables are copied it runs alongside the manifest's commit.
	release := sync.OnceFunc(func() {
		if conn != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
		}
		db.Close()
	})
	defer release()
	conn, err = db.Conn(ctx)
	if err != nil {
		return nil, dbfile.Classify(opt.Source, err)
	}
	// DuckDB's default memory limit (80% of RAM) lets a COPY of 12 million
	// rows hold 1.1-1.4 GB. The limit is shared by the connections that copy
	// tables side by side; measured at 16M rows with two of them: 1 GB
	// peaked at 1.02-1.1 GB, 512 MB at 0.77 GB in the same time (8.9 s
	// against 8.6-8.9 s). A table whose row groups do not fit is copied
	// again under DuckDB's default (copyTable). (Dropping
	// preserve_insertion_order saves as much but makes files differ from
	// one backup of the same data to the next.)
	limit := opt.MemoryLimit
	if limit == "" {
		limit = MemoryLimit
	}
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&opt.defaultLimit); err != nil {
		return nil, fmt.Errorf("read memory limit: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET memory_limit = "+catalog.Literal(limit)); err != nil {
		return nil, fmt.Errorf("set memory limit: %w", err)
	}
	// The read-only open already keeps writers out of the file; the
	// transaction also pins this connection's view of it.
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}

	started := time.Now()
	cat, err := catalog.ReadTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	slog.Debug("read tables", "tables", len(cat.Tables), "took", time.Since(started))
	var tables []plannedTable
	seen := map[string]catalog.Table{}
	for _, t := range cat.Tables {
		if other, ok := seen[t.Key()]; ok {
			return nil, fmt.Errorf("tables %s.%s and %s.%s have the same manifest key %q; rename one", other.Schema, other.Name, t.Schema, t.Name, t.Key())
		}
		seen[t.Key()] = t
		cols := make([]codec.ColumnPlan, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = codec.ColumnPlan{Name: c.Name, Type: c.Type}
		}
		plans, err := codec.Plan(t.Key(), t.CreateSQL, cols)
		if err != nil {
			return nil, err
		}
		tables = append(tables, plannedTable{t: t, plans: plans})
	}

	slog.Debug("planned encodings", "took", time.Since(started))
	taken := opt.Time
	if taken.IsZero() {
		taken = now
	}
	id, err := chooseID(ctx, f, taken, opt.TimeGiven)
	if err != nil {
		return nil, err
	}
	if !opt.TimeGiven {
		taken = time.Now()
		if snapshot.FormatID(taken) != id {
			taken, _ = snapshot.IDTime(id)
		}
	}
	res.ID = id

	names := map[string]bool{}
	var finals []string
	for i := range tables {
		tables[i].file = snapshot.TableFileName(tables[i].t.Key(), id, names)
		finals = append(finals, tables[i].file)
	}
	manifestName := snapshot.ManifestName(id)
	if !opt.NoMetadata {
		finals = append(finals, manifestName)
	}
	jn := snapshot.PendingName(id)
	if err := snapshot.WritePending(ctx, f, id, finals); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Undo with a fresh context: a Ctrl-C must still clean up.
		cctx := context.Background()
		for i := range tables {
			f.Remove(cctx, snapshot.TempName(id, fmt.Sprintf("%d.parquet", i)))
		}
		f.Remove(cctx, snapshot.TempName(id, "manifest.json"))
		for _, n := range finals {
			f.Remove(cctx, n)
		}
		f.Sync(cctx)
		f.Remove(cctx, jn)
		f.Sync(cctx)
	}()

	m := &snapshot.Manifest{
		Gamertag:         opt.Gamertag,
		BackupTimestamp:  id,
		BackupDatetime:   taken.Format(snapshot.DatetimeLayout),
		SourceDB:         opt.Source,
		Compression:      "zstd",
		CompressionLevel: opt.CompressionLevel,
		Tables:           map[string]*snapshot.Table{},
		FormatVersion:    snapshot.FormatVersion,
		ToolVersion:      snapshot.ToolVersion,
		DuckDBVersion:    cat.DuckDBVersion,
		StorageVersion:   cat.StorageVersion,
		HashAlgorithm:    "blake3",
	}
	copyStart := time.Now()
	// The rest of the catalog is read on this connection while the others
	// start on the largest tables.
	readObjects := func() error {
		if err := cat.ReadObjects(ctx, conn); err != nil {
			return err
		}
		slog.Debug("read catalog", "took", time.Since(copyStart))
		return nil
	}
	entries, err := copyTables(ctx, db, conn, readObjects, f, opt, id, tables)
	if err != nil {
		return nil, err
	}
	slog.Debug("copied tables", "took", time.Since(copyStart))
	go release()
	m.Schemas, m.Types, m.Sequences = cat.Schemas, cat.Types, cat.Sequences
	m.Indexes, m.Views, m.Macros, m.Comments = cat.Indexes, cat.Views, cat.Macros, cat.Comments
	for i, pt := range tables {
		key := pt.t.Key()
		m.Tables[key] = entries[i]
		m.TableOrder = append(m.TableOrder, key)
		m.TotalSizeBytes += entries[i].FileSizeBytes
	}
	if err := f.Sync(ctx); err != nil {
		return nil, err
	}
	m.TotalSizeMB = math.Round(float64(m.TotalSizeBytes)/(1<<20)*100) / 100
	res.Manifest = m
	if !opt.NoMetadata {
		data, err := snapshot.Marshal(m, opt.Key)
		if err != nil {
			return nil, fmt.Errorf("encode manifest: %w", err)
		}
		tmp := snapshot.TempName(id, "manifest.json")
		if err := f.WriteFile(ctx, tmp, data); err != nil {
			return nil, fmt.Errorf("write manifest: %w", err)
		}
		if err := f.Publish(ctx, tmp, manifestName); err != nil {
			return nil, fmt.Errorf("write manifest: %w", err)
		}
		if err := f.Sync(ctx); err != nil {
			return nil, err
		}
		res.ManifestName = manifestName
	}
	committed = true
	// From here the snapshot exists; a failure to drop the journal only
	// leaves work for the next run, which sees the manifest and keeps it.
	if err := f.Remove(ctx, jn); err != nil {
		slog.Warn("could not remove backup journal", "journal", jn, "err", err)
	} else if err := f.Sync(ctx); err != nil {
		slog.Warn("could not sync backup folder", "err", err)
	}
	return res, nil
}

type plannedTable struct {
	t     catalog.Table
	plans []codec.ColumnPlan
	file  string
}

// copyTables writes the tables on up to jobs connections at once, the
// largest first. EXPORT DATABASE does the same: a small table's COPY cannot
// keep two cores busy, so one at a time leaves a core idle for most of a
// small database's backup. Every connection sees the same data: the source
// is open read-only, which keeps writers out of the file until we close it.
//
// before runs on the first connection, while the others already copy.
func copyTables(ctx context.Context, db *sql.DB, first *sql.Conn, before func() error, f storage.Folder, opt BackupOptions, id string, tables []plannedTable) ([]*snapshot.Table, error) {
	jobs := opt.Jobs
	if jobs <= 0 {
		// Two is what was measured (time and peak memory, BENCHMARKS.md);
		// each COPY already runs on every core, so more connections would
		// mostly add the memory each one's row groups hold.
		jobs = min(runtime.GOMAXPROCS(0), 2)
	}
	jobs = min(jobs, len(tables))
	order := make([]int, len(tables))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return tables[order[a]].t.EstimatedRows > tables[order[b]].t.EstimatedRows
	})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex // guards next, failed and the Progress calls
		next   int
		failed error
	)
	report := func(p Progress) {
		if opt.Progress != nil {
			opt.Progress(p)
		}
	}
	entries := make([]*snapshot.Table, len(tables))
	work := func(conn *sql.Conn) {
		for {
			mu.Lock()
			if next == len(order) || failed != nil {
				mu.Unlock()
				return
			}
			i := order[next]
			next++
			index := next // 1-based, in the order tables start
			key := tables[i].t.Key()
			report(Progress{Table: key, Index: index, Count: len(tables)})
			mu.Unlock()

			entry, err := copyTable(ctx, conn, f, opt, id, i, tables[i])
			mu.Lock()
			if err != nil {
				if failed == nil {
					failed = err
					cancel()
				}
				mu.Unlock()
				return
			}
			entries[i] = entry
			report(Progress{Table: key, Index: index, Count: len(tables), Rows: entry.Rows, Bytes: entry.FileSizeBytes, Done: true})
			mu.Unlock()
		}
	}

	var wg sync.WaitGroup
	for w := 1; w < jobs; w++ {
		conn, err := readConn(ctx, db)
		if err != nil {
			// One connection still does the whole job.
			slog.Debug("extra connection for backup", "err", err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			defer conn.ExecContext(context.Background(), "ROLLBACK")
			work(conn)
		}()
	}
	if err := before(); err != nil {
		mu.Lock()
		if failed == nil {
			failed = err
			cancel()
		}
		mu.Unlock()
	} else {
		work(first)
	}
	wg.Wait()
	if failed != nil {
		// Only the first failure is kept: the others were cancelled by it.
		return nil, failed
	}
	return entries, nil
}

// readConn opens one more connection inside its own transaction.
func readConn(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// copyTable writes table i to its staged file and publishes it under its
// final name.
func copyTable(ctx context.Context, conn *sql.Conn, f storage.Folder, opt BackupOptions, id string, i int, pt plannedTable) (*snapshot.Table, error) {
	staged := snapshot.TempName(id, fmt.Sprintf("%d.parquet", i))
	entry, err := writeTable(ctx, conn, f, pt.t, pt.plans, staged, opt.CompressionLevel)
	if err != nil && outOfMemory(err) && ctx.Err() == nil {
		// The limit keeps a backup of narrow tables under 1 GiB, but a row
		// group of wide rows (long strings, big lists) can need more than
		// it, and DuckDB cannot spill that: a bigger backup beats a failed
		// one. (A source holding 600,000 rows of 2 KB strings failed at
		// 512 MB.)
		slog.Info("a table needs more memory than the backup's limit; copying it again with DuckDB's default limit",
			"table", pt.t.Key(), "err", err)
		f.Remove(ctx, staged)
		if lerr := liftMemoryLimit(ctx, conn, opt.defaultLimit); lerr != nil {
			return nil, fmt.Errorf("back up table %s: %w (lifting the memory limit to retry failed: %v)", pt.t.Key(), err, lerr)
		}
		entry, err = writeTable(ctx, conn, f, pt.t, pt.plans, staged, opt.CompressionLevel)
	}
	if err == nil {
		err = f.Publish(ctx, staged, pt.file)
	}
	if err != nil {
		return nil, fmt.Errorf("back up table %s: %w", pt.t.Key(), err)
	}
	entry.File = pt.file
	return entry, nil
}

// outOfMemory reports whether err is DuckDB running out of its memory
// limit.
func outOfMemory(err error) bool {
	var de *duckdb.Error
	if errors.As(err, &de) {
		return de.Type == duckdb.ErrorTypeOutOfMemory
	}
	return strings.Contains(err.Error(), "Out of Memory Error")
}

// liftMemoryLimit puts DuckDB's memory limit back to its default for
// every connection and starts conn's transaction again: the failed COPY
// aborted it. The source is read-only, so the new transaction sees the
// same data. (RESET memory_limit changes the setting but, in DuckDB
// 1.5.6, not the buffer pool's limit; SET does both.)
func liftMemoryLimit(ctx context.Context, conn *sql.Conn, limit string) error {
	for _, q := range []string{"ROLLBACK", "SET memory_limit = " + catalog.Literal(limit), "BEGIN TRANSACTION"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// chooseID returns the snapshot id for time t that no file of the folder
// uses yet. Two backups in the same second wait for the next one, unless
// the time was given, which makes a taken id an error.
func chooseID(ctx context.Context, f storage.Folder, t time.Time, given bool) (string, error) {
	for attempt := 0; ; attempt++ {
		id := snapshot.FormatID(t)
		used, err := idUsed(ctx, f, id)
		if err != nil {
			return "", err
		}
		if !used {
			return id, nil
		}
		if given {
			return "", fmt.Errorf("%w: %s already holds snapshot %s; choose another --time", ErrIDTaken, f.Location(), id)
		}
		if attempt >= 5 {
			return "", fmt.Errorf("%w: %s", ErrIDTaken, id)
		}
		next := t.Truncate(time.Second).Add(time.Second)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Until(next)):
		}
		t = time.Now()
	}
}

func idUsed(ctx context.Context, f storage.Folder, id string) (bool, error) {
	entries, err := f.List(ctx)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if _, eid := snapshot.Classify(e.Name); eid == id {
			return true, nil
		}
	}
	return false, nil
}

// writeTable copies one table to a staged Parquet file, then reads the
// file back: BLAKE3 of its bytes, row count and schema from its footer.
func writeTable(ctx context.Context, conn *sql.Conn, f storage.Folder, t catalog.Table, plans []codec.ColumnPlan, staged string, level int) (*snapshot.Table, error) {
	begun := time.Now()
	from := catalog.Ident(t.Schema) + "." + catalog.Ident(t.Name)
	var counted int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+from).Scan(&counted); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	path, err := f.StagePath(staged)
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL %d, RETURN_STATS)",
		codec.SelectList(plans), from, catalog.Literal(path), level)
	var written int64
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("write parquet: %w", err)
		}
		for i, c := range cols {
			if c == "count" {
				written += toInt64(vals[i])
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	if written != counted {
		return nil, fmt.Errorf("%w: COPY wrote %d rows, count(*) says %d", ErrRowsDisagree, written, counted)
	}
	copied := time.Now()
	r, err := f.Open(ctx, staged)
	if err != nil {
		return nil, fmt.Errorf("reopen written file: %w", err)
	}
	defer r.Close()
	sum, size, err := snapshot.HashFile(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("hash written file: %w", err)
	}
	info, err := parquetfile.Inspect(r)
	if err != nil {
		return nil, err
	}
	slog.Debug("wrote table", "table", t.Key(), "rows", counted, "copy", copied.Sub(begun), "check", time.Since(copied))
	if info.Rows != counted {
		return nil, fmt.Errorf("%w: the footer says %d rows, DuckDB counted %d", ErrRowsDisagree, info.Rows, counted)
	}
	entry := &snapshot.Table{
		Rows:          counted,
		FileSizeBytes: size,
		Schema:        t.Schema,
		Name:          t.Name,
		BLAKE3:        sum,
		CreateSQL:     t.CreateSQL,
		ArrowSchema:   &snapshot.ArrowSchema{Fields: info.Fields, IPC: info.IPC},
	}
	for _, p := range plans {
		entry.Columns = append(entry.Columns, snapshot.Column{Name: p.Name, Type: p.Type, Encoding: p.Encoding, Generated: p.Generated})
	}
	return entry, nil
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case int32:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// SourceMissing reports whether err means the source database is missing.
func SourceMissing(err error) bool {
	return errors.Is(err, dbfile.ErrNotExist) || errors.Is(err, os.ErrNotExist)
}
