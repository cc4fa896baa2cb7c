// Package backup writes snapshots: one Parquet file per table, all read
// from a source opened read-only (so no writer can change it meanwhile),
// and a manifest committed last.
package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/parquetfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// MemoryLimit caps DuckDB's buffers during a backup (Options can set
// another). A table whose row groups do not fit is retried with DuckDB's
// own default (80% of RAM).
const MemoryLimit = "512MB"

// Compression levels zstd accepts.
const (
	MinCompressionLevel     = 1
	MaxCompressionLevel     = 22
	DefaultCompressionLevel = 9
)

// Options describe one backup. Backup only reads them.
type Options struct {
	Source           string // DuckDB file, opened read-only
	Gamertag         string
	Folder           storage.Folder
	CompressionLevel int
	NoMetadata       bool // the seed's bare export: Parquet files only
	// Time, when set, is when the snapshot counts as taken (its id and
	// backup_datetime), and an id that is taken is then an error. Zero
	// means now, waiting for the next second when this one's id is taken.
	Time time.Time
	Key  []byte // non-nil: add a MAC
	// Full writes every table anew. Otherwise files of the newest earlier
	// snapshot whose rows are proven unchanged are shared (incremental).
	Full bool
	// SkipTables are manifest keys ("name", or "schema.name" outside
	// main) of tables to leave out. The snapshot then records them as
	// skipped and is partial. A table that cannot be carried fails the
	// backup with an *UncarriableError unless it is listed here.
	SkipTables []string
	// SkipAbsentOK: a SkipTables name the source lacks is no error (one
	// list for many players' databases); otherwise it is ErrNoSuchSkip.
	SkipAbsentOK bool
	// ReuseMaxAge is how recent a ledger record of a passed hash check
	// must be to share a file without hashing it again (0: DefaultReuseMaxAge).
	ReuseMaxAge time.Duration
	// Jobs is how many tables are written at once, each on its own
	// connection (0: two, or one on a single CPU).
	Jobs int
	// MemoryLimit is DuckDB's memory_limit for the backup (empty:
	// MemoryLimit). It must be a size DuckDB accepts, such as "512MB".
	MemoryLimit string
	// Progress, when set, is called before and after each table.
	Progress func(Progress)
	// Event, when set, is called at the moments around the commit point
	// (the manifest's publication): "before-commit" (an interruption now
	// removes everything), "at-commit" (past the last cancellation check:
	// the snapshot is committed whatever comes now) and "after-commit".
	// Fault-injection tests signal the process there.
	Event func(ctx context.Context, point string)
}

