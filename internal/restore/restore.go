// Package restore puts a snapshot back into a DuckDB database, or refuses
// and leaves the database as it was.
//
// A restore first chooses one snapshot (the newest by id, or the one
// asked for; it never mixes the files of two) and verifies it while
// copying every file into a private folder next to the target, so DuckDB
// later reads exactly the bytes that were hashed. It then checks every
// piece of DDL the manifest carries in a sandbox, and only then opens the
// target for writing and does everything in one transaction: schemas,
// types, sequences, then tables (from DuckDB's own rendering of the
// checked DDL), macros and views each after what it uses (order.go),
// rows (decoded with the codec the backup recorded), indexes and
// comments. A new database is built under a temporary name and
// moved into place only once complete. The package never prints.
package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// Options describe one restore.
type Options struct {
	// Folder is the player's backup folder.
	Folder storage.Folder
	// Snapshot is the snapshot id; empty means the newest by id.
	Snapshot string
	// Target is the DuckDB file to restore into. It may not exist yet.
	Target string
	// CreateFolders lets restore create the target's missing parent
	// folders (the --gamertag layout on a new machine).
	CreateFolders bool
	// Gamertag, when set, must be the snapshot's gamertag unless Force.
	Gamertag string
	Force    bool
	// Tables limits the restore to these manifest keys; nil means all.
	// Views and macros that use them come along (scope.go).
	Tables []string
	// WithDependencies adds to Tables the tables their foreign keys
	// reference that the target lacks; without it such a restore is
	// refused with a MissingDependenciesError.
	WithDependencies bool
	// Mode says whether rows are appended to existing tables or the
	// chosen tables are replaced.
	Mode Mode
	// DryRun runs every check and plans, writing nothing anywhere.
	DryRun bool
	// AllowUnverified accepts a legacy or bare snapshot (or, with Key, one
	// without a MAC); every file is then fully decoded first.
	AllowUnverified bool
	// Key requires the manifest's MAC.
	Key []byte
	// StorageVersion is the DuckDB storage version a new target is
	// written in (ValidStorageVersion); empty keeps the source's, as its
	// manifest records it. It does not apply to an existing target.
	StorageVersion string
	// Progress, when set, is called as the restore advances.
	Progress func(Progress)
	// Verified, when set, is called with the verification of the snapshot
	// restore is about to use (passed or not), under the folder's shared
	// lock: the CLI records it in the folder's verification ledger.
	// Restore itself never trusts a ledger: it always hashes what it
	// restores.
	Verified func(s snapshot.Info, entries []storage.Entry, res verify.Result)
	// Event, when set, is called at the moments around the commit point:
	// "before-commit" (an interruption now rolls everything back),
	// "at-commit" (past the last cancellation check: the commit happens
	// whatever comes now) and "after-commit". Fault-injection tests signal
	// the process there.
	Event func(ctx context.Context, point string)
}

// event calls opt.Event, when set.
func (o Options) event(ctx context.Context, point string) {
	if o.Event != nil {
		o.Event(ctx, point)
	}
}

// Progress is one step of a restore.
type Progress struct {
	Stage Stage
	Table string
	Index int // 1-based
	Count int
	Rows  int64
	Done  bool
}

// Report is what a restore did, or would do in a dry run.
type Report struct {
	Snapshot string        `json:"snapshot"`
	Target   string        `json:"target"`
	Mode     Mode          `json:"mode"`
	DryRun   bool          `json:"dry_run"`
	Tables   []TableReport `json:"tables"`

	Gamertag       string           `json:"gamertag"`
	Status         snapshot.Status  `json:"snapshot_status"`
	Verified       bool             `json:"verified"` // hashes (and MAC with a key) checked
	NewDatabase    bool             `json:"new_database"`
	StorageVersion string           `json:"storage_version,omitempty"`
	Sequences      []SequenceReport `json:"sequences"`
	Objects        []ObjectReport   `json:"objects"`
	Skipped        []SkippedObject  `json:"skipped"`
	Warnings       []string         `json:"warnings"`
	Verification   []verify.Problem `json:"verification_warnings"`
	Seconds        float64          `json:"seconds"`
}

