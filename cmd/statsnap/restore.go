package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/restore"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

type restoreOptions struct {
	Gamertag        string
	DB              string
	Backup          string
	Snapshot        string
	Tables          string
	WithDeps        bool
	Replace         bool
	DryRun          bool
	List            bool
	AllowUnverified bool
	Force           bool
	All             bool
	StorageVersion  string
}

// restoreJSON is SPEC's restore document, with the verdict added.
type restoreJSON struct {
	*restore.Report
	OK             bool             `json:"ok"`
	Problems       []verify.Problem `json:"problems,omitempty"`
	NewestVerified string           `json:"newest_verified,omitempty"`
}

func newRestoreCmd(g *globals) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore (--gamertag G | --db PATH [--gamertag G] | --all) [--backup DIR]",
		Short: "Restore a verified snapshot into a database, in one transaction",
		Long: `Restore verifies a snapshot (the newest by id unless --snapshot), copying its
files to a private folder next to the target while hashing them, then restores
from those copies in one transaction: it all happens or nothing does.

Without --replace rows are appended to existing tables (missing tables are
created); with --replace the chosen tables are dropped and rebuilt. A snapshot
that does not verify is refused (exit 3) and the newest one that does is named.

Tables, macros and views are created each after what it uses, whatever their
names. --tables restores only the tables named. One whose foreign key
references a table that neither --tables nor the target has is refused (exit
2) with the list of the missing tables; --with-dependencies restores those too.
The snapshot's views and macros that use a restored table are created when the
target lacks them and has, after the restore, everything they use; those the
target has are kept, and views and macros that use no restored table are left
alone.

Without --backup, --gamertag G reads {--output}/G. --all restores every player
folder of a backup root (--backup ROOT, or --output) into
{--data-dir}/players/{gamertag}/stats.duckdb, each on its own: one failure does
not stop the others, and the exit status is the worst of them (3 before 1).` + exitStatus(
			"0 the restore committed (or, with --dry-run, would)",
			"1 the database is in use, a key conflicts, a table is incompatible, ...",
			exitLineUsage,
			"3 the snapshot does not verify or authenticate; the target is untouched",
			exitLineInterrupted),
		Example: `  statsnap restore --gamertag Chocoboflor --backup ./data/backups/Chocoboflor --replace
  statsnap restore --gamertag Chocoboflor --backup ./data/backups/Chocoboflor --dry-run
  statsnap restore --gamertag Chocoboflor --backup ./data/backups/Chocoboflor --list
  statsnap restore --db ./copy.duckdb --backup ./data/backups/JGtm --tables match_stats,medals_earned
  statsnap restore --db ./copy.duckdb --backup ./data/backups/JGtm --tables medals_earned --with-dependencies
  statsnap restore --gamertag Chocoboflor --output /mnt/nas/statsnap
  statsnap restore --all --backup /mnt/nas/statsnap --data-dir ./data`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Gamertag, "gamertag", "", "restore into data/players/{gamertag}/stats.duckdb (with --db: the snapshot's expected gamertag)")
	f.StringVar(&o.DB, "db", "", "restore into this DuckDB file")
	f.StringVar(&o.Backup, "backup", "", "the player's backup folder (e.g. ./data/backups/Chocoboflor)")
	f.StringVar(&o.Snapshot, "snapshot", "", "snapshot id (default: the newest)")
	f.StringVar(&o.Tables, "tables", "", "only these tables, comma-separated (with the views and macros that use them)")
	f.BoolVar(&o.WithDeps, "with-dependencies", false, "with --tables: also restore the tables their foreign keys reference that the target lacks")
	f.BoolVar(&o.Replace, "replace", false, "drop and rebuild the chosen tables instead of appending rows")
	f.BoolVar(&o.DryRun, "dry-run", false, "run every check and print the plan; write nothing")
	f.BoolVar(&o.List, "list", false, "list the snapshot's tables with rows, sizes and verification status")
	f.BoolVar(&o.AllowUnverified, "allow-unverified", false, "accept a seed-made (legacy) or bare snapshot, or one without a MAC; every file is fully decoded first")
	f.BoolVar(&o.Force, "force", false, "restore a snapshot of another gamertag")
	f.StringVar(&o.StorageVersion, "storage-version", "", "DuckDB storage version of a new database, e.g. v1.0.0 for older DuckDB releases to open it (default: the source's)")
	f.BoolVar(&o.All, "all", false, "restore every player folder of the backup root (--backup ROOT, or --output) into {--data-dir}/players/{gamertag}/stats.duckdb")
	return cmd
}