// event calls opt.Event, when set.
func (o Options) event(ctx context.Context, point string) {
	if o.Event != nil {
		o.Event(ctx, point)
	}
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

// Result is a committed snapshot.
type Result struct {
	ID           string
	ManifestName string // empty with NoMetadata
	// ManifestBytes is the manifest's size: with the Parquet files'
	// (Manifest.TotalSizeBytes, the seed's figure) it is what the snapshot
	// takes on disk.
	ManifestBytes int64
	Manifest      *snapshot.Manifest
	Cleanup       snapshot.Cleanup // leftovers of earlier crashes removed first
	// LedgerErr is a failure to record the new files in the verification
	// ledger: the snapshot stands, its first verify only reads more.
	LedgerErr error
	// Base is the earlier snapshot files were shared with ("" for a full
	// snapshot); NewFiles and NewBytes what this one wrote, SharedFiles
	// and SharedBytes what it names of earlier ones.
	Base                  string
	NewFiles, SharedFiles int
	NewBytes, SharedBytes int64
	// Refused are files of the base that did not match their manifest
	// when hashed again: their rows were written anew. Rehashed counts the
	// base files hashed again because no fresh ledger record vouched.
	Refused  []string
	Rehashed int
}

// Errors a caller decides on.
var (
	ErrIDTaken       = errors.New("snapshot id already used")
	ErrRowsDisagree  = errors.New("row count of the written file disagrees with DuckDB")
	ErrBadCompressor = errors.New("compression level out of range")
	// ErrSourceMissing: there is no database at Options.Source.
	ErrSourceMissing = errors.New("source database does not exist")
	// ErrNoSuchSkip: Options.SkipTables names a table the source lacks.
	ErrNoSuchSkip = errors.New("no such table to skip")
)

// UncarriableError is a table statsnap cannot back up faithfully. Nothing
// is written: the user decides whether to leave it out (SkipTables) and
// back up the rest.
type UncarriableError struct {
	Table string // its manifest key
	Err   error
}

func (e *UncarriableError) Error() string {
	return fmt.Sprintf("table %s cannot be carried: %v", e.Table, e.Err)
}

func (e *UncarriableError) Unwrap() error { return e.Err }

// ForeignKeyError is a table kept in the snapshot whose foreign key points
// to a skipped one: restore could not create it.
type ForeignKeyError struct {
	Table, Skipped string // manifest keys
}

func (e *ForeignKeyError) Error() string {
	return fmt.Sprintf("table %s has a foreign key to table %s, which is skipped; skip %s too", e.Table, e.Skipped, e.Table)
}

// run is one backup in progress: what each step found, for the next.
type run struct {
	manifestBytes int64 // set by commit
	opt           Options
	f             storage.Folder

	db           *sql.DB
	conn         *sql.Conn // the first connection, inside its transaction
	release      func()    // closes the source, once
	defaultLimit string    // DuckDB's own memory_limit, to retry a table with
	limit        string    // the backup's memory_limit
	cat          *catalog.Catalog
	tables       []plannedTable
	skipped      []snapshot.SkippedTable // left out with Options.SkipTables

	id      string
	taken   time.Time
	finals  []string // every final name the journal lists
	journal string

	base     *base                // the snapshot files are shared with, if any
	refused  []string             // base files that failed their check
	rehashed map[string]time.Time // base files hashed in this run, by mtime
	// objectsRead: the catalog's objects were read during the scans.
	objectsRead bool
}

// Backup writes one snapshot of opt.Source into opt.Folder, committing in
// SPEC's order so that a crash at any point leaves either no snapshot
// (and a journal naming the leftovers) or a complete one. The caller
// holds the folder's exclusive lock (the command takes it: see
// cmd/statsnap's lockFolder).
func Backup(ctx context.Context, opt Options) (*Result, error) {
	res, err := backup(ctx, opt)
	return res, dberr.Classify(err)
}

func backup(ctx context.Context, opt Options) (*Result, error) {
	if opt.CompressionLevel < MinCompressionLevel || opt.CompressionLevel > MaxCompressionLevel {
		return nil, fmt.Errorf("%w: %d (zstd levels are %d to %d)", ErrBadCompressor, opt.CompressionLevel, MinCompressionLevel, MaxCompressionLevel)
	}
	r := &run{opt: opt, f: opt.Folder, release: func() {}, rehashed: map[string]time.Time{}}
	defer func() { r.release() }()
	now := time.Now()
	res := &Result{}
	var err error
	if res.Cleanup, err = snapshot.Recover(ctx, r.f, now); err != nil {
		return nil, fmt.Errorf("clean up an earlier interrupted run: %w", err)
	}
	if err := r.openSource(ctx); err != nil {
		return nil, err
	}
	if err := r.planTables(ctx); err != nil {
		return nil, err
	}
	if err := r.chooseID(ctx, now); err != nil {
		return nil, err
	}
	res.ID = r.id
	if err := r.findBase(ctx); err != nil {
		return nil, err
	}
	if err := r.planFiles(ctx); err != nil {
		return nil, err
	}
	if err := r.writeJournal(ctx); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			r.undo(ctx)
		}
	}()
	entries, err := r.copyTables(ctx)
	if err != nil {
		return nil, err
	}
	// Closing DuckDB takes about 30 ms (it frees its buffers): once the
	// tables are copied it runs alongside the manifest's commit.
	go r.release()
	res.Manifest = r.manifest(entries)
	r.tally(res)
	opt.event(ctx, "before-commit")
	// The last moment an interruption undoes the backup. Committing is
	// not cancellable halfway: once begun, the manifest is written,
	// published and synced even if a signal lands, and the command
	// reports the snapshot it made.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opt.event(ctx, "at-commit")
	signalled := ctx
	ctx = context.WithoutCancel(ctx)
	if res.ManifestName, err = r.commit(ctx, res.Manifest); err != nil {
		return nil, err
	}
	res.ManifestBytes = r.manifestBytes
	committed = true
	opt.event(signalled, "after-commit")
	r.dropJournal(ctx)
	if !opt.NoMetadata {
		res.LedgerErr = recordLedger(ctx, r.f, opt.Key, r.id, res.Manifest, r.rehashed)
	}
	return res, nil
}

