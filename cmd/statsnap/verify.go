package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

type verifyOptions struct {
	Backup          string
	Snapshot        string
	All             bool
	Deep            bool
	AllowUnverified bool
	Jobs            int
	Quick           bool
	AllPlayers      bool
	MaxAge          string
	Budget          string
}

// verifySnapJSON is one snapshot of verify's JSON (SPEC: snapshot, ok,
// problems; the rest is extra).
type verifySnapJSON struct {
	Gamertag string              `json:"gamertag,omitempty"` // whole-root verify
	Snapshot string              `json:"snapshot"`
	Status   string              `json:"status"`
	Time     string              `json:"time,omitempty"`
	OK       bool                `json:"ok"`
	Problems []verify.Problem    `json:"problems"`
	Warnings []verify.Problem    `json:"warnings"`
	Files    []verify.FileResult `json:"files"`
	// MAC is "verified", "failed", "not_checked" (the manifest has a MAC
	// but no key was given) or "none".
	MAC   verify.MACState `json:"mac"`
	Error string          `json:"error,omitempty"`
	// Source is "read", "ledger" (every file vouched for by a recent
	// check, --max-age), "mixed" or "partial" (--budget left files for a
	// later run; Deferred counts them).
	Source   string `json:"source"`
	Deferred int    `json:"deferred_files"`
}

