package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/prune"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/retention"
	"github.com/openspartan/statsnap/snapshot"
)

type pruneOptions struct {
	Gamertag string
	All      bool
	Policy   retention.Policy
	Within   string
	DryRun   bool
}

// policyForms is what a user who typed a wrong policy is told.
const policyForms = `give at least one of --keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N (N a whole number of at least 1) or --keep-within DURATION (units y, m, d, h combined like "1y6m", "14d" or "2d12h"); e.g. --keep-weekly 8 --keep-monthly 12`

// countValue is an int flag whose parse error says what a count is; a
// plain IntVar would answer "--keep-last x" in strconv's words.
type countValue struct{ n *int }

func (c countValue) String() string {
	if c.n == nil {
		return "0"
	}
	return strconv.Itoa(*c.n)
}

func (c countValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a whole number of at least 1, e.g. 8")
	}
	*c.n = n
	return nil
}

func (c countValue) Type() string { return "N" }

type pruneKeepJSON struct {
	Snapshot  string   `json:"snapshot"`
	Time      string   `json:"time"`
	Status    string   `json:"status"`
	Reasons   []string `json:"reasons"`
	SizeBytes int64    `json:"size_bytes"`
}

type pruneRemoveJSON struct {
	Snapshot  string `json:"snapshot"`
	Time      string `json:"time"`
	Status    string `json:"status"`
	SizeBytes int64  `json:"size_bytes"`
	Removed   bool   `json:"removed"`
	Error     string `json:"error,omitempty"`
}

type pruneSkipJSON struct {
	Snapshot string `json:"snapshot"`
	Time     string `json:"time"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
}

type pruneGroupJSON struct {
	Gamertag       string            `json:"gamertag"`
	Folder         string            `json:"folder"`
	Keep           []pruneKeepJSON   `json:"keep"`
	Remove         []pruneRemoveJSON `json:"remove"`
	Skipped        []pruneSkipJSON   `json:"skipped"`
	Cleaned        []string          `json:"cleaned"`
	CleanupSkipped []string          `json:"cleanup_skipped,omitempty"`
	FreedBytes     int64             `json:"freed_bytes"`
}

type pruneJSON struct {
	DryRun     bool             `json:"dry_run"`
	Policy     string           `json:"policy"`
	Groups     []pruneGroupJSON `json:"groups"`
	Failed     []failedJSON     `json:"failed"`
	FreedBytes int64            `json:"freed_bytes"`
}

func newPruneCmd(g *globals) *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune (--gamertag G | --all) [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION] [--dry-run]",
		Short: "Remove snapshots a retention policy does not keep (restic's forget rules)",
		Long: `prune keeps the snapshots that any --keep rule selects and removes the others,
with restic 0.14's forget semantics: each rule walks the snapshots newest first
on its own, periods are computed in the UTC offset each snapshot recorded, and
weeks are ISO 8601 weeks. Only complete and legacy snapshots take part; bare
exports, interrupted backups and unreadable manifests are reported and left
alone, and a file no manifest claims is never deleted. --all prunes each player
folder of the backup root separately.`,
		Example: `  statsnap prune --gamertag Chocoboflor --keep-last 5 --dry-run
  statsnap prune --all --keep-weekly 8 --keep-monthly 12
  statsnap prune --all --keep-within 30d --keep-monthly 12 --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runPrune(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Gamertag, "gamertag", "", "prune this player's folder ({output}/{gamertag})")
	f.BoolVar(&o.All, "all", false, "prune every player folder of the backup root, each on its own")
	f.Var(countValue{&o.Policy.Last}, "keep-last", "keep the N newest snapshots")
	f.Var(countValue{&o.Policy.Hourly}, "keep-hourly", "keep the newest snapshot of each of the last N hours that have one")
	f.Var(countValue{&o.Policy.Daily}, "keep-daily", "keep the newest snapshot of each of the last N days that have one")
	f.Var(countValue{&o.Policy.Weekly}, "keep-weekly", "keep the newest snapshot of each of the last N ISO weeks that have one")
	f.Var(countValue{&o.Policy.Monthly}, "keep-monthly", "keep the newest snapshot of each of the last N months that have one")
	f.Var(countValue{&o.Policy.Yearly}, "keep-yearly", "keep the newest snapshot of each of the last N years that have one")
	f.StringVar(&o.Within, "keep-within", "", "keep every snapshot newer than the newest one minus `DURATION` (\"30d\", \"1y6m\", \"2d12h\")")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and change nothing")
	return cmd
}