// TableReport is one table's plan and outcome.
type TableReport struct {
	Table  string `json:"table"`
	Action Action `json:"action"`
	Rows   int64  `json:"rows"` // rows in the snapshot
	// RowsBefore is what the target table held before (0 when created).
	RowsBefore int64 `json:"rows_before"`
	// RowsAfter is counted in the target after the commit; Checked says
	// it equals what the manifest implies (replace: equal; append: grown
	// by the snapshot's rows). Both stay zero in a dry run.
	RowsAfter int64 `json:"rows_after"`
	Checked   bool  `json:"rows_checked"`
}

// SequenceReport says how a sequence was brought to its recorded value.
type SequenceReport struct {
	Sequence  string         `json:"sequence"`
	Action    SequenceAction `json:"action"`
	NextValue int64          `json:"next_value"` // what the next nextval returns after the restore
	Recorded  int64          `json:"recorded"`
}

// ObjectReport is a non-table object restore created or replaced.
type ObjectReport struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"` // create, replace, keep
}

// SkippedObject is an object that could not be restored.
type SkippedObject struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SQL    string `json:"sql"`
	Reason string `json:"reason"`
}

// IntegrityError is a snapshot that did not verify or authenticate;
// nothing was written. Callers exit 3.
type IntegrityError struct {
	Snapshot string
	Status   snapshot.Status
	Problems []verify.Problem
	// NewestGood is the newest other snapshot of the folder that
	// verifies, or "".
	NewestGood string
	Folder     string
}

