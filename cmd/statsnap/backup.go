package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

type backupOptions struct {
	Gamertag         string
	All              bool
	DB               string
	CompressionLevel int
	NoMetadata       bool
	Time             string
	Jobs             int
	Full             bool
	SkipTables       []string
}

// incrementalByDefault: backups share unchanged files unless --full
// (prune, verify and restore count shared files).
const incrementalByDefault = true

type backupTableJSON struct {
	Rows   int64            `json:"rows"`
	File   string           `json:"file"`
	BLAKE3 string           `json:"blake3,omitempty"`
	Bytes  int64            `json:"file_size_bytes"`
	Files  []backupFileJSON `json:"files,omitempty"`
}

// backupFileJSON is one file holding a table's rows; shared when an
// earlier snapshot wrote it.
type backupFileJSON struct {
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	BLAKE3 string `json:"blake3"`
	Bytes  int64  `json:"file_size_bytes"`
	Shared bool   `json:"shared"`
}

type backupSnapJSON struct {
	Gamertag string                     `json:"gamertag"`
	Snapshot string                     `json:"snapshot"`
	Manifest string                     `json:"manifest"`
	Folder   string                     `json:"folder"`
	Tables   map[string]backupTableJSON `json:"tables"`
	// TotalSizeBytes is the seed's figure, the Parquet files only;
	// SizeBytes adds the manifest, as `snapshots` counts a snapshot.
	TotalSizeBytes int64   `json:"total_size_bytes"`
	SizeBytes      int64   `json:"size_bytes"`
	Seconds        float64 `json:"seconds"`
	// Base is the earlier snapshot files were shared with (absent for a
	// full snapshot); NewBytes what this one wrote, SharedBytes what it
	// names of earlier snapshots.
	Base        string `json:"base,omitempty"`
	NewFiles    int    `json:"new_files"`
	NewBytes    int64  `json:"new_bytes"`
	SharedFiles int    `json:"shared_files"`
	SharedBytes int64  `json:"shared_bytes"`
	// Skipped are the tables left out with --skip-table: the snapshot is
	// partial.
	Skipped []snapshot.SkippedTable `json:"skipped_tables,omitempty"`
}

type failedJSON struct {
	Gamertag string `json:"gamertag"`
	Error    string `json:"error"`
}

func newBackupCmd(g *globals) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup (--gamertag G | --all | --db PATH [--gamertag G])",
		Short: "Back up players' databases to Parquet with a verifiable manifest",
		Long: `Write a snapshot of each chosen database into its player folder of the backup
root (--output): one zstd Parquet file per table, read at one point in time
from the database opened read-only, then a manifest with each file's BLAKE3
hash, row count, Arrow schema and DDL, written last. A backup is incremental:
a file of the previous snapshot whose rows DuckDB proves unchanged (a
fingerprint of every value of every row) is named again rather than written
again, once it is known good; --full writes every table anew. The app must be
closed while its database is read. --all backs up every player of --data-dir; one
failure does not stop the others.

A table statsnap cannot carry faithfully stops the backup before anything is
written, with a sentence naming it and why; --skip-table leaves it out (or any
other table), and the snapshot then records it as skipped: verify, snapshots
and restore --list report such a snapshot as partial.` + exitStatus(
			"0 every snapshot was written",
			"1 a database is missing or in use, a folder is locked, the disk is full, ...",
			exitLineUsage,
			exitLineInterrupted),
		Example: `  statsnap backup --gamertag Chocoboflor
  statsnap backup --all --output ./mes_backups --compression-level 15
  statsnap backup --db ./other/stats.duckdb --gamertag JGtm
  statsnap backup --gamertag Chocoboflor --full
  statsnap backup --gamertag Chocoboflor --skip-table scratch,imports.raw`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runBackup(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Gamertag, "gamertag", "", "player to back up (data/players/{gamertag}/stats.duckdb)")
	f.BoolVar(&o.All, "all", false, "back up every player under the data dir")
	f.StringVar(&o.DB, "db", "", "back up this DuckDB file")
	f.IntVar(&o.CompressionLevel, "compression-level", backup.DefaultCompressionLevel, "zstd level, 1 (fast) to 22 (smallest)")
	f.BoolVar(&o.NoMetadata, "no-metadata", false, "write the Parquet files only, like the seed's bare export (such a snapshot cannot be verified)")
	f.StringVar(&o.Time, "time", "", "record the snapshot as taken at this RFC 3339 time (for imports and tests)")
	f.IntVar(&o.Jobs, "jobs", 1, "with --all, back up this many players at once")
	f.BoolVar(&o.Full, "full", false, "write every table anew instead of sharing the files of unchanged rows with the previous snapshot")
	f.StringSliceVar(&o.SkipTables, "skip-table", nil, "leave out this table (name, or schema.name outside main; repeat or comma-separate); the snapshot records it as skipped")
	return cmd
}

