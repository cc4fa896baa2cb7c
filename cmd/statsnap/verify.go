package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

type verifyOptions struct {
	Backup          string
	Snapshot        string
	All             bool
	Deep            bool
	Quick           bool
	AllowUnverified bool
	Jobs            int
}

// verifySnapJSON is one snapshot of verify's JSON (SPEC: snapshot, ok,
// problems; the rest is extra).
type verifySnapJSON struct {
	Snapshot string              `json:"snapshot"`
	Status   string              `json:"status"`
	Time     string              `json:"time,omitempty"`
	OK       bool                `json:"ok"`
	Problems []verify.Problem    `json:"problems"`
	Warnings []verify.Problem    `json:"warnings"`
	Files    []verify.FileResult `json:"files"`
	Error    string              `json:"error,omitempty"`
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
	Quick     bool             `json:"quick,omitempty"`
	Snapshots []verifySnapJSON `json:"snapshots"`
	Skipped   []verifySkipJSON `json:"skipped"`
}

func newVerifyCmd(g *globals) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify --backup DIR [--snapshot ID | --all] [--deep] [--allow-unverified]",
		Short: "Prove that snapshots are intact, or say exactly what is wrong",
		Long: `verify checks a player's backup folder against its manifests: the manifest's
own checksum (and MAC, given a key), and for every table file its presence, size,
BLAKE3 hash, footer row count and Arrow schema. --deep also decodes every row.

Snapshots made by the seed's Python script record no hashes: they get every
check that is still possible and the problem "unverifiable", which
--allow-unverified accepts as a warning.

Exit status: 0 every checked snapshot is intact, 3 a problem was found,
1 verify could not run, 2 bad flags.`,
		Example: `  statsnap verify --backup data/backups/Chocoboflor
  statsnap verify --backup data/backups/Chocoboflor --all --deep
  statsnap verify --backup data/backups/JGtm --snapshot 20260201_143025 --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Backup, "backup", "", "the player's backup folder (e.g. data/backups/{gamertag})")
	f.StringVar(&o.Snapshot, "snapshot", "", "the snapshot id to verify, YYYYMMDD_HHMMSS (default: the newest)")
	f.BoolVar(&o.All, "all", false, "verify every snapshot in the folder")
	f.BoolVar(&o.Deep, "deep", false, "also decode every value of every file")
	f.BoolVar(&o.Quick, "quick", false, "only the manifest, sizes and Parquet footers (ranged reads, no hashing): cheap on an object store, blind to a changed byte inside the data")
	f.BoolVar(&o.AllowUnverified, "allow-unverified", false, "accept snapshots that cannot be proven (seed-made, or without a MAC) with a warning")
	f.IntVar(&o.Jobs, "jobs", 0, "files hashed at once (default: the number of CPUs)")
	return cmd
}

func runVerify(cmd *cobra.Command, g *globals, o verifyOptions) error {
	if o.Backup == "" {
		return usageErr("verify needs --backup DIR, the player's backup folder (e.g. data/backups/{gamertag})")
	}
	if o.All && o.Snapshot != "" {
		return usageErr("choose --snapshot ID or --all, not both")
	}
	if o.Snapshot != "" {
		if err := snapshot.CheckID(o.Snapshot); err != nil {
			return usageErr("--snapshot: %v", err)
		}
	}
	if o.Jobs < 0 {
		return usageErr("--jobs must be at least 1, got %d", o.Jobs)
	}
	key, err := g.key()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	op := &opError{op: "verify " + o.Backup, verb: "verify", folder: o.Backup}
	folder, err := storage.OpenFolder(ctx, o.Backup, false)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = withHint(notExist("the folder does not exist"), "check --backup")
		}
		op.err = err
		return op
	}
	defer folder.Close()
	// Shared: other verifies and restores may read beside us, but no
	// backup or prune can change the folder while we read it.
	unlock, err := lockFolder(ctx, g, folder, false)
	if err != nil {
		op.err = err
		return op
	}
	defer unlock()

	entries, err := folder.List(ctx)
	if err != nil {
		op.err = err
		return op
	}
	snaps, err := snapshot.Scan(ctx, folder)
	if err != nil {
		op.err = err
		return op
	}
	targets, skipped, err := verifyTargets(snaps, o)
	if err != nil {
		return err
	}

	if o.Quick && o.Deep {
		return usageErr("--quick and --deep contradict each other: --quick reads only footers, --deep decodes everything; choose one")
	}
	opt := verify.Options{Deep: o.Deep, Quick: o.Quick, AllowUnverified: o.AllowUnverified, Key: key, Jobs: o.Jobs}
	if _, local := storage.LocalPath(folder, storage.LockName); !local && !o.Quick {
		// From an object store, each file streams once into scratch space
		// while it is hashed, and the footer and page checks read that
		// copy: a request per page header would cost more than the file.
		scratch, err := os.MkdirTemp("", "statsnap-verify-")
		if err != nil {
			return fmt.Errorf("cannot verify: create scratch space: %w", err)
		}
		defer os.RemoveAll(scratch)
		opt.CopyTo, opt.DropCopies = scratch, true
	}
	progress := !g.JSON && g.terminal()
	doc := verifyJSON{OK: true, Backup: o.Backup, Deep: o.Deep, Quick: o.Quick, Snapshots: []verifySnapJSON{}, Skipped: skipped}
	w := g.out()
	if !g.JSON {
		for _, s := range skipped {
			fmt.Fprintf(w, "skipping %s (%s): %s\n", s.Snapshot, s.Status, s.Reason)
		}
	}
	var opErr error
	for i, s := range targets {
		if progress {
			opt.Progress = func(done, total int, f verify.FileResult) {
				fmt.Fprintf(g.stderr, "\r\033[Kverifying %s: %d/%d files", s.ID, done, total)
			}
		}
		start := time.Now()
		res := verify.Snapshot(ctx, folder, s, entries, opt)
		if progress {
			fmt.Fprint(g.stderr, "\r\033[K")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sj := verifySnapJSON{Snapshot: res.Snapshot, Status: string(res.Status), OK: res.OK,
			Problems: res.Problems, Warnings: res.Warnings, Files: res.Files}
		if !s.Time.IsZero() {
			sj.Time = s.Time.Format(time.RFC3339)
		}
		if res.Err != nil {
			sj.Error = res.Err.Error()
			opErr = fmt.Errorf("could not verify snapshot %s: %w", s.ID, res.Err)
		}
		doc.OK = doc.OK && res.OK
		doc.Snapshots = append(doc.Snapshots, sj)
		if !g.JSON {
			if i > 0 {
				fmt.Fprintln(w)
			}
			printVerifyResult(w, s, res, time.Since(start), o.Quick)
		}
	}

	if !g.JSON {
		printVerdict(w, o.Backup, doc)
	} else if opErr == nil && doc.OK {
		return g.printJSON(doc)
	}
	switch {
	case opErr != nil:
		return withReport(doc, opErr, false)
	case !doc.OK:
		bad := 0
		for _, s := range doc.Snapshots {
			if !s.OK {
				bad++
			}
		}
		// The report said it all, snapshot by snapshot.
		return withReport(doc, integrityErr("%d of %d snapshot(s) of %s not intact", bad, len(doc.Snapshots), o.Backup), true)
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

func printVerifyResult(w io.Writer, s snapshot.Info, res verify.Result, took time.Duration, quick bool) {
	rows := s.Rows()
	if s.Manifest == nil {
		// A bare snapshot records no counts: show what was decoded.
		for _, f := range res.Files {
			rows += f.Rows
		}
	}
	fmt.Fprintf(w, "snapshot %s (%s, %d tables, %d rows", s.ID, s.Status, s.Tables(), rows)
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
		if !f.OK {
			mark = "FAIL"
			if bad[f.File] == verify.KindMissing {
				mark = "MISSING"
			}
		}
		if mark == "MISSING" {
			fmt.Fprintf(w, "  %-7s %s\n", mark, f.File)
			continue
		}
		sum := "-"
		if f.BLAKE3 != "" {
			sum = f.BLAKE3[:16]
		}
		fmt.Fprintf(w, "  %-7s %-*s %10d rows %10s  %s\n", mark, width, f.File, f.Rows, humanBytes(f.Size), sum)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "  problem: %s\n", problemSentence(p))
	}
	for _, p := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", problemSentence(p))
	}
	if res.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", res.Err)
	}
	verdict := "intact"
	if quick {
		verdict = "sizes and footers match (quick: not hashed)"
	}
	switch {
	case res.Err != nil:
		verdict = "NOT CHECKED (see error above)"
	case len(res.Problems) == 1:
		verdict = "1 PROBLEM"
	case len(res.Problems) > 1:
		verdict = fmt.Sprintf("%d PROBLEMS", len(res.Problems))
	case len(res.Warnings) > 0:
		verdict = "intact as far as it can be checked (accepted with --allow-unverified)"
	}
	fmt.Fprintf(w, "snapshot %s: %s (%d files, %.1fs)\n", s.ID, verdict, len(res.Files), took.Seconds())
}

func problemSentence(p verify.Problem) string {
	where := ""
	if p.Table != "" {
		where = "table " + p.Table + ": "
	}
	return fmt.Sprintf("[%s] %s%s", p.Kind, where, p.Detail)
}

func printVerdict(w io.Writer, dir string, doc verifyJSON) {
	bad, lenient := 0, 0
	for _, s := range doc.Snapshots {
		if !s.OK {
			bad++
		} else if len(s.Warnings) > 0 {
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
		if doc.Quick {
			fmt.Fprintf(w, "verify --quick: OK: %d snapshot%s of %s: every file present with the size, row count and schema the manifest records%s; content not hashed (verify without --quick proves every byte)\n", n, plural, dir, note)
			return
		}
		fmt.Fprintf(w, "verify: OK: %d snapshot%s of %s intact%s\n", n, plural, dir, note)
		return
	}
	fmt.Fprintf(w, "verify: FAILED: %d of %d snapshot%s of %s not intact\n", bad, n, plural, dir)
}