func (e *IntegrityError) Error() string {
	verb := "verify"
	for _, p := range e.Problems {
		if p.Kind == verify.KindUnauthenticated {
			verb = "authenticate"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot %s does not %s (%d problem", e.Snapshot, verb, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	if len(e.Problems) > 0 {
		fmt.Fprintf(&b, ": %s", e.Problems[0].Detail)
	}
	b.WriteString("; nothing was restored")
	if e.NewestGood != "" {
		fmt.Fprintf(&b, "; the newest snapshot that verifies is %s (restore it with --snapshot %s)", e.NewestGood, e.NewestGood)
	} else {
		fmt.Fprintf(&b, "; no other snapshot in %s verifies", e.Folder)
	}
	return b.String()
}

// UnknownTablesError is --tables naming tables the snapshot lacks. Callers
// treat it as a usage error.
type UnknownTablesError struct {
	Unknown   []string
	Available []string
}

func (e *UnknownTablesError) Error() string {
	return fmt.Sprintf("snapshot has no table %s; its tables are: %s", strings.Join(quoteAll(e.Unknown), ", "), strings.Join(e.Available, ", "))
}

// GamertagError is a snapshot of another player.
type GamertagError struct {
	Snapshot, Want, Got string
}

func (e *GamertagError) Error() string {
	return fmt.Sprintf("snapshot %s is %q's, not %q's; pass --force to restore it anyway", e.Snapshot, e.Got, e.Want)
}

// ConflictError is appended rows colliding with rows of the target on a
// primary key or unique constraint. Everything was rolled back.
type ConflictError struct {
	Table string
	Key   string // e.g. `match_id: abc` as DuckDB prints it
	Err   error
}

func (e *ConflictError) Error() string {
	k := ""
	if e.Key != "" {
		k = " (" + e.Key + ")"
	}
	return fmt.Sprintf("table %s already holds a key the snapshot also has%s; nothing was restored (use --replace to replace the table)", e.Table, k)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// IncompatibleError is target tables that cannot take the snapshot's rows.
// Nothing was written.
type IncompatibleError struct {
	Problems []string
}

func (e *IncompatibleError) Error() string {
	return "the target cannot take the snapshot's rows: " + strings.Join(e.Problems, "; ") + "; nothing was restored (use --replace to rebuild those tables)"
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// srcTable is one table of the chosen snapshot.
type srcTable struct {
	key   string
	file  string   // the first of files, to name the table's data in messages
	files []string // the files holding its rows, in order (shared ones included)
	rows  int64
	size  int64
	entry *snapshot.Table // nil for a bare snapshot
}

// chosen is the snapshot restore works on.
type chosen struct {
	info    snapshot.Info
	all     []snapshot.Info
	entries []storage.Entry
	tables  []srcTable // in restore order (foreign-key parents first)
}

// pick lists the folder and takes the snapshot opt asks for.
func pick(ctx context.Context, f storage.Folder, id string) (*chosen, error) {
	entries, all, err := snapshot.ListAndScan(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: %s holds no snapshot", snapshot.ErrNoSnapshot, f.Location())
	}
	info, err := snapshot.Find(all, id)
	if err != nil {
		ids := make([]string, 0, len(all))
		for _, s := range all {
			ids = append(ids, s.ID)
		}
		return nil, fmt.Errorf("%w in %s (it has %s)", err, f.Location(), strings.Join(ids, ", "))
	}
	c := &chosen{info: info, all: all, entries: entries}
	switch {
	case info.Manifest != nil:
		m := info.Manifest
		order := m.TableOrder
		if len(order) != len(m.Tables) {
			order = order[:0:0]
			for k := range m.Tables {
				order = append(order, k)
			}
			sort.Strings(order)
		}
		for _, k := range order {
			t := m.Tables[k]
			st := srcTable{key: k, file: t.File, rows: t.Rows, size: t.FileSizeBytes, entry: t}
			for _, p := range t.DataFiles() {
				st.files = append(st.files, p.File)
			}
			c.tables = append(c.tables, st)
		}
	default:
		for _, e := range info.Files {
			c.tables = append(c.tables, srcTable{key: strings.TrimSuffix(e.Name, "_"+info.ID+".parquet"), file: e.Name, files: []string{e.Name}, size: e.Size})
		}
	}
	return c, nil
}

func (c *chosen) keys() []string {
	out := make([]string, len(c.tables))
	for i, t := range c.tables {
		out[i] = t.key
	}
	return out
}

// selectTables applies --tables, keeping the restore order.
func (c *chosen) selectTables(names []string) ([]srcTable, error) {
	if len(names) == 0 {
		return c.tables, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []srcTable
	for _, t := range c.tables {
		if want[t.key] {
			out = append(out, t)
			delete(want, t.key)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		avail := c.keys()
		sort.Strings(avail)
		return nil, &UnknownTablesError{Unknown: unknown, Available: avail}
	}
	return out, nil
}

// newestGood returns the newest snapshot other than skip that verifies
// with opt's key and leniency, or "".
func newestGood(ctx context.Context, f storage.Folder, all []snapshot.Info, entries []storage.Entry, skip string, opt verify.Options) string {
	for i := len(all) - 1; i >= 0; i-- {
		s := all[i]
		if s.ID == skip || s.Status == snapshot.StatusIncomplete || s.Status == snapshot.StatusCorrupt {
			continue
		}
		if r := verify.Snapshot(ctx, f, s, entries, opt); r.OK {
			return s.ID
		}
		if ctx.Err() != nil {
			return ""
		}
	}
	return ""
}

// Run restores one snapshot as opt says. On failure the report, when
// not nil, says what was known: the snapshot and, once planned, the
// tables' actions. The caller holds the folder's shared lock.
func Run(ctx context.Context, opt Options) (*Report, error) {
	rep, err := run(ctx, opt)
	return rep, dberr.Classify(err)
}

// restoreRun is one restore in progress: what each step found, for the
// next.
type restoreRun struct {
	opt    Options
	target string // absolute
	c      *chosen
	m      *snapshot.Manifest // nil for a bare snapshot
	rep    *Report
	tables []srcTable // the chosen tables, in restore order
	exists bool       // the target exists
	// parents are the foreign-key parents --with-dependencies adds to
	// the chosen tables, as the manifest's DDL names them.
	parents map[string]bool

	memoryLimit string          // DuckDB's memory_limit for loading the files
	work        *workDir        // nil in a dry run
	copyTo      string          // where verify copies the files, "" in a dry run of a local folder
	scratch     *fsutil.Scratch // a dry run's private copy of a remote folder's files
	createdDirs []string        // the target's parents this restore made
}

func run(ctx context.Context, opt Options) (*Report, error) {
	start := time.Now()
	if opt.Folder == nil {
		return nil, errors.New("restore: no backup folder")
	}
	if opt.Target == "" {
		return nil, errors.New("restore: no target database")
	}
	target, err := filepath.Abs(opt.Target)
	if err != nil {
		return nil, err
	}
	c, err := pick(ctx, opt.Folder, opt.Snapshot)
	if err != nil {
		return nil, err
	}
	r := &restoreRun{opt: opt, target: target, c: c, rep: newReport(c.info, opt)}
	if c.info.Manifest != nil {
		r.m = c.info.Manifest.Manifest
		r.rep.Gamertag = r.m.Gamertag
	}
	if err := r.refuseEarly(); err != nil {
		return r.rep, err
	}
	if err := r.probeTarget(ctx); err != nil {
		return r.rep, err
	}
	if err := r.refuseMissingParents(ctx); err != nil {
		return r.rep, err
	}
	ok := false
	defer func() { r.cleanup(ok) }()
	if err := r.prepareWork(); err != nil {
		return r.rep, err
	}
	if !opt.DryRun {
		// Refused up front rather than failing halfway with the disk
		// full, having used its last free bytes.
		if err := checkSpace(r.work.path, r.copiedBytes(), r.loadedBytes()); err != nil {
			return r.rep, err
		}
	}
	files, v, err := r.verify(ctx)
	if err != nil {
		return r.rep, err
	}
	paths, err := r.sourcePaths(files)
	if err != nil {
		return r.rep, err
	}
	j := &job{opt: opt, rep: r.rep, snap: c, tables: r.tables, v: v, paths: paths, full: len(opt.Tables) == 0, memoryLimit: r.memoryLimit}
	if opt.DryRun {
		err = j.dryRun(ctx, target, r.exists)
	} else {
		err = j.run(ctx, target, r.exists, r.work, r.copyTo)
	}
	var de *decodeError
	if errors.As(err, &de) {
		// Every check passed, yet DuckDB cannot read the file: forged or
		// damaged before it was hashed. An integrity failure, like any
		// other, with the newest snapshot that does verify.
		vopt := verify.Options{AllowUnverified: opt.AllowUnverified, Key: opt.Key, Named: snapshot.NamedFiles(c.all)}
		err = &IntegrityError{Snapshot: c.info.ID, Status: c.info.Status, Folder: opt.Folder.Location(),
			Problems: []verify.Problem{{Table: de.Table, File: de.File, Kind: verify.KindUnreadable,
				Detail: fmt.Sprintf("%s passed every check but DuckDB cannot read it: %s", de.File, dberr.Summary(de.Err))}},
			NewestGood: newestGood(context.WithoutCancel(ctx), opt.Folder, c.all, c.entries, c.info.ID, vopt)}
	}
	if err != nil {
		return r.rep, err
	}
	if !opt.DryRun {
		syncDirs(r.createdDirs)
	}
	ok = true
	r.rep.Seconds = time.Since(start).Seconds()
	return r.rep, nil
}

func newReport(info snapshot.Info, opt Options) *Report {
	return &Report{Snapshot: info.ID, Target: opt.Target, Mode: opt.Mode, DryRun: opt.DryRun, Status: info.Status,
		Tables: []TableReport{}, Sequences: []SequenceReport{}, Objects: []ObjectReport{}, Skipped: []SkippedObject{},
		Warnings: []string{}, Verification: []verify.Problem{}}
}

// refuseEarly makes the cheap refusals, before anything is hashed: a
// snapshot of another player, --tables naming tables it lacks. The
// gamertag read here is not verified yet; it is only ever a reason to
// refuse.
func (r *restoreRun) refuseEarly() error {
	opt, m := r.opt, r.m
	if opt.Gamertag != "" && m != nil && m.Gamertag != "" && m.Gamertag != opt.Gamertag && !opt.Force {
		return &GamertagError{Snapshot: r.c.info.ID, Want: opt.Gamertag, Got: m.Gamertag}
	}
	tables, err := r.c.selectTables(opt.Tables)
	if err != nil {
		return err
	}
	r.tables = tables
	return nil
}

// refuseMissingParents refuses, before anything is hashed, a --tables
// restore of a table whose foreign key references a table that neither
// --tables nor the target has. The foreign keys are read from the
// manifest's DDL, not verified yet: only ever a reason to refuse early.
// After verification the sandbox's catalog decides again (withParents).
func (r *restoreRun) refuseMissingParents(ctx context.Context) error {
	opt := r.opt
	if r.m == nil || r.m.Legacy() || len(opt.Tables) == 0 {
		return nil
	}
	keys := map[string]string{} // lower-case key → the manifest's key
	for k := range r.m.Tables {
		keys[strings.ToLower(k)] = k
	}
	parents := func(k string) []string {
		t := r.m.Tables[k]
		if t == nil {
			return nil
		}
		_, fks, ok := tableParts(t.CreateSQL)
		if !ok {
			return nil
		}
		var out []string
		for _, fk := range fks {
			schema := t.Schema
			if fk.schema != "" {
				schema = fk.schema
			}
			if pk, found := keys[strings.ToLower(catalog.Key(schema, fk.name))]; found && pk != k {
				out = append(out, pk)
			}
		}
		return out
	}
	have := map[string]bool{}
	if r.exists {
		var err error
		if have, err = targetTables(ctx, r.target); err != nil {
			// The check inside the restore's transaction decides.
			slog.Debug("could not list the target's tables before verifying", "err", err)
			return nil
		}
	}
	// With WithDependencies this returns the parents that will come too,
	// which the disk-space check counts.
	extra, err := missingParents(r.tables, r.c.tables, parents, func(k string) bool { return have[k] }, opt)
	r.parents = extra
	return err
}

// targetTables lists the tables of the database at path, read-only.
func targetTables(ctx context.Context, path string) (map[string]bool, error) {
	db, err := openDB(ctx, path, true, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[catalog.Key(s, n)] = true
	}
	return out, rows.Err()
}

// probeTarget learns whether the target exists and that no one holds it.
func (r *restoreRun) probeTarget(ctx context.Context) error {
	exists, err := probeTarget(ctx, r.target)
	if err != nil {
		var ue *UnreadableTargetError
		if errors.As(err, &ue) {
			ue.Path = r.opt.Target
		}
		return err
	}
	r.exists = exists
	r.rep.NewDatabase = !exists
	if exists && r.opt.StorageVersion != "" {
		return fmt.Errorf("%w: %s exists, and a database keeps the storage version it was created with; restore into a new file, or leave --storage-version out", ErrStorageVersionExisting, r.opt.Target)
	}
	return nil
}

// prepareWork makes the work folder (verified copies, a new database)
// next to the target, creating the target's parents when allowed. A dry
// run writes nothing, so it verifies in place.
func (r *restoreRun) prepareWork() error {
	opt := r.opt
	if opt.DryRun {
		if !r.exists && !opt.CreateFolders {
			if fi, err := os.Stat(filepath.Dir(r.target)); err != nil || !fi.IsDir() {
				return fmt.Errorf("cannot restore into %s: folder %s does not exist", opt.Target, filepath.Dir(opt.Target))
			}
		}
		// Local published files are read in place; an object store's are
		// copied while verified into scratch space of the dry run's own
		// (nothing is written near the target), removed at the end.
		if _, local := storage.LocalPath(opt.Folder, storage.LockName); !local {
			scratch, err := fsutil.NewScratch("", "dry-run")
			if err != nil {
				return fmt.Errorf("create scratch space for the dry run: %w", err)
			}
			r.scratch, r.copyTo = scratch, scratch.Dir
		}
		return nil
	}
	parent := filepath.Dir(r.target)
	var err error
	if r.createdDirs, err = makeParents(parent, opt.CreateFolders); err != nil {
		return err
	}
	if r.work, err = newWorkDir(parent); err != nil {
		return err
	}
	r.copyTo = filepath.Join(r.work.path, "verified")
	if err := os.Mkdir(r.copyTo, 0o700); err != nil {
		return fmt.Errorf("create the verified-copy folder: %w", err)
	}
	return nil
}

// cleanup removes the work folder, and the folders made for the target
// unless the restore succeeded.
func (r *restoreRun) cleanup(ok bool) {
	r.work.remove()
	if r.scratch != nil {
		_ = r.scratch.Remove()
	}
	if !ok {
		removeDirs(r.createdDirs)
	}
}

// verify verifies the snapshot while copying its files to the work
// folder, and checks the manifest's DDL in a sandbox meanwhile, once the
// manifest itself has verified. It returns the verified files by file
// name and the checked DDL. Every file of every chosen table is verified
// before anything touches the target.
func (r *restoreRun) verify(ctx context.Context) (map[string]verify.FileResult, *validated, error) {
	opt, info, m := r.opt, r.c.info, r.m
	vopt := verify.Options{AllowUnverified: opt.AllowUnverified, Key: opt.Key, CopyTo: r.copyTo, Named: snapshot.NamedFiles(r.c.all)}
	if opt.Progress != nil {
		vopt.Progress = func(done, total int, f verify.FileResult) {
			opt.Progress(Progress{Stage: StageVerify, Table: f.Table, Index: done, Count: total, Rows: f.Rows, Done: true})
		}
	}
	early := newEarlyValidation(ctx, m, &vopt)
	defer early.stop()
	verifyStart := time.Now()
	res := verify.Snapshot(ctx, opt.Folder, info, r.c.entries, vopt)
	if opt.Verified != nil {
		opt.Verified(info, r.c.entries, res)
	}
	slog.Debug("verified snapshot into a private copy", "took", time.Since(verifyStart))
	if !res.OK || res.Err != nil {
		early.stop()
	}
	if res.Err != nil {
		return nil, nil, fmt.Errorf("verify snapshot %s: %w", info.ID, res.Err)
	}
	if !res.OK {
		vopt.CopyTo, vopt.Progress, vopt.ManifestVerified = "", nil, nil
		return nil, nil, &IntegrityError{Snapshot: info.ID, Status: info.Status, Problems: res.Problems, Folder: opt.Folder.Location(),
			NewestGood: newestGood(ctx, opt.Folder, r.c.all, r.c.entries, info.ID, vopt)}
	}
	// Every page of every verified copy is decompressed before DuckDB
	// reads a byte: a file whose hash matches (a forger without the key,
	// or damage before hashing) but whose pages do not decompress to the
	// sizes they declare was otherwise imported, or failed as if
	// operational. (Not verify --deep's full decode, a second pass over
	// every value that DuckDB makes anyway while loading.)
	if !opt.DryRun {
		ps, largest := decompressCopies(ctx, res.Files)
		r.memoryLimit = memoryLimit(largest)
		if len(ps) > 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			vopt.CopyTo, vopt.Progress, vopt.ManifestVerified = "", nil, nil
			early.stop()
			return nil, nil, &IntegrityError{Snapshot: info.ID, Status: info.Status, Problems: ps, Folder: opt.Folder.Location(),
				NewestGood: newestGood(ctx, opt.Folder, r.c.all, r.c.entries, info.ID, vopt)}
		}
	}
	// A partial snapshot (tables left out at backup) is proven all the
	// same: what it holds verified. Its restore says what it lacks.
	proven := 0
	for _, w := range res.Warnings {
		if w.Kind == verify.KindPartial {
			r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf("table %s was not restored: %s", w.Table, w.Detail))
			continue
		}
		proven++
	}
	r.rep.Verified = info.Status == snapshot.StatusComplete && proven == 0
	r.rep.Verification = res.Warnings
	files := map[string]verify.FileResult{}
	for _, f := range res.Files {
		files[f.File] = f
	}
	for i := range r.tables {
		if r.tables[i].entry == nil {
			// A bare snapshot: its row counts are what verify decoded.
			r.tables[i].rows = 0
			for _, name := range r.tables[i].files {
				r.tables[i].rows += files[name].Rows
			}
		}
	}

	// From here the manifest verified: its DDL may be looked at.
	if m == nil {
		v := &validated{tables: map[string]*vtable{}}
		for _, t := range r.c.tables {
			schema, name := splitKey(t.key)
			v.tables[t.key] = &vtable{key: t.key, schema: schema, name: name, legacy: true}
		}
		r.rep.StorageVersion = r.opt.StorageVersion
		return files, v, nil
	}
	v, err := early.result(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.rep.StorageVersion = storageVersion(m.StorageVersion)
	if r.opt.StorageVersion != "" {
		r.rep.StorageVersion = r.opt.StorageVersion
	}
	return files, v, nil
}

// earlyValidation checks a manifest's DDL in the sandbox while verify
// still hashes the files: it starts once the manifest itself verified.
type earlyValidation struct {
	m      *snapshot.Manifest
	done   chan struct{} // closed once v and err are set; nil until started
	v      *validated
	err    error
	cancel context.CancelFunc
}

func newEarlyValidation(ctx context.Context, m *snapshot.Manifest, vopt *verify.Options) *earlyValidation {
	vctx, cancel := context.WithCancel(ctx)
	e := &earlyValidation{m: m, cancel: cancel}
	if m == nil || m.Legacy() {
		return e
	}
	vopt.ManifestVerified = func() {
		e.done = make(chan struct{})
		go func() {
			defer close(e.done)
			started := time.Now()
			e.v, e.err = validate(vctx, m)
			slog.Debug("checked the manifest's DDL in a sandbox", "took", time.Since(started))
		}()
	}
	return e
}

// stop cancels a validation still running and waits for it.
func (e *earlyValidation) stop() {
	e.cancel()
	if e.done != nil {
		<-e.done
	}
}

// result waits for the early validation, or validates now if it never
// started.
func (e *earlyValidation) result(ctx context.Context) (*validated, error) {
	if e.done == nil {
		return validate(ctx, e.m)
	}
	<-e.done
	return e.v, e.err
}

// sourcePaths names the Parquet files DuckDB reads for each table, in
// the manifest's order: the verified copies (verify copies every file of
// the snapshot), or in a dry run the snapshot's own files. Every table
// is named, as --with-dependencies may add tables to the chosen ones.
func (r *restoreRun) sourcePaths(files map[string]verify.FileResult) (map[string][]string, error) {
	paths := map[string][]string{}
	for _, t := range r.c.tables {
		for _, name := range t.files {
			if p, local := storage.LocalPath(r.opt.Folder, name); r.opt.DryRun && local {
				paths[t.key] = append(paths[t.key], p)
				continue
			}
			f, found := files[name]
			if !found || f.Copy == "" {
				return nil, fmt.Errorf("restore: verify returned no verified copy of %s (table %s)", name, t.key)
			}
			paths[t.key] = append(paths[t.key], f.Copy)
		}
	}
	return paths, nil
}

// probeTarget says whether the target exists and, when it does, that no
// other process holds it: opening it read-only fails then, without
// changing a byte of it.
func probeTarget(ctx context.Context, target string) (bool, error) {
	fi, err := os.Stat(target)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot use %s: %w", target, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("cannot restore into %s: it is not a regular file", target)
	}
	db, err := openDB(ctx, target, true, "")
	if err != nil {
		var le *dbfile.LockedError
		if errors.As(err, &le) || ctx.Err() != nil {
			return true, err
		}
		return true, &UnreadableTargetError{Path: target, Err: err}
	}
	return true, db.Close()
}

// UnreadableTargetError is a target that exists but DuckDB cannot open (a
// damaged file). Restore never replaces a file it cannot read: the user
// moves it aside, and the next restore builds a new database.
type UnreadableTargetError struct {
	Path string
	Err  error
}

func (e *UnreadableTargetError) Error() string {
	msg := dberr.Summary(e.Err)
	return fmt.Sprintf("%s cannot be opened as a DuckDB database (%s); if it is damaged, move it aside (mv %s %s.broken) and run the restore again: it then builds a new database from the snapshot", e.Path, msg, e.Path, e.Path)
}

func (e *UnreadableTargetError) Unwrap() error { return e.Err }

// makeParents creates the missing folders above a new target when
// allowed, and returns them (deepest last) so a failed restore can remove
// them again.
func makeParents(dir string, create bool) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if !create {
		return nil, fmt.Errorf("cannot restore into %s: folder %s does not exist", dir, missing[len(missing)-1])
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// Shallowest first.
	for i, j := 0, len(missing)-1; i < j; i, j = i+1, j-1 {
		missing[i], missing[j] = missing[j], missing[i]
	}
	return missing, nil
}

func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // only if empty
	}
}

// syncDirs makes created folders durable: each one's entry lives in its parent.
func syncDirs(dirs []string) {
	for _, d := range dirs {
		if err := fsutil.SyncPath(filepath.Dir(d)); err != nil {
			slog.Warn("could not sync a folder restore created", "folder", filepath.Dir(d), "err", err)
		}
	}
}