type backupJob struct {
	gamertag string
	source   string
}

func runBackup(cmd *cobra.Command, g *globals, o backupOptions) error {
	modes := 0
	for _, set := range []bool{o.All, o.DB != "", o.Gamertag != "" && o.DB == ""} {
		if set {
			modes++
		}
	}
	if modes != 1 || (o.All && o.Gamertag != "") {
		return usageErr("choose what to back up: --gamertag G, --all, or --db PATH [--gamertag G]")
	}
	if o.CompressionLevel < backup.MinCompressionLevel || o.CompressionLevel > backup.MaxCompressionLevel {
		return usageErr("--compression-level must be between %d and %d, got %d", backup.MinCompressionLevel, backup.MaxCompressionLevel, o.CompressionLevel)
	}
	var at time.Time
	if o.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, o.Time)
		if err != nil {
			return usageErr("--time %q is not an RFC 3339 time (e.g. 2026-02-01T14:30:25+01:00)", o.Time)
		}
		// A snapshot id has four digits of year in local time: any other
		// year writes names that snapshots, verify and prune never see.
		// (Year 1 is also Go's zero time, which meant "now".)
		if y := t.Local().Year(); y < 1000 || y > 9999 {
			return usageErr("--time %q is year %d in local time; a snapshot id needs a year from 1000 to 9999", o.Time, y)
		}
		at = t
	}
	if o.Gamertag != "" {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
	}
	if o.Jobs < 1 {
		return usageErr("--jobs must be at least 1, got %d", o.Jobs)
	}
	key, err := g.key()
	if err != nil {
		return err
	}

	var jobs []backupJob
	switch {
	case o.All:
		ps, err := findPlayers(g.DataDir)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return withHint(fmt.Errorf("cannot back up: no players under %s", filepath.Join(g.DataDir, "players")), "check --data-dir")
		}
		for _, p := range ps {
			jobs = append(jobs, backupJob{p.Gamertag, p.DB})
		}
	case o.DB != "":
		name := o.Gamertag
		if name == "" {
			name = gamertagOfDB(o.DB)
			if err := checkGamertag(name); err != nil {
				return usageErr("cannot name the snapshot folder after %s; pass --gamertag", o.DB)
			}
		}
		jobs = append(jobs, backupJob{name, o.DB})
	default:
		jobs = append(jobs, backupJob{o.Gamertag, g.playerDB(o.Gamertag)})
	}

	// Players are independent: one slow or failing player holds up no
	// other. Results are reported in the players' order.
	snaps := make([]backupSnapJSON, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < min(o.Jobs, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				snaps[i], errs[i] = backupOne(cmd, g, o, jobs[i], at, key, o.Jobs == 1)
				if errs[i] != nil && len(jobs) > 1 && cmd.Context().Err() == nil {
					// One line per player as it fails: the others go on.
					mu.Lock()
					fmt.Fprintf(g.stderr, "statsnap: %s\n", describe(errs[i]).line())
					mu.Unlock()
				}
			}
		}()
	}
	for i := range jobs {
		if cmd.Context().Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := cmd.Context().Err(); err != nil {
		// A snapshot whose manifest was published before the signal is
		// made: say which, never "nothing was changed".
		var made, not []string
		for i, j := range jobs {
			if errs[i] == nil && snaps[i].Snapshot != "" {
				made = append(made, j.gamertag+" ("+snaps[i].Snapshot+")")
			} else {
				not = append(not, j.gamertag)
			}
		}
		switch {
		case len(made) == 0:
			return err
		case len(not) > 0:
			return &interruptedError{fmt.Sprintf("interrupted; backed up %s; nothing was changed for %s (run the backup again for them)",
				strings.Join(made, ", "), strings.Join(not, ", "))}
		}
		// Every backup committed before the interruption took effect.
	}
	done := []backupSnapJSON{}
	failed := []failedJSON{}
	for i, j := range jobs {
		if errs[i] != nil {
			failed = append(failed, failedJSON{Gamertag: j.gamertag, Error: describe(errs[i]).line()})
		} else if snaps[i].Snapshot != "" {
			done = append(done, snaps[i])
		}
	}
	doc := map[string]any{"snapshots": done, "failed": failed}
	switch {
	case len(failed) == 1 && len(jobs) == 1:
		return withReport(doc, errs[0], false)
	case len(failed) > 0:
		var who []string
		for _, f := range failed {
			who = append(who, f.Gamertag)
		}
		return withReport(doc, fmt.Errorf("%d of %d backups failed: %s", len(failed), len(jobs), strings.Join(who, ", ")), false)
	}
	if g.JSON {
		return g.printJSON(doc)
	}
	return nil
}