// checkPolicy turns the flags into a policy, or a usage error that shows
// the accepted forms.
func checkPolicy(cmd *cobra.Command, o *pruneOptions) error {
	for _, c := range []struct {
		flag string
		n    int
	}{
		{"keep-last", o.Policy.Last}, {"keep-hourly", o.Policy.Hourly}, {"keep-daily", o.Policy.Daily},
		{"keep-weekly", o.Policy.Weekly}, {"keep-monthly", o.Policy.Monthly}, {"keep-yearly", o.Policy.Yearly},
	} {
		// Only flags the user set: an unset count is 0 and means "no
		// such rule", an explicit 0 would silently disable it.
		if cmd.Flags().Changed(c.flag) {
			if err := retention.ValidateCount("--"+c.flag, c.n); err != nil {
				return usageErr("%v; %s", err, policyForms)
			}
		}
	}
	if cmd.Flags().Changed("keep-within") {
		d, err := retention.ParseDuration(o.Within)
		if err != nil {
			return usageErr("--keep-within: %v", err)
		}
		o.Policy.Within = d
	}
	if o.Policy.Empty() {
		return usageErr("prune needs a retention policy: %s", policyForms)
	}
	return nil
}

func runPrune(cmd *cobra.Command, g *globals, o pruneOptions) error {
	if o.All == (o.Gamertag != "") {
		return usageErr("choose what to prune: --gamertag G or --all")
	}
	if err := checkPolicy(cmd, &o); err != nil {
		return err
	}
	var names []string
	if o.All {
		all, err := backupFolders(cmd.Context(), g, "")
		if err != nil {
			return err
		}
		for _, n := range all {
			// Hidden folders are not players (checkGamertag refuses
			// such names), so prune neither locks nor scans them.
			if !strings.HasPrefix(n, ".") {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return withHint(fmt.Errorf("cannot prune: no player folders under %s", g.Output), "check --output")
		}
	} else {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
		names = []string{o.Gamertag}
	}

	doc := pruneJSON{DryRun: o.DryRun, Policy: prune.Describe(o.Policy), Groups: []pruneGroupJSON{}, Failed: []failedJSON{}}
	w := g.out()
	if !g.JSON {
		fmt.Fprintf(w, "applying policy: %s\n", doc.Policy)
	}
	var failed []string
	for _, name := range names {
		group, err := pruneOne(cmd.Context(), g, o, name)
		if group != nil {
			doc.Groups = append(doc.Groups, *group)
			doc.FreedBytes += group.FreedBytes
			if !g.JSON {
				printPruneGroup(w, *group, o.DryRun)
			}
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				// The generic "nothing was changed" would be wrong here:
				// removals before the signal stand.
				return withReport(doc, &interruptedError{"prune interrupted; each snapshot is either fully removed or untouched (an interrupted removal is finished by the next run); run it again to finish"}, false)
			}
			if len(names) == 1 {
				doc.Failed = append(doc.Failed, failedJSON{Gamertag: name, Error: describe(err).line()})
				return withReport(doc, err, false)
			}
			failed = append(failed, name)
			doc.Failed = append(doc.Failed, failedJSON{Gamertag: name, Error: describe(err).line()})
			// One line per folder as it fails: the others go on.
			fmt.Fprintf(g.stderr, "statsnap: %s\n", describe(err).line())
		}
	}
	if len(failed) > 0 {
		return withReport(doc, fmt.Errorf("%d of %d player folders could not be pruned completely: %s", len(failed), len(names), strings.Join(failed, ", ")), false)
	}
	if g.JSON {
		return g.printJSON(doc)
	}
	if len(names) > 1 {
		removed := 0
		for _, gr := range doc.Groups {
			for _, r := range gr.Remove {
				if r.Removed || o.DryRun {
					removed++
				}
			}
		}
		verb, freed := "removed", "freed"
		if o.DryRun {
			verb, freed = "would remove", "freeing"
		}
		fmt.Fprintf(w, "total: %s %d snapshot(s) in %d player folder(s), %s %s\n", verb, removed, len(doc.Groups), freed, humanBytes(doc.FreedBytes))
	}
	return nil
}

// pruneOne prunes one player's folder. It returns the group to report
// even when some removals failed, with an error that says what went wrong.
func pruneOne(ctx context.Context, g *globals, o pruneOptions, name string) (*pruneGroupJSON, error) {
	dir := g.playerFolder(name)
	op := &opError{op: "prune " + name, verb: "prune", folder: dir, disk: dir, place: "--output"}
	local, err := storage.OpenFolder(ctx, dir, false)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = withHint(notExist("%s does not exist", dir), "check --gamertag and --output")
		}
		op.err = err
		return nil, op
	}
	defer local.Close()
	// A dry run only reads, so a shared lock is enough; it still waits for
	// a backup in progress so that the plan does not see half a snapshot.
	unlock, err := lockFolder(ctx, g, local, !o.DryRun)
	if err != nil {
		op.err = err
		return nil, op
	}
	defer unlock()
	res, err := prune.Run(ctx, faultFolder(local), prune.Options{Policy: o.Policy, DryRun: o.DryRun})
	if res == nil {
		if err == nil || errors.Is(err, context.Canceled) {
			return nil, err
		}
		op.err = err
		return nil, op
	}
	group := groupJSON(name, dir, res)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &group, err
		}
		return &group, fmt.Errorf("cannot prune %s completely: %w; those snapshots were left in place, the other removals were done", name, err)
	}
	return &group, nil
}