func runRestore(cmd *cobra.Command, g *globals, o restoreOptions) error {
	ctx := cmd.Context()
	if o.WithDeps && !cmd.Flags().Changed("tables") {
		return usageErr("--with-dependencies adds to --tables the tables they need; without --tables every table is restored already")
	}
	if o.All {
		return runRestoreAll(cmd, g, o)
	}
	if o.Backup == "" && o.Gamertag != "" {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
		// The player's folder of the backup root, as backup wrote it.
		o.Backup = g.playerFolder(o.Gamertag)
	}
	if o.Backup == "" {
		return usageErr("restore needs --backup DIR, the player's backup folder (e.g. ./data/backups/%s), or --gamertag G to read {--output}/G", orDefault(o.Gamertag, "GAMERTAG"))
	}
	if o.Gamertag != "" {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
	}
	if o.Snapshot != "" {
		if err := snapshot.CheckID(o.Snapshot); err != nil {
			return usageErr("--snapshot: %v", err)
		}
	}
	if o.StorageVersion != "" && !restore.ValidStorageVersion(o.StorageVersion) {
		return usageErr("--storage-version %q is not a DuckDB storage version (want the form v1.0.0: DuckDB writes v0.10.0 up to its own version)", o.StorageVersion)
	}
	var tables []string
	if cmd.Flags().Changed("tables") {
		seen := map[string]bool{}
		for _, t := range strings.Split(o.Tables, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				return usageErr("--tables %q names an empty table; give a comma-separated list like match_stats,medals_earned", o.Tables)
			}
			if !seen[t] {
				seen[t] = true
				tables = append(tables, t)
			}
		}
	}
	if o.List && (o.Replace || o.DryRun) {
		return usageErr("--list only lists a snapshot; drop --replace and --dry-run")
	}
	key, err := g.key()
	if err != nil {
		return err
	}
	folder, err := storage.OpenFolder(cmd.Context(), o.Backup, false)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = withHint(notExist("there is no backup folder at %s", o.Backup), "check --backup")
		}
		return &opError{op: "restore", verb: "restore", folder: o.Backup, err: err}
	}
	defer folder.Close()
	// Shared: verifies and other restores may read beside us, but no
	// backup or prune can change the snapshot while it is restored.
	unlock, err := lockFolder(ctx, g, folder, false)
	if err != nil {
		return &opError{op: "restore", verb: "restore", folder: o.Backup, err: err}
	}
	defer unlock()

	if o.List {
		return runRestoreList(cmd, g, o, folder, key)
	}

	var target string
	switch {
	case o.DB != "":
		target = o.DB
	case o.Gamertag != "":
		target = g.playerDB(o.Gamertag)
	default:
		return usageErr("choose where to restore: --gamertag G (data/players/G/stats.duckdb) or --db PATH")
	}

	mode := restore.ModeAppend
	if o.Replace {
		mode = restore.ModeReplace
	}
	opt := restore.Options{
		Folder:           folder,
		Snapshot:         o.Snapshot,
		Target:           target,
		CreateFolders:    o.DB == "",
		Gamertag:         o.Gamertag,
		Force:            o.Force,
		Tables:           tables,
		WithDependencies: o.WithDeps,
		Mode:             mode,
		DryRun:           o.DryRun,
		AllowUnverified:  o.AllowUnverified,
		Key:              key,
		StorageVersion:   o.StorageVersion,
		Event:            signalAt("restore"),
	}
	// Restore hashes every file it restores; what it found goes into the
	// folder's ledger (under the shared lock restore holds then).
	verifyStarted := time.Now()
	opt.Verified = func(s snapshot.Info, entries []storage.Entry, res verify.Result) {
		delta := snapshot.NewLedger(snapshot.FolderName(folder.Location()))
		verify.Record(delta, s, entries, res, verify.Options{}, verifyStarted)
		saveChecks(ctx, g, folder, key, nil, delta, time.Now())
	}
	// One view per stage: first the verified copy of every file, then the
	// tables; restore calls Progress from one goroutine at a time.
	var view *progressView
	var stage restore.Stage
	if g.showProgress() {
		opt.Progress = func(p restore.Progress) {
			if view == nil || p.Stage != stage {
				view.Close()
				verb, unit := "restore", "tables"
				if p.Stage == restore.StageVerify {
					verb, unit = "verify", "files"
				}
				view, stage = g.newProgressView(ctx, verb, p.Count, unit), p.Stage
			}
			if p.Done {
				view.End(p.Table, p.Rows, 0)
			} else {
				view.Begin(p.Table)
			}
		}
	}
	rep, err := restore.Run(ctx, opt)
	view.Close()
	if err != nil {
		return restoreFailed(g, err, rep, o, target, mode)
	}
	if g.JSON {
		if err := g.printJSON(restoreJSON{Report: rep, OK: true}); err != nil {
			return err
		}
	} else {
		printRestore(g, rep)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(g.stderr, "warning: %s\n", w)
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// restoreFailed fills the document of a failed restore and prints the
// problems of a snapshot that did not verify; the error table says the
// rest.
func restoreFailed(g *globals, err error, rep *restore.Report, o restoreOptions, target string, mode restore.Mode) error {
	if rep == nil {
		rep = &restore.Report{Snapshot: o.Snapshot, Target: target, Mode: mode, DryRun: o.DryRun, Tables: []restore.TableReport{}}
	}
	doc := restoreJSON{Report: rep}
	var (
		ie *restore.IntegrityError
		ge *restore.GamertagError
	)
	switch {
	case errors.As(err, &ie):
		rep.Snapshot = ie.Snapshot
		doc.Problems = ie.Problems
		doc.NewestVerified = ie.NewestGood
		if !g.JSON {
			for _, p := range ie.Problems {
				where := p.File
				if p.Table != "" {
					where = p.Table + " (" + p.File + ")"
				}
				if where != "" {
					where += ": "
				}
				fmt.Fprintf(g.stderr, "  %s: %s%s\n", p.Kind, where, p.Detail)
			}
		}
	case errors.As(err, &ge):
		rep.Snapshot = ge.Snapshot
	}
	return withReport(doc, &opError{op: "restore into " + target, verb: "restore", folder: o.Backup,
		disk: filepath.Dir(target), place: "--db", safe: "nothing was changed", err: err}, false)
}

// printable keeps a hostile table name on one line of a report.
func printable(name string) string {
	if strings.ContainsFunc(name, unicode.IsControl) {
		return strconv.Quote(name)
	}
	return name
}

func printRestore(g *globals, rep *restore.Report) {
	w := g.out()
	what := "restored"
	if rep.DryRun {
		what = "dry run: would restore"
	}
	newdb := ""
	if rep.NewDatabase {
		newdb = ", new database"
	}
	who := ""
	if rep.Gamertag != "" {
		who = " of " + rep.Gamertag
	}
	fmt.Fprintf(w, "%s snapshot %s%s into %s (%s%s)\n", what, rep.Snapshot, who, rep.Target, rep.Mode, newdb)
	fmt.Fprintf(w, "  %-32s %-8s %12s %12s", "TABLE", "ACTION", "ROWS", "BEFORE")
	if !rep.DryRun {
		fmt.Fprintf(w, " %12s", "AFTER")
	}
	fmt.Fprintln(w)
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "  %-32s %-8s %12d %12d", printable(t.Table), t.Action, t.Rows, t.RowsBefore)
		if !rep.DryRun {
			check := "ok"
			if !t.Checked {
				check = "MISMATCH"
			}
			fmt.Fprintf(w, " %12d  %s", t.RowsAfter, check)
		}
		fmt.Fprintln(w)
	}
	for _, s := range rep.Sequences {
		fmt.Fprintf(w, "  sequence %s: %s, next value %d\n", s.Sequence, s.Action, s.NextValue)
	}
	if !rep.Verified {
		fmt.Fprintf(w, "  note: snapshot %s is %s and could not be fully proven (accepted with --allow-unverified)\n", rep.Snapshot, rep.Status)
	}
	if rep.DryRun {
		fmt.Fprintln(w, "nothing was written")
	} else {
		fmt.Fprintf(w, "done in %.1fs\n", rep.Seconds)
	}
}