// gamertagOfDB names the folder of a --db backup: the parent folder for
// the app's own layout (…/{gamertag}/stats.duckdb), else the file's stem.
func gamertagOfDB(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if filepath.Base(abs) == "stats.duckdb" {
		return filepath.Base(filepath.Dir(abs))
	}
	base := filepath.Base(abs)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func backupOne(cmd *cobra.Command, g *globals, o backupOptions, j backupJob, at time.Time, key []byte, showProgress bool) (backupSnapJSON, error) {
	ctx := cmd.Context()
	start := time.Now()
	dir := g.playerFolder(j.gamertag)
	op := &opError{op: "back up " + j.gamertag, verb: "backup", folder: dir, source: j.source, disk: dir, place: "--output",
		safe: "nothing was committed and existing snapshots are untouched"}
	// The source is checked before the backup folder is made or locked:
	// a mistyped gamertag or a --db naming another kind of file must leave
	// no folder behind (it would show up as a player in prune --all).
	if err := dbfile.Check(j.source); err != nil {
		if errors.Is(err, dbfile.ErrNotExist) {
			err = fmt.Errorf("%w: %w", backup.ErrSourceMissing, err)
			// A --gamertag that is nearly a player's: "Chocobo Flor" for
			// "Chocobo Flör".
			if j.source == g.playerDB(j.gamertag) {
				if ps, perr := findPlayers(g.DataDir); perr == nil {
					names := make([]string, len(ps))
					for i, p := range ps {
						names[i] = p.Gamertag
					}
					if dym := didYouMean(j.gamertag, names); dym != "" {
						err = withHint(err, strings.TrimPrefix(dym, "; ")+" ('statsnap players' lists them)")
					}
				}
			}
		}
		op.err = err
		return backupSnapJSON{}, op
	}
	opened, err := storage.OpenFolder(ctx, dir, true)
	if err != nil {
		op.err = withHint(err, "check --output and its permissions")
		return backupSnapJSON{}, op
	}
	defer opened.Close()
	folder := faultFolder(opened)
	// The view starts with the first event, which carries the number of
	// tables; backup calls Progress from one goroutine at a time.
	var view *progressView
	defer func() { view.Close() }()
	progress := func(p backup.Progress) {
		if !showProgress {
			return
		}
		if view == nil {
			view = g.newProgressView(ctx, "backup "+j.gamertag, p.Count, "tables")
		}
		if p.Done {
			view.End(p.Table, p.Rows, p.Bytes)
		} else {
			view.Begin(p.Table)
		}
	}
	unlock, err := lockFolder(ctx, g, folder, true)
	if err != nil {
		op.err = err
		return backupSnapJSON{}, op
	}
	defer unlock()
	res, err := backup.Backup(ctx, backup.Options{
		Source:           j.source,
		Gamertag:         j.gamertag,
		Folder:           folder,
		CompressionLevel: o.CompressionLevel,
		NoMetadata:       o.NoMetadata,
		Full:             o.Full || !incrementalByDefault,
		SkipTables:       o.SkipTables,
		SkipAbsentOK:     o.All,
		Time:             at,
		Key:              key,
		Progress:         progress,
		Event:            signalAt("backup"),
	})
	view.Close()
	view = nil
	if err != nil {
		if errors.Is(err, backup.ErrIDTaken) {
			// Its message already says what to do.
			op.safe = ""
		}
		op.err = err
		return backupSnapJSON{}, op
	}
	if len(res.Cleanup.Removed) > 0 {
		fmt.Fprintf(g.stderr, "removed %s of an interrupted run in %s\n", plural(int64(len(res.Cleanup.Removed)), "leftover file", "leftover files"), dir)
	}
	for _, name := range res.Refused {
		fmt.Fprintf(g.stderr, "warning: %s of snapshot %s no longer matches its manifest, so its rows were written again from the database; run statsnap verify --backup %s --all\n", name, res.Base, dir)
	}
	if res.LedgerErr != nil {
		fmt.Fprintf(g.stderr, "warning: snapshot %s is complete, but the verification ledger of %s could not be updated (%v); its first verify reads every file\n", res.ID, dir, res.LedgerErr)
	}
	out := backupSnapJSON{
		Gamertag:       j.gamertag,
		Snapshot:       res.ID,
		Folder:         dir,
		Tables:         map[string]backupTableJSON{},
		TotalSizeBytes: res.Manifest.TotalSizeBytes,
		SizeBytes:      res.Manifest.TotalSizeBytes + res.ManifestBytes,
		Seconds:        time.Since(start).Seconds(),
		Base:           res.Base,
		NewFiles:       res.NewFiles,
		NewBytes:       res.NewBytes,
		SharedFiles:    res.SharedFiles,
		SharedBytes:    res.SharedBytes,
		Skipped:        res.Manifest.Skipped,
	}
	if res.ManifestName != "" {
		out.Manifest = storage.Redact(storage.Join(dir, res.ManifestName))
	}
	for k, t := range res.Manifest.Tables {
		tj := backupTableJSON{Rows: t.Rows, File: t.File, BLAKE3: t.BLAKE3, Bytes: t.FileSizeBytes}
		if len(t.Files) > 0 {
			for _, p := range t.Files {
				_, id := snapshot.Classify(p.File)
				tj.Files = append(tj.Files, backupFileJSON{File: p.File, Rows: p.Rows, BLAKE3: p.BLAKE3, Bytes: p.FileSizeBytes, Shared: id != res.ID})
			}
		}
		out.Tables[k] = tj
	}
	if !g.JSON && !g.Quiet {
		kind := "snapshot"
		if o.NoMetadata {
			kind = "bare export (no manifest)"
		}
		fmt.Fprintf(g.out(), "%s: %s %s: %s, %s, %s (Parquet %s + manifest %s) in %s (%.1fs)\n", j.gamertag, kind, res.ID,
			plural(int64(len(res.Manifest.Tables)), "table", "tables"), plural(res.Manifest.Rows(), "row", "rows"),
			humanBytes(out.SizeBytes), humanBytes(res.Manifest.TotalSizeBytes), humanBytes(res.ManifestBytes), dir, out.Seconds)
		for _, sk := range res.Manifest.Skipped {
			fmt.Fprintf(g.out(), "  partial: table %s was left out: %s\n", strconv.Quote(sk.Key()), sk.Reason)
		}
		if res.Base != "" {
			fmt.Fprintf(g.out(), "  incremental: wrote %s (%s), shares %s (%s) of unchanged rows with earlier snapshots\n",
				plural(int64(res.NewFiles), "file", "files"), humanBytes(res.NewBytes), plural(int64(res.SharedFiles), "file", "files"), humanBytes(res.SharedBytes))
		}
	}
	return out, nil
}