// openSource opens the source read-only on a first connection, sets the
// backup's memory limit and starts the transaction the catalog and the
// first tables are read in.
func (r *run) openSource(ctx context.Context) error {
	// DuckDB spills what its memory limit cannot hold to a private
	// folder, never beside the app's database (its default for a file).
	// A dead process's spill folder is removed by the next run.
	spill, err := fsutil.NewScratch("", "spill")
	if err != nil {
		return fmt.Errorf("create a temp folder for DuckDB: %w", err)
	}
	db, err := dbfile.OpenWith(ctx, r.opt.Source, dbfile.Options{ReadOnly: true, TempDir: spill.Dir})
	if errors.Is(err, dbfile.ErrNotExist) {
		_ = spill.Remove()
		return fmt.Errorf("%w: %w", ErrSourceMissing, err)
	}
	if err != nil {
		_ = spill.Remove()
		return err
	}
	r.db = db
	r.release = sync.OnceFunc(func() {
		defer func() { _ = spill.Remove() }()
		if r.conn != nil {
			// Cleanup must run even when ctx was cancelled.
			// Best effort: a connection that cannot roll back is closed.
			_, _ = r.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			r.conn.Close()
		}
		db.Close()
	})
	if r.conn, err = db.Conn(ctx); err != nil {
		return dbfile.Classify(r.opt.Source, err)
	}
	// DuckDB's default memory limit (80% of RAM) lets a COPY of 12 million
	// rows hold 1.1-1.4 GB. The limit is shared by the connections that copy
	// tables side by side; measured at 16M rows with two of them: 1 GB
	// peaked at 1.02-1.1 GB, 512 MB at 0.77 GB in the same time (8.9 s
	// against 8.6-8.9 s). A table whose row groups do not fit is copied
	// again under DuckDB's default (copyTable). (Dropping
	// preserve_insertion_order saves as much but makes files differ from
	// one backup of the same data to the next.)
	limit := r.opt.MemoryLimit
	if limit == "" {
		limit = MemoryLimit
	}
	if err := r.conn.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&r.defaultLimit); err != nil {
		return fmt.Errorf("read memory limit: %w", err)
	}
	r.limit = limit
	if _, err := r.conn.ExecContext(ctx, "SET memory_limit = "+sqlq.Literal(limit)); err != nil {
		return fmt.Errorf("set memory limit: %w", err)
	}
	// The read-only open already keeps writers out of the file; the
	// transaction also pins this connection's view of it.
	if _, err := r.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	return nil
}

// planTables reads the tables and decides each column's encoding.
func (r *run) planTables(ctx context.Context) error {
	started := time.Now()
	cat, err := catalog.ReadTables(ctx, r.conn)
	if err != nil {
		return err
	}
	r.cat = cat
	cat.MacroConn = func(ctx context.Context) (catalog.Execer, func(), error) {
		c, err := r.db.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { _ = c.Close() }, nil
	}
	slog.Debug("read tables", "tables", len(cat.Tables), "took", time.Since(started))
	skip := map[string]bool{}
	for _, k := range r.opt.SkipTables {
		skip[k] = true
	}
	have := map[string]bool{}
	for _, t := range cat.Tables {
		have[t.Key()] = true
	}
	for _, k := range r.opt.SkipTables {
		if !have[k] && !r.opt.SkipAbsentOK {
			return fmt.Errorf("%w: %q (a table is named as in the manifest: name, or schema.name outside main)", ErrNoSuchSkip, k)
		}
	}
	seen := map[string]catalog.Table{}
	for _, t := range cat.Tables {
		if other, ok := seen[t.Key()]; ok {
			return fmt.Errorf("tables %s.%s and %s.%s have the same manifest key %q; rename one", other.Schema, other.Name, t.Schema, t.Name, t.Key())
		}
		seen[t.Key()] = t
		cols := make([]codec.ColumnPlan, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = codec.ColumnPlan{Name: c.Name, Type: c.Type}
		}
		plans, err := codec.Plan(t.Key(), t.CreateSQL, cols)
		if err == nil {
			err = codec.Rebuildable(t.Key(), t.CreateSQL, plans)
		}
		if err == nil && (sqlq.HasNUL(t.Schema) || sqlq.HasNUL(t.Name)) {
			err = fmt.Errorf("its schema or table name %w", sqlq.ErrNUL)
		}
		if err == nil && !skip[t.Key()] {
			// Reads the table's VARIANTs, in the snapshot's transaction.
			var verr *codec.VariantError
			if err = codec.PlanVariants(ctx, r.conn, t.Schema, t.Name, plans); err != nil && !errors.As(err, &verr) {
				return fmt.Errorf("table %s: %w", t.Key(), err)
			}
		}
		if skip[t.Key()] {
			reason := "left out at the user's request (--skip-table)"
			if err != nil {
				reason = err.Error()
			}
			if len(reason) > snapshot.MaxSkipReason {
				reason = reason[:snapshot.MaxSkipReason]
			}
			r.skipped = append(r.skipped, snapshot.SkippedTable{Schema: t.Schema, Name: t.Name, Reason: reason})
			continue
		}
		if err != nil {
			return &UncarriableError{Table: t.Key(), Err: err}
		}
		r.tables = append(r.tables, plannedTable{t: t, plans: plans})
	}
	if len(r.skipped) > 0 {
		if err := r.checkSkippedParents(ctx); err != nil {
			return err
		}
	}
	slog.Debug("planned encodings", "took", time.Since(started))
	return nil
}