type verifySkipJSON struct {
	Snapshot string `json:"snapshot"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
}

type verifyJSON struct {
	OK        bool             `json:"ok"`
	Backup    string           `json:"backup"`
	Deep      bool             `json:"deep"`
	Snapshots []verifySnapJSON `json:"snapshots"`
	Skipped   []verifySkipJSON `json:"skipped"`
	// Coverage and LedgerIgnored: one player folder.
	Coverage      *verifyCoverageJSON `json:"coverage,omitempty"`
	LedgerIgnored string              `json:"ledger_ignored,omitempty"`
	// Players: a whole backup root, one entry per player folder (its
	// snapshots are also in Snapshots, with their gamertag).
	Players []verifyPlayerJSON `json:"players,omitempty"`
}

func newVerifyCmd(g *globals) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify (--backup DIR | --all-players) [--snapshot ID | --all] [--deep | --quick] [--max-age AGE] [--budget SIZE|DURATION] [--allow-unverified]",
		Short: "Prove that snapshots are intact, or say exactly what is wrong",
		Long: `verify checks a player's backup folder against its manifests: the manifest's
own checksum (and MAC, given a key), and for every table file its presence, size,
BLAKE3 hash, footer row count and Arrow schema. --deep also decodes every row.

Snapshots made by the seed's Python script record no hashes: they get every
check that is still possible and the problem "unverifiable", which
--allow-unverified accepts as a warning.

Every check is recorded in the folder's verification ledger
(.statsnap-ledger.json). --max-age AGE skips reading the files whose last
check, of at least the asked depth, passed within AGE; --budget SIZE|SHARE|
DURATION (e.g. 2GB, 25%, 30m) reads the least recently checked files first
until the budget is spent (and implies --all), so that repeated runs cover
every file. The report gives the coverage: the oldest check, and the bytes
never checked. A ledger that fails its checksum (or, given a key, its MAC),
or that belongs to another folder, is ignored and every file is read.

When DIR is a backup root rather than a player folder (or with --all-players,
which verifies --output), every player folder is verified on its own and the
exit status covers them all.` + exitStatus(
			"0 every checked snapshot is intact",
			"1 verify could not run (a missing folder, a held lock, an I/O error)",
			exitLineUsage,
			"3 a problem was found in a snapshot",
			exitLineInterrupted),
		Example: `  statsnap verify --backup data/backups/Chocoboflor
  statsnap verify --backup data/backups/Chocoboflor --all --deep
  statsnap verify --backup data/backups/JGtm --snapshot 20260201_143025 --json
  statsnap verify --all-players --budget 25%
  statsnap verify --backup data/backups --all --max-age 7d`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Backup, "backup", "", "the player's backup folder (e.g. data/backups/{gamertag})")
	f.StringVar(&o.Snapshot, "snapshot", "", "the snapshot id to verify, YYYYMMDD_HHMMSS (default: the newest)")
	f.BoolVar(&o.All, "all", false, "verify every snapshot in the folder")
	f.BoolVar(&o.Deep, "deep", false, "also decode every value of every file")
	f.BoolVar(&o.AllowUnverified, "allow-unverified", false, "accept snapshots that cannot be proven (seed-made, or without a MAC) with a warning")
	f.IntVar(&o.Jobs, "jobs", 0, "files hashed at once (default: the number of CPUs, and 6 more small files from an object store)")
	f.BoolVar(&o.Quick, "quick", false, "check only sizes, footer row counts and schemas, without reading the data (proves much less than the default)")
	f.BoolVar(&o.AllPlayers, "all-players", false, "verify every player folder of the backup root (--output, or --backup ROOT)")
	f.StringVar(&o.MaxAge, "max-age", "", "skip files whose last check of at least this depth passed within `AGE` (e.g. 7d, 36h), per the ledger")
	f.StringVar(&o.Budget, "budget", "", "read at most this much, least recently checked files first: a size (2GB), a share (25%) or a duration (30m)")
	return cmd
}

func runVerify(cmd *cobra.Command, g *globals, o verifyOptions) error {
	if o.Backup == "" && !o.AllPlayers {
		return usageErr("verify needs --backup DIR, the player's backup folder (e.g. data/backups/{gamertag}), or --all-players")
	}
	if o.All && o.Snapshot != "" {
		return usageErr("choose --snapshot ID or --all, not both")
	}
	if o.Deep && o.Quick {
		return usageErr("choose --deep or --quick, not both")
	}
	if o.Snapshot != "" {
		if err := snapshot.CheckID(o.Snapshot); err != nil {
			return usageErr("--snapshot: %v", err)
		}
	}
	if o.Jobs < 0 {
		return usageErr("--jobs must be at least 1, got %d", o.Jobs)
	}
	r := verifyRun{o: o, now: time.Now()}
	var err error
	if o.MaxAge != "" {
		if r.maxAge, err = parseAge(o.MaxAge); err != nil {
			return usageErr("--max-age: %v", err)
		}
	}
	if o.Budget != "" {
		if r.budget, err = parseBudget(o.Budget); err != nil {
			return usageErr("%v", err)
		}
	}
	if r.key, err = g.key(); err != nil {
		return err
	}
	ctx := cmd.Context()
	if o.AllPlayers {
		root := o.Backup
		if root == "" {
			root = g.Output
		}
		return runVerifyRoot(ctx, g, r, root)
	}
	// On an object store, verifyOneFolder tells a backup root from a
	// player folder itself, from the listing it takes under the lock.
	remote := remoteLocation(o.Backup)
	if !remote && isBackupRoot(ctx, o.Backup) {
		return runVerifyRoot(ctx, g, r, o.Backup)
	}

	p, err := verifyOneFolder(ctx, g, r, o.Backup, snapshot.FolderName(o.Backup), 1, remote)
	if errors.Is(err, errBackupRoot) {
		return runVerifyRoot(ctx, g, r, o.Backup)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && len(p.Snapshots) == 0 {
		return err
	}
	cov := p.Coverage
	doc := verifyJSON{OK: p.OK, Backup: o.Backup, Deep: o.Deep, Snapshots: p.Snapshots, Skipped: p.Skipped,
		Coverage: &cov, LedgerIgnored: p.LedgerIgnored}
	w := g.out()
	if !g.JSON {
		printVerdict(w, g.paint, o.Backup, doc)
	} else if err == nil && doc.OK {
		return g.printJSON(doc)
	}
	switch {
	case err != nil:
		return withReport(doc, err, false)
	case !doc.OK:
		bad := 0
		for _, s := range doc.Snapshots {
			if !s.OK {
				bad++
			}
		}
		// The report said it all, snapshot by snapshot.
		return withReport(doc, integrityErr("%d of %s of %s not intact", bad, plural(int64(len(doc.Snapshots)), "snapshot", "snapshots"), o.Backup), true)
	}
	return nil
}

// verifyTargets picks the snapshots to verify. An incomplete snapshot is
// the leftover of an interrupted backup or prune, not a snapshot: the
// default and --all pass over it (and say so); naming it checks it.
func verifyTargets(snaps []snapshot.Info, o verifyOptions) ([]snapshot.Info, []verifySkipJSON, error) {
	skipped := []verifySkipJSON{}
	if o.Snapshot != "" {
		s, err := snapshot.Find(snaps, o.Snapshot)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot verify: %s has no snapshot %s%s", o.Backup, o.Snapshot, available(snaps))
		}
		return []snapshot.Info{s}, skipped, nil
	}
	var usable []snapshot.Info
	for _, s := range snaps {
		if s.Status == snapshot.StatusIncomplete {
			skipped = append(skipped, verifySkipJSON{Snapshot: s.ID, Status: string(s.Status),
				Reason: "an interrupted backup or prune left it; the next backup or prune of this folder finishes it (name it with --snapshot to check it anyway)"})
			continue
		}
		usable = append(usable, s)
	}
	if len(usable) == 0 {
		return nil, nil, fmt.Errorf("cannot verify: %s holds no snapshot (no backup_metadata_*.json and no *_YYYYMMDD_HHMMSS.parquet files); check --backup", o.Backup)
	}
	if o.All {
		return usable, skipped, nil
	}
	newest := usable[len(usable)-1]
	// Only incomplete snapshots newer than the one checked are worth a note.
	var newer []verifySkipJSON
	for _, k := range skipped {
		if k.Snapshot > newest.ID {
			newer = append(newer, k)
		}
	}
	if newer == nil {
		newer = []verifySkipJSON{}
	}
	return []snapshot.Info{newest}, newer, nil
}

func available(snaps []snapshot.Info) string {
	if len(snaps) == 0 {
		return " (it holds no snapshot)"
	}
	ids := make([]string, 0, len(snaps))
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	if len(ids) > 5 {
		ids = append([]string{"…"}, ids[len(ids)-5:]...)
	}
	return " (it holds " + strings.Join(ids, ", ") + "; see 'statsnap snapshots')"
}

func printVerifyResult(w io.Writer, paint painter, s snapshot.Info, res verify.Result, took time.Duration) {
	rows := s.Rows()
	if s.Manifest == nil {
		// A bare snapshot records no counts: show what was decoded.
		for _, f := range res.Files {
			rows += f.Rows
		}
	}
	fmt.Fprintf(w, "snapshot %s (%s, %s, %s", s.ID, s.Status, plural(int64(s.Tables()), "table", "tables"), plural(rows, "row", "rows"))
	if !s.Time.IsZero() {
		fmt.Fprintf(w, ", taken %s", s.Time.Format(time.RFC3339))
	}
	fmt.Fprintln(w, ")")
	// One line per file, then one sentence per problem.
	bad := map[string]verify.Kind{}
	for _, p := range res.Problems {
		if _, seen := bad[p.File]; p.File != "" && !seen {
			bad[p.File] = p.Kind
		}
	}
	width := 0
	for _, f := range res.Files {
		width = max(width, len(f.File))
	}
	for _, f := range res.Files {
		mark := "ok"
		switch {
		case f.Source == "ledger":
			mark = "ledger"
		case f.Source == "deferred":
			mark = "later"
		case !f.OK:
			mark = "FAIL"
			if bad[f.File] == verify.KindMissing {
				mark = "MISSING"
			}
		}
		// Pad before painting: escape codes have no width on screen.
		shown := fmt.Sprintf("%-7s", mark)
		switch mark {
		case "ok", "ledger":
			shown = paint(colourOK, shown)
		case "FAIL", "MISSING":
			shown = paint(colourFail, shown)
		}
		if mark == "later" {
			fmt.Fprintf(w, "  %s %s (left for a later run by --budget)\n", shown, f.File)
			continue
		}
		if mark == "MISSING" {
			fmt.Fprintf(w, "  %s %s\n", shown, f.File)
			continue
		}
		sum := "-"
		if f.BLAKE3 != "" {
			sum = f.BLAKE3[:16]
		}
		fmt.Fprintf(w, "  %s %-*s %10d %-4s %10s  %s\n", shown, width, f.File, f.Rows, rowWord(f.Rows), humanBytes(f.Size), sum)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "  %s %s\n", paint(colourFail, "problem:"), problemSentence(p))
	}
	for _, p := range res.Warnings {
		fmt.Fprintf(w, "  %s %s\n", paint(colourWarn, "warning:"), problemSentence(p))
	}
	if res.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", res.Err)
	}
	verdict := "intact"
	warnings, partial := splitPartial(res.Warnings)
	switch {
	case res.Err != nil:
		verdict = "NOT CHECKED (see error above)"
	case len(res.Problems) == 1:
		verdict = "1 PROBLEM"
	case len(res.Problems) > 1:
		verdict = fmt.Sprintf("%d PROBLEMS", len(res.Problems))
	case len(warnings) == 1 && res.MAC == verify.MACNotChecked:
		verdict = "intact, not authenticated (no key was given to check its MAC)"
	case len(warnings) > 0:
		verdict = "intact as far as it can be checked (accepted with --allow-unverified)"
	case resultSource(res) == "ledger":
		verdict = "intact per the ledger (every file passed a check within --max-age; none was read again)"
	case resultSource(res) == "partial":
		verdict = "no problem in the files read (the others are left for a later run by --budget)"
	}
	if partial > 0 && res.Err == nil && len(res.Problems) == 0 {
		verdict += "; partial: " + plural(int64(partial), "table", "tables") + " left out at backup"
	}
	if took > 0 {
		fmt.Fprintf(w, "snapshot %s: %s (%d files, %.1fs)\n", s.ID, verdict, len(res.Files), took.Seconds())
		return
	}
	fmt.Fprintf(w, "snapshot %s: %s (%d files)\n", s.ID, verdict, len(res.Files))
}

// splitPartial returns the warnings other than a partial snapshot's
// (which say what it holds, not how well it was checked) and how many
// tables it leaves out.
func splitPartial(ws []verify.Problem) ([]verify.Problem, int) {
	var out []verify.Problem
	n := 0
	for _, w := range ws {
		if w.Kind == verify.KindPartial {
			n++
			continue
		}
		out = append(out, w)
	}
	return out, n
}

func problemSentence(p verify.Problem) string {
	where := ""
	if p.Table != "" {
		where = "table " + p.Table + ": "
	}
	return fmt.Sprintf("[%s] %s%s", p.Kind, where, p.Detail)
}

func printVerdict(w io.Writer, paint painter, dir string, doc verifyJSON) {
	bad, lenient, unkeyed := 0, 0, 0
	partial := 0
	for _, s := range doc.Snapshots {
		warnings, skipped := splitPartial(s.Warnings)
		if skipped > 0 && s.OK {
			partial++
		}
		switch {
		case !s.OK:
			bad++
		case len(warnings) == 1 && s.MAC == verify.MACNotChecked:
			unkeyed++
		case len(warnings) > 0:
			lenient++
		}
	}
	n := len(doc.Snapshots)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	if bad == 0 {
		note := ""
		if lenient > 0 {
			note = fmt.Sprintf(" (%d only as far as can be checked: accepted with --allow-unverified)", lenient)
		}
		if unkeyed > 0 {
			note += fmt.Sprintf(" (%d with a MAC that was not checked: give --key-file to authenticate)", unkeyed)
		}
		if partial > 0 {
			note += fmt.Sprintf(" (%d partial: tables left out at backup with --skip-table)", partial)
		}
		fmt.Fprintf(w, "verify: %s: %d snapshot%s of %s intact%s\n", paint(colourOK, "OK"), n, plural, dir, note)
		return
	}
	fmt.Fprintf(w, "verify: %s: %d of %d snapshot%s of %s not intact\n", paint(colourFail, "FAILED"), bad, n, plural, dir)
}