func runRestoreList(cmd *cobra.Command, g *globals, o restoreOptions, folder storage.Folder, key []byte) error {
	l, err := restore.List(cmd.Context(), restore.ListOptions{Folder: folder, Snapshot: o.Snapshot,
		AllowUnverified: o.AllowUnverified, Key: key})
	if err != nil {
		return &opError{op: "list", verb: "restore --list", folder: o.Backup, err: err}
	}
	if g.JSON {
		if l.OK {
			return g.printJSON(l)
		}
	} else {
		w := g.out()
		verdict := "verifies"
		if !l.OK {
			verdict = "DOES NOT VERIFY"
		}
		who := ""
		if l.Gamertag != "" {
			who = " of " + l.Gamertag
		}
		fmt.Fprintf(w, "snapshot %s%s (%s, %s) in %s: %s\n", l.Snapshot, who, l.Status, l.Time, filepath.Clean(o.Backup), verdict)
		fmt.Fprintf(w, "  %-32s %12s %10s  %s\n", "TABLE", "ROWS", "SIZE", "STATUS")
		for _, t := range l.Tables {
			fmt.Fprintf(w, "  %-32s %12d %10s  %s\n", printable(t.Table), t.Rows, humanBytes(t.SizeBytes), t.Status)
		}
		fmt.Fprintf(w, "  %-32s %12d %10s\n", "total", l.Rows, humanBytes(l.SizeBytes))
		for _, p := range l.Problems {
			fmt.Fprintf(w, "  %s: %s\n", p.Kind, p.Detail)
		}
		for _, p := range l.Warnings {
			fmt.Fprintf(w, "  warning: %s: %s\n", p.Kind, p.Detail)
		}
		if !l.OK {
			if l.NewestGood != "" {
				fmt.Fprintf(w, "the newest snapshot that verifies is %s (--snapshot %s)\n", l.NewestGood, l.NewestGood)
			} else {
				fmt.Fprintln(w, "no other snapshot in this folder verifies")
			}
		}
	}
	if !l.OK {
		// The listing said it.
		return withReport(l, integrityErr("snapshot %s does not verify", l.Snapshot), true)
	}
	return nil
}