// copyError is a failed COPY of table t. A VARIANT value the Parquet
// Variant binary cannot hold made the table one statsnap could not carry
// while encodings wrote that binary; codec.PlanVariants now refuses what
// cannot be carried before any COPY, and this stays as a guard.
func copyError(t catalog.Table, plans []codec.ColumnPlan, err error) error {
	if dberr.Is(err, dberr.ErrVariantUnstorable) {
		var cols []string
		for _, p := range plans {
			if strings.Contains(p.Type, "VARIANT") {
				cols = append(cols, strconv.Quote(p.Name))
			}
		}
		if len(cols) > 0 {
			return &UncarriableError{Table: t.Key(), Err: fmt.Errorf("a value of its VARIANT column %s holds, inside an object or a list, a value of a type "+
				"that neither JSON nor the Parquet Variant binary can store (%s)", strings.Join(cols, " or "), dberr.Summary(err))}
		}
	}
	return fmt.Errorf("write parquet: %w", err)
}

// checkSkippedParents refuses to keep a table whose foreign key points to
// a skipped table: restore could not create it without its parent.
func (r *run) checkSkippedParents(ctx context.Context) error {
	skipped := map[string]bool{}
	for _, s := range r.skipped {
		skipped[s.Key()] = true
	}
	rows, err := r.conn.QueryContext(ctx, "SELECT schema_name, table_name, referenced_table FROM duckdb_constraints() "+
		"WHERE database_name = current_database() AND constraint_type = 'FOREIGN KEY'")
	if err != nil {
		return fmt.Errorf("read foreign keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table, parent string
		if err := rows.Scan(&schema, &table, &parent); err != nil {
			return fmt.Errorf("read foreign keys: %w", err)
		}
		// DuckDB keeps a foreign key within its table's schema.
		child, p := catalog.Key(schema, table), catalog.Key(schema, parent)
		if skipped[p] && !skipped[child] {
			return &ForeignKeyError{Table: child, Skipped: p}
		}
	}
	return rows.Err()
}

// keepObject reports whether an index or comment belongs to a table the
// snapshot holds: those of skipped tables are left out with them.
func (r *run) keepObject(o catalog.Object) bool {
	for _, s := range r.skipped {
		if o.Schema != s.Schema {
			continue
		}
		if o.Kind == "index" && o.Table == s.Name {
			return false
		}
		if o.Kind != "comment" || sqlq.HasNUL(s.Schema) || sqlq.HasNUL(s.Name) {
			continue // SQL cannot name such a table, nor comment on it
		}
		target := sqlq.Qualified(s.Schema, s.Name)
		if strings.HasPrefix(o.SQL, "COMMENT ON TABLE "+target+" IS ") || strings.HasPrefix(o.SQL, "COMMENT ON COLUMN "+target+".") {
			return false
		}
	}
	return true
}

// keptObjects filters objs with keepObject.
func (r *run) keptObjects(objs []catalog.Object) []catalog.Object {
	if len(r.skipped) == 0 {
		return objs
	}
	var out []catalog.Object
	for _, o := range objs {
		if r.keepObject(o) {
			out = append(out, o)
		}
	}
	return out
}

// chooseID picks the snapshot's id and the time it records.
func (r *run) chooseID(ctx context.Context, now time.Time) error {
	given := !r.opt.Time.IsZero()
	taken := r.opt.Time
	if !given {
		taken = now
	}
	id, err := chooseID(ctx, r.f, taken, given)
	if err != nil {
		return err
	}
	if !given {
		// The id may have waited for a later second: record a time of it.
		taken = time.Now()
		if snapshot.FormatID(taken) != id {
			taken, _ = snapshot.IDTime(id)
		}
	}
	r.id, r.taken = id, taken
	return nil
}

// writeJournal names every file the backup will write and writes the
// pending journal listing them, before the first final name appears.
// Shared files are never in it: an interrupted backup's cleanup removes
// only what this backup wrote.
func (r *run) writeJournal(ctx context.Context) error {
	names := map[string]bool{}
	// Names already in the folder (files of earlier snapshots keep theirs)
	// are taken too, compared as TableFileName does.
	if r.base != nil {
		for n := range r.base.entries {
			names[strings.ToLower(n)] = true
		}
	}
	for i := range r.tables {
		pt := &r.tables[i]
		first, n := "", 0
		for j := range pt.parts {
			if pt.parts[j].reuse != nil {
				continue
			}
			if first == "" {
				first = snapshot.TableFileName(pt.t.Key(), r.id, names)
			}
			pt.parts[j].file = snapshot.PartFileName(first, n)
			n++
			r.finals = append(r.finals, pt.parts[j].file)
		}
	}
	if !r.opt.NoMetadata {
		r.finals = append(r.finals, snapshot.ManifestName(r.id))
	}
	r.journal = snapshot.PendingName(r.id)
	return snapshot.WritePending(ctx, r.f, r.id, r.finals)
}

// undo removes what an uncommitted backup wrote, journal last.
func (r *run) undo(ctx context.Context) {
	// A Ctrl-C must still clean up.
	ctx = context.WithoutCancel(ctx)
	f := r.f
	// What cannot be removed now is listed by the journal (or is a
	// temporary), so the next run removes it.
	remove := func(name string) {
		if err := f.Remove(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("could not remove a file of the interrupted backup", "file", name, "err", err)
		}
	}
	sync := func() {
		if err := f.Sync(ctx); err != nil {
			slog.Warn("could not sync the backup folder", "err", err)
		}
	}
	for i := range r.tables {
		for j := range r.tables[i].parts {
			remove(stagedName(r.id, i, j))
		}
	}
	remove(snapshot.TempName(r.id, "manifest.json"))
	for _, n := range r.finals {
		remove(n)
	}
	sync()
	remove(r.journal)
	sync()
}

// copyTables copies every table; the rest of the catalog is read on the
// first connection while the others start on the largest tables.
func (r *run) copyTables(ctx context.Context) ([]*snapshot.Table, error) {
	copyStart := time.Now()
	base := *r.cat // what the catalog held before its objects were read
	readObjects := func(conn *sql.Conn) error {
		if r.objectsRead {
			return nil
		}
		// A second attempt (after running out of memory) starts over.
		*r.cat = base
		if err := r.cat.ReadObjects(ctx, conn); err != nil {
			return err
		}
		slog.Debug("read catalog", "took", time.Since(copyStart))
		return nil
	}
	entries, err := copyTables(ctx, r.db, r.conn, readObjects, r.f, r, r.tables)
	if err != nil {
		return nil, err
	}
	slog.Debug("copied tables", "took", time.Since(copyStart))
	return entries, nil
}

// manifest builds the snapshot's manifest from the copied tables and the
// catalog.
func (r *run) manifest(entries []*snapshot.Table) *snapshot.Manifest {
	cat := r.cat
	m := &snapshot.Manifest{
		Gamertag:         r.opt.Gamertag,
		BackupTimestamp:  r.id,
		BackupDatetime:   r.taken.Format(snapshot.DatetimeLayout),
		SourceDB:         r.opt.Source,
		Compression:      "zstd",
		CompressionLevel: r.opt.CompressionLevel,
		Tables:           map[string]*snapshot.Table{},
		FormatVersion:    snapshot.FormatVersion,
		ToolVersion:      snapshot.ToolVersion,
		DuckDBVersion:    cat.DuckDBVersion,
		StorageVersion:   cat.StorageVersion,
		HashAlgorithm:    "blake3",
		Schemas:          manifestObjects(cat.Schemas),
		Types:            manifestObjects(cat.Types),
		Sequences:        manifestSequences(cat.Sequences),
		Indexes:          manifestObjects(r.keptObjects(cat.Indexes)),
		Views:            manifestObjects(cat.Views),
		Macros:           manifestObjects(cat.Macros),
		Comments:         manifestObjects(r.keptObjects(cat.Comments)),
		Skipped:          r.skipped,
	}
	for i, pt := range r.tables {
		key := pt.t.Key()
		m.Tables[key] = entries[i]
		m.TableOrder = append(m.TableOrder, key)
		m.TotalSizeBytes += entries[i].FileSizeBytes
	}
	m.TotalSizeMB = math.Round(float64(m.TotalSizeBytes)/(1<<20)*100) / 100
	return m
}

// commit makes the table files durable and then, unless NoMetadata,
// writes the manifest: the snapshot's commit point. It returns the
// manifest's name.
func (r *run) commit(ctx context.Context, m *snapshot.Manifest) (string, error) {
	if err := r.f.Sync(ctx); err != nil {
		return "", err
	}
	if r.opt.NoMetadata {
		return "", nil
	}
	data, err := snapshot.Marshal(m, r.opt.Key)
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	if len(data) > snapshot.MaxManifestSize {
		return "", manifestTooLarge(m, len(data))
	}
	r.manifestBytes = int64(len(data))
	name := snapshot.ManifestName(r.id)
	tmp := snapshot.TempName(r.id, "manifest.json")
	if err := r.f.WriteFile(ctx, tmp, data); err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	if err := r.f.Publish(ctx, tmp, name); err != nil {
		return "", fmt.Errorf("write manifest: %w", err)
	}
	if err := r.f.Sync(ctx); err != nil {
		return "", err
	}
	return name, nil
}

// ErrManifestTooLarge is a manifest larger than every reader accepts
// (snapshot.MaxManifestSize): written, it would make a snapshot that
// verify and restore refuse as corrupt, so backup refuses it before its
// commit point.
var ErrManifestTooLarge = errors.New("manifest too large")

// manifestTooLarge names the table whose entry takes most of the
// manifest: its columns' names and types are written four times (DDL,
// columns, Arrow schema and its IPC form), so very wide tables or very
// long names are what makes a manifest this large.
func manifestTooLarge(m *snapshot.Manifest, size int) error {
	biggest, most := "", 0
	for key, t := range m.Tables {
		if raw, err := json.Marshal(t); err == nil && len(raw) > most {
			biggest, most = key, len(raw)
		}
	}
	return fmt.Errorf("%w: it would be %.1f MiB, more than the %d MiB verify and restore read, and table %s alone takes %.1f MiB of it (%d columns); "+
		"shorten its column names, split it into narrower tables, or leave it out with --skip-table %s",
		ErrManifestTooLarge, float64(size)/(1<<20), snapshot.MaxManifestSize>>20, biggest, float64(most)/(1<<20), len(m.Tables[biggest].Columns), biggest)
}

// dropJournal removes the pending journal once the snapshot exists. A
// failure only leaves work for the next run, which sees the manifest and
// keeps the snapshot.
func (r *run) dropJournal(ctx context.Context) {
	if err := r.f.Remove(ctx, r.journal); err != nil {
		slog.Warn("could not remove backup journal", "journal", r.journal, "err", err)
	} else if err := r.f.Sync(ctx); err != nil {
		slog.Warn("could not sync backup folder", "err", err)
	}
}

// manifestObjects maps the catalog's objects onto the manifest's format.
func manifestObjects(objs []catalog.Object) []snapshot.Object {
	if objs == nil {
		return nil
	}
	out := make([]snapshot.Object, len(objs))
	for i, o := range objs {
		out[i] = snapshot.Object{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Table: o.Table, SQL: o.SQL}
	}
	return out
}

// manifestSequences maps the catalog's sequences onto the manifest's format.
func manifestSequences(seqs []catalog.Sequence) []snapshot.Sequence {
	if seqs == nil {
		return nil
	}
	out := make([]snapshot.Sequence, len(seqs))
	for i, s := range seqs {
		out[i] = snapshot.Sequence{Schema: s.Schema, Name: s.Name, SQL: s.SQL, Next: s.Next, Increment: s.Increment}
	}
	return out
}

// manifestFields maps the Parquet reader's schema onto the manifest's format.
func manifestFields(fs []parquetfile.Field) []snapshot.Field {
	if fs == nil {
		return nil
	}
	out := make([]snapshot.Field, len(fs))
	for i, f := range fs {
		out[i] = snapshot.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable, Children: manifestFields(f.Children)}
	}
	return out
}