func snapTime(s snapshot.Info) string { return s.Time.Format(time.RFC3339) }

func groupJSON(name, dir string, res *prune.Result) pruneGroupJSON {
	gr := pruneGroupJSON{
		Gamertag: name, Folder: dir,
		Keep: []pruneKeepJSON{}, Remove: []pruneRemoveJSON{}, Skipped: []pruneSkipJSON{},
		Cleaned: append([]string{}, res.Cleanup.Removed...), CleanupSkipped: res.Cleanup.Skipped,
		FreedBytes: res.Freed,
	}
	for _, k := range res.Keep {
		gr.Keep = append(gr.Keep, pruneKeepJSON{Snapshot: k.Snapshot.ID, Time: snapTime(k.Snapshot),
			Status: string(k.Snapshot.Status), Reasons: k.Reasons, SizeBytes: k.Size})
	}
	for _, r := range res.Remove {
		j := pruneRemoveJSON{Snapshot: r.Snapshot.ID, Time: snapTime(r.Snapshot),
			Status: string(r.Snapshot.Status), SizeBytes: r.Size, Removed: r.Removed}
		switch {
		case r.Refused != nil:
			j.Error = "refused: " + r.Refused.Error()
		case r.Err != nil:
			j.Error = r.Err.Error()
		}
		gr.Remove = append(gr.Remove, j)
	}
	for _, s := range res.Skip {
		gr.Skipped = append(gr.Skipped, pruneSkipJSON{Snapshot: s.Snapshot.ID, Time: snapTime(s.Snapshot),
			Status: string(s.Snapshot.Status), Reason: s.Reason})
	}
	return gr
}

// printPruneGroup writes the human report of one folder: what is kept and
// why, what goes and what it frees, and what took no part.
func printPruneGroup(w io.Writer, gr pruneGroupJSON, dryRun bool) {
	fmt.Fprintf(w, "\n%s (%s)\n", gr.Gamertag, gr.Folder)
	if len(gr.Cleaned) > 0 {
		fmt.Fprintf(w, "cleaned up after interrupted runs (journals, the files they list, stale temporaries): removed %s\n", strings.Join(gr.Cleaned, ", "))
	}
	for _, s := range gr.CleanupSkipped {
		fmt.Fprintf(w, "  ! could not use %s\n", s)
	}
	if len(gr.Keep)+len(gr.Remove)+len(gr.Skipped) == 0 {
		fmt.Fprintln(w, "no snapshots")
		return
	}
	if len(gr.Keep) > 0 {
		fmt.Fprintf(w, "keep %d snapshot(s):\n", len(gr.Keep))
		fmt.Fprintf(w, "  %-15s  %-25s  %10s  %s\n", "SNAPSHOT", "TIME", "SIZE", "REASONS")
		for _, k := range gr.Keep {
			fmt.Fprintf(w, "  %-15s  %-25s  %10s  %s\n", k.Snapshot, k.Time, humanBytes(k.SizeBytes), strings.Join(k.Reasons, ", "))
		}
	}
	if len(gr.Remove) > 0 {
		fmt.Fprintf(w, "remove %d snapshot(s):\n", len(gr.Remove))
		fmt.Fprintf(w, "  %-15s  %-25s  %10s  %s\n", "SNAPSHOT", "TIME", "FREES", "STATE")
		for _, r := range gr.Remove {
			state := "removed"
			switch {
			case r.Error != "":
				state = "NOT REMOVED: " + r.Error
			case dryRun:
				state = "would be removed"
			}
			fmt.Fprintf(w, "  %-15s  %-25s  %10s  %s\n", r.Snapshot, r.Time, humanBytes(r.SizeBytes), state)
		}
	}
	if len(gr.Skipped) > 0 {
		fmt.Fprintf(w, "skipped %d (neither counted nor removed):\n", len(gr.Skipped))
		for _, s := range gr.Skipped {
			fmt.Fprintf(w, "  %-15s  %-10s  %s\n", s.Snapshot, s.Status, s.Reason)
		}
	}
	removed := 0
	for _, r := range gr.Remove {
		if r.Removed {
			removed++
		}
	}
	if dryRun {
		n := 0
		for _, r := range gr.Remove {
			if r.Error == "" {
				n++
			}
		}
		fmt.Fprintf(w, "dry run: would remove %d snapshot(s), freeing %s; nothing was changed\n", n, humanBytes(gr.FreedBytes))
		return
	}
	fmt.Fprintf(w, "removed %d snapshot(s), freed %s\n", removed, humanBytes(gr.FreedBytes))
}