type plannedTable struct {
	t           catalog.Table
	plans       []codec.ColumnPlan
	shape       string
	fingerprint string // of the whole table ("" when not fingerprinted)
	parts       []partPlan
}

// stagedName is the temporary name part j of table i is written under.
func stagedName(id string, i, j int) string {
	return snapshot.TempName(id, fmt.Sprintf("%d.%d.parquet", i, j))
}

// copyTables writes the tables on up to jobs connections at once, the
// largest first. EXPORT DATABASE does the same: a small table's COPY cannot
// keep two cores busy, so one at a time leaves a core idle for most of a
// small database's backup. Every connection sees the same data: the source
// is open read-only, which keeps writers out of the file until we close it.
//
// before runs on the first connection, while the others already copy.
func copyTables(ctx context.Context, db *sql.DB, first *sql.Conn, before func(*sql.Conn) error, f storage.Folder, r *run, tables []plannedTable) ([]*snapshot.Table, error) {
	opt := r.opt
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
		mu     sync.Mutex // guards next, failed, alone and the Progress calls
		next   int
		failed error
		alone  []int // tables to copy again alone (out of memory)
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

			entry, err := copyTable(ctx, conn, f, r, i, tables[i])
			mu.Lock()
			var me *memoryError
			if errors.As(err, &me) {
				// Copied again alone once the others are done; this
				// connection's transaction is aborted, so it stops here.
				alone = append(alone, i)
				mu.Unlock()
				return
			}
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

	wait := onExtraConns(ctx, db, jobs-1, "backup", work)
	catalogAgain := false
	if err := before(first); err != nil {
		mu.Lock()
		if outOfMemory(err) && ctx.Err() == nil {
			// Read again alone, like a table that ran out of memory.
			catalogAgain = true
		} else if failed == nil {
			failed = err
			cancel()
		}
		mu.Unlock()
	} else {
		work(first)
	}
	wait()
	if failed != nil {
		// Only the first failure is kept: the others were cancelled by it.
		return nil, failed
	}
	// Tables no connection got to, because every connection stopped on a
	// table that ran out of memory, are copied alone too.
	for ; next < len(order); next++ {
		alone = append(alone, order[next])
	}
	if len(alone) > 0 || catalogAgain {
		if err := copyAlone(ctx, db, f, r, tables, alone, entries, catalogAgain, before); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// readConn opens one more connection inside its own transaction.
// onExtraConns runs work on up to n more read connections of db, each in
// its own goroutine and its own read transaction, rolled back and closed
// when work returns; wait waits for them all. A connection that cannot
// be opened is no failure: the caller's own connection still does the
// whole job.
func onExtraConns(ctx context.Context, db *sql.DB, n int, what string, work func(*sql.Conn)) (wait func()) {
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		conn, err := readConn(ctx, db)
		if err != nil {
			slog.Debug("extra connection", "for", what, "err", err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") }()
			work(conn)
		}()
	}
	return wg.Wait
}

func readConn(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// The pool may hand back a connection whose transaction aborted (out
	// of memory) and whose ROLLBACK failed too, for memory, before it was
	// returned: BEGIN on it fails with "Current transaction is aborted"
	// (CI met it in the fidelity suite). Roll back first; on a connection
	// with no transaction that is an error, and nothing.
	_, _ = conn.ExecContext(ctx, "ROLLBACK")
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// copyTable writes the files of table i that are not shared, each to its
// staged name and then under its final name, and returns the table's
// manifest entry.
func copyTable(ctx context.Context, conn *sql.Conn, f storage.Folder, r *run, i int, pt plannedTable) (*snapshot.Table, error) {
	opt := r.opt
	entry := &snapshot.Table{Schema: pt.t.Schema, Name: pt.t.Name, CreateSQL: pt.t.CreateSQL, Shape: pt.shape, Fingerprint: pt.fingerprint}
	if entry.Fingerprint != "" {
		entry.FingerprintVersion = fingerprint.Version
	}
	for _, p := range pt.plans {
		entry.Columns = append(entry.Columns, snapshot.Column{Name: p.Name, Type: p.Type, Encoding: p.Encoding, Generated: p.Generated, VariantShapes: p.Shapes})
	}
	var published []string
	for j, pp := range pt.parts {
		if pp.reuse != nil {
			entry.Files = append(entry.Files, *pp.reuse)
			continue
		}
		staged := stagedName(r.id, i, j)
		part, schema, err := writePart(ctx, conn, f, pt.t, pt.plans, staged, opt.CompressionLevel, pp)
		if err != nil && outOfMemory(err) && ctx.Err() == nil {
			// Not retried here: this connection's transaction is aborted
			// and even its ROLLBACK can run out of memory while another
			// table is copied beside it. copyTables copies the table
			// again, alone, on a fresh connection, under DuckDB's default
			// limit; what it published of the table goes first, since a
			// final name is never replaced.
			cleanup := context.WithoutCancel(ctx)
			_ = f.Remove(cleanup, staged)
			for _, n := range published {
				_ = f.Remove(cleanup, n)
			}
			return nil, &memoryError{table: pt.t.Key(), err: err}
		}
		if err == nil {
			err = f.Publish(ctx, staged, pp.file)
		}
		if err != nil {
			return nil, fmt.Errorf("back up table %s: %w", pt.t.Key(), err)
		}
		published = append(published, pp.file)
		part.File = pp.file
		if entry.ArrowSchema == nil {
			entry.ArrowSchema = schema
		} else if entry.ArrowSchema.IPC != schema.IPC {
			return nil, fmt.Errorf("back up table %s: DuckDB wrote two of its files with different schemas", pt.t.Key())
		}
		entry.Files = append(entry.Files, *part)
	}
	if r.base != nil {
		// A shared file keeps the schema its snapshot recorded; the shape,
		// which includes DuckDB's version, makes new files match it.
		if bt := r.base.m.Tables[pt.t.Key()]; bt != nil && bt.ArrowSchema != nil && bt.Shape == pt.shape && len(published) < len(entry.Files) {
			if entry.ArrowSchema != nil && entry.ArrowSchema.IPC != bt.ArrowSchema.IPC {
				return nil, fmt.Errorf("back up table %s: its new files have another schema than its shared ones; run backup --full", pt.t.Key())
			}
			entry.ArrowSchema = bt.ArrowSchema
		}
	}
	for _, p := range entry.Files {
		entry.Rows += p.Rows
		entry.FileSizeBytes += p.FileSizeBytes
	}
	entry.File, entry.BLAKE3 = entry.Files[0].File, entry.Files[0].BLAKE3
	return entry, nil
}

// outOfMemory reports whether err is DuckDB running out of its memory
// limit.
func outOfMemory(err error) bool {
	return dberr.Is(err, dberr.ErrOutOfMemory)
}

// memoryError is a table whose copy ran out of the backup's memory limit.
type memoryError struct {
	table string
	err   error
}

func (e *memoryError) Error() string { return fmt.Sprintf("back up table %s: %v", e.table, e.err) }
func (e *memoryError) Unwrap() error { return e.err }

// copyAlone copies tables that ran out of memory again, one at a time,
// each on a fresh connection (the failed ones are aborted, and their
// ROLLBACK itself could fail for memory), after the side-by-side copies
// are done, under DuckDB's default limit, spilling to the backup's
// private temp folder. The source is read-only, so a new transaction sees
// the same data. (RESET memory_limit changes the setting but, in DuckDB
// 1.5.6, not the buffer pool's limit; SET does both.)
func copyAlone(ctx context.Context, db *sql.DB, f storage.Folder, r *run, tables []plannedTable, idx []int, entries []*snapshot.Table,
	catalogAgain bool, readCatalog func(*sql.Conn) error) error {
	conn, err := readConn(ctx, db)
	if err != nil {
		return fmt.Errorf("a fresh connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET memory_limit = "+sqlq.Literal(r.defaultLimit)); err != nil {
		conn.Close()
		return fmt.Errorf("lift the memory limit: %w", err)
	}
	if catalogAgain {
		slog.Info("reading the catalog again, alone, under DuckDB's default memory limit")
		err := readCatalog(conn)
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		if err != nil {
			return err
		}
		conn = nil
	}
	for n, i := range idx {
		if conn == nil {
			if conn, err = readConn(ctx, db); err != nil {
				return fmt.Errorf("back up table %s: a fresh connection: %w", tables[i].t.Key(), err)
			}
		}
		slog.Info("copying a table again, alone, under DuckDB's default memory limit", "table", tables[i].t.Key())
		key := tables[i].t.Key()
		if r.opt.Progress != nil {
			r.opt.Progress(Progress{Table: key, Index: len(tables) - len(idx) + n + 1, Count: len(tables)})
		}
		entry, err := copyTable(ctx, conn, f, r, i, tables[i])
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		conn = nil
		if err != nil {
			return err
		}
		entries[i] = entry
		if r.opt.Progress != nil {
			r.opt.Progress(Progress{Table: key, Index: len(tables) - len(idx) + n + 1, Count: len(tables), Rows: entry.Rows, Bytes: entry.FileSizeBytes, Done: true})
		}
	}
	if conn != nil {
		conn.Close()
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

// writePart copies one run of a table's rows (the whole table when
// pp.whole) to a staged Parquet file, then reads the file back: BLAKE3 of
// its bytes, row count and schema from its footer.
func writePart(ctx context.Context, conn *sql.Conn, f storage.Folder, t catalog.Table, plans []codec.ColumnPlan, staged string, level int, pp partPlan) (*snapshot.Part, *snapshot.ArrowSchema, error) {
	begun := time.Now()
	from := sqlq.Ident(t.Schema) + "." + sqlq.Ident(t.Name)
	where := ""
	if !pp.whole {
		// Rowids are numbers the fingerprint scan gave, not names.
		where = fmt.Sprintf(" WHERE rowid >= %d AND rowid < %d", pp.lo, pp.hi)
	}
	counted := pp.sum.Rows
	if counted < 0 {
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+from).Scan(&counted); err != nil {
			return nil, nil, fmt.Errorf("count rows: %w", err)
		}
	}
	path, err := f.StagePath(staged)
	if err != nil {
		return nil, nil, err
	}
	q := fmt.Sprintf("COPY (SELECT %s FROM %s%s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL %d, RETURN_STATS)",
		codec.SelectList(plans), from, where, sqlq.Literal(path), level)
	var written int64
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, copyError(t, plans, err)
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
			return nil, nil, fmt.Errorf("write parquet: %w", err)
		}
		for i, c := range cols {
			if c == "count" {
				written += toInt64(vals[i])
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, copyError(t, plans, err)
	}
	if written != counted {
		return nil, nil, fmt.Errorf("%w: COPY wrote %d rows, count(*) says %d", ErrRowsDisagree, written, counted)
	}
	copied := time.Now()
	r, err := f.Open(ctx, staged)
	if err != nil {
		return nil, nil, fmt.Errorf("reopen written file: %w", err)
	}
	defer r.Close()
	sum, size, err := snapshot.HashFile(ctx, r)
	if err != nil {
		return nil, nil, fmt.Errorf("hash written file: %w", err)
	}
	info, err := parquetfile.Inspect(r)
	if err != nil {
		return nil, nil, err
	}
	slog.Debug("wrote table", "table", t.Key(), "rows", counted, "copy", copied.Sub(begun), "check", time.Since(copied))
	if info.Rows != counted {
		return nil, nil, fmt.Errorf("%w: the footer says %d rows, DuckDB counted %d", ErrRowsDisagree, info.Rows, counted)
	}
	part := &snapshot.Part{Rows: counted, FileSizeBytes: size, BLAKE3: sum, RowidLo: pp.lo, RowidHi: pp.hi}
	if pp.sum.Rows >= 0 {
		part.Fingerprint = pp.sum.Hex()
	}
	return part, &snapshot.ArrowSchema{Fields: manifestFields(info.Fields), IPC: info.IPC}, nil
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
