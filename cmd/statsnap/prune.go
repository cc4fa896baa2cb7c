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
	"github.com/openspartan/statsnap/verify"
)

type pruneOptions struct {
	Gamertag string
	All      bool
	Policy   retention.Policy
	Within   string
	DryRun   bool
	// RemoveBroken also removes snapshots that fail verification.
	RemoveBroken bool
	VerifyMaxAge string
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

// pruneVerifiedJSON is the verification state behind a decision: "state"
// is verified, broken or unknown; "how" says whether a recent ledger
// check stood for the files ("ledger"), they were read now ("checked
// now"), or both.
type pruneVerifiedJSON struct {
	State       string `json:"state"`
	How         string `json:"how"`
	LedgerFiles int    `json:"ledger_files"`
	ReadFiles   int    `json:"read_files"`
}

type pruneKeepJSON struct {
	Snapshot  string            `json:"snapshot"`
	Time      string            `json:"time"`
	Status    string            `json:"status"`
	Reasons   []string          `json:"reasons"`
	SizeBytes int64             `json:"size_bytes"`
	Verified  pruneVerifiedJSON `json:"verification"`
}

type pruneRemoveJSON struct {
	Snapshot  string `json:"snapshot"`
	Time      string `json:"time"`
	Status    string `json:"status"`
	SizeBytes int64  `json:"size_bytes"`
	// Deletes are the data files the removal deletes (with its manifest);
	// Shared those it names that another snapshot still names, which stay.
	Deletes  []string          `json:"deletes"`
	Shared   []string          `json:"shared"`
	Removed  bool              `json:"removed"`
	Error    string            `json:"error,omitempty"`
	Verified pruneVerifiedJSON `json:"verification"`
}

// pruneBrokenJSON is a snapshot that fails verification (or, under
// "unchecked", could not be checked): never counted, never removed by the
// policy; with --remove-broken, "removed" says whether it went.
type pruneBrokenJSON struct {
	Snapshot  string           `json:"snapshot"`
	Time      string           `json:"time"`
	Status    string           `json:"status"`
	Problems  []verify.Problem `json:"problems"`
	SizeBytes int64            `json:"size_bytes"`
	Removed   bool             `json:"removed"`
	Error     string           `json:"error,omitempty"`
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
	Broken         []pruneBrokenJSON `json:"broken"`
	Unchecked      []pruneBrokenJSON `json:"unchecked"`
	NoneVerifies   bool              `json:"none_verifies"`
	LedgerIgnored  string            `json:"ledger_ignored,omitempty"`
	Skipped        []pruneSkipJSON   `json:"skipped"`
	Cleaned        []string          `json:"cleaned"`
	CleanupSkipped []string          `json:"cleanup_skipped,omitempty"`
	FreedBytes     int64             `json:"freed_bytes"`
	removeBroken   bool
}

type pruneJSON struct {
	DryRun       bool             `json:"dry_run"`
	Policy       string           `json:"policy"`
	VerifyMaxAge string           `json:"verify_max_age"`
	Groups       []pruneGroupJSON `json:"groups"`
	Failed       []failedJSON     `json:"failed"`
	FreedBytes   int64            `json:"freed_bytes"`
}

func newPruneCmd(g *globals) *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune (--gamertag G | --all) [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION] [--dry-run] [--remove-broken] [--verify-max-age AGE]",
		Short: "Remove snapshots a retention policy does not keep (restic's forget rules)",
		Long: `prune keeps the snapshots that any --keep rule selects and removes the others,
with restic 0.14's forget semantics: each rule walks the snapshots newest first
on its own, periods are computed in the UTC offset each snapshot recorded, and
weeks are ISO 8601 weeks. Only complete and legacy snapshots take part; bare
exports, interrupted backups and unreadable manifests are reported and left
alone, and a file no manifest claims is never deleted. --all prunes each player
folder of the backup root separately.

Only snapshots that verify count. Before deciding, prune knows each snapshot
taking part as verified or broken: from the verification ledger when every
file passed a hash check within --verify-max-age (default 31d), otherwise by
checking it now (hashes; seed-made snapshots by their files' presence and
footer row counts). A broken snapshot never uses up a rule's count and is
never removed by the policy: it is reported with its problems, and goes only
with --remove-broken. The newest snapshot that verifies is never removed.
When none verifies, prune removes nothing and exits 3.` + exitStatus(
			"0 the policy was applied (or, with --dry-run, shown)",
			"1 a folder is locked or cannot be read or written",
			exitLineUsage+" (no policy at all is one)",
			"3 no snapshot of a player verifies; nothing of it was removed",
			exitLineInterrupted),
		Example: `  statsnap prune --gamertag Chocoboflor --keep-last 5 --dry-run
  statsnap prune --all --keep-weekly 8 --keep-monthly 12
  statsnap prune --all --keep-within 30d --keep-monthly 12 --json
  statsnap prune --gamertag Chocoboflor --keep-last 3 --remove-broken`,
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
	f.BoolVar(&o.RemoveBroken, "remove-broken", false, "also remove the snapshots that fail verification (never when none verifies)")
	f.StringVar(&o.VerifyMaxAge, "verify-max-age", fmt.Sprintf("%dd", int(prune.DefaultVerifyMaxAge/(24*time.Hour))), "a passing ledger check younger than this `AGE` stands for reading a file again (0: read every file)")
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
	maxAge, err := parseAge(o.VerifyMaxAge)
	if err != nil {
		return usageErr("--verify-max-age: %v", err)
	}
	key, err := g.key()
	if err != nil {
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

	doc := pruneJSON{DryRun: o.DryRun, Policy: prune.Describe(o.Policy), VerifyMaxAge: o.VerifyMaxAge, Groups: []pruneGroupJSON{}, Failed: []failedJSON{}}
	w := g.out()
	if !g.JSON {
		fmt.Fprintf(w, "applying policy: %s\n", doc.Policy)
	}
	var failed []string
	var none []string
	for _, name := range names {
		group, err := pruneOne(cmd.Context(), g, o, name, key, maxAge)
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
			if errors.Is(err, prune.ErrNoneVerifies) {
				none = append(none, name)
				continue
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
	if len(none) > 0 {
		return withReport(doc, integrityErr("no snapshot of %s verifies, so prune removed nothing there; run 'statsnap verify --backup %s --all' to see the problems, and back up again",
			strings.Join(none, ", "), g.playerFolder(none[0])), false)
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
		fmt.Fprintf(w, "total: %s %s in %s, %s %s\n", verb, plural(int64(removed), "snapshot", "snapshots"), plural(int64(len(doc.Groups)), "player folder", "player folders"), freed, humanBytes(doc.FreedBytes))
	}
	return nil
}

// pruneOne prunes one player's folder. It returns the group to report
// even when some removals failed, with an error that says what went wrong.
func pruneOne(ctx context.Context, g *globals, o pruneOptions, name string, key []byte, maxAge time.Duration) (*pruneGroupJSON, error) {
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
	res, err := prune.Run(ctx, faultFolder(local), prune.Options{Policy: o.Policy, DryRun: o.DryRun,
		Key: key, VerifyMaxAge: maxAge, RemoveBroken: o.RemoveBroken})
	if res == nil {
		if err == nil || errors.Is(err, context.Canceled) {
			return nil, err
		}
		op.err = err
		return nil, op
	}
	group := groupJSON(name, dir, res)
	group.removeBroken = o.RemoveBroken
	if res.LedgerIgnored != nil {
		fmt.Fprintln(g.stderr, ledgerWarning(dir, res.LedgerIgnored))
	}
	if res.LedgerErr != nil {
		fmt.Fprintf(g.stderr, "warning: could not update the verification ledger of %s: %v; the next prune only reads more\n", dir, res.LedgerErr)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, prune.ErrNoneVerifies) {
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
		Broken: []pruneBrokenJSON{}, Unchecked: []pruneBrokenJSON{}, NoneVerifies: res.NoneVerifies,
		Cleaned: append([]string{}, res.Cleanup.Removed...), CleanupSkipped: res.Cleanup.Skipped,
		FreedBytes: res.Freed,
	}
	for _, k := range res.Keep {
		gr.Keep = append(gr.Keep, pruneKeepJSON{Snapshot: k.Snapshot.ID, Time: snapTime(k.Snapshot),
			Status: string(k.Snapshot.Status), Reasons: k.Reasons, SizeBytes: k.Size, Verified: verifiedJSON(k.Verified)})
	}
	for _, r := range res.Remove {
		j := pruneRemoveJSON{Snapshot: r.Snapshot.ID, Time: snapTime(r.Snapshot),
			Status: string(r.Snapshot.Status), SizeBytes: r.Size, Removed: r.Removed, Verified: verifiedJSON(r.Verified),
			Deletes: append([]string{}, r.Delete...), Shared: append([]string{}, r.Shared...)}
		switch {
		case r.Refused != nil:
			j.Error = "refused: " + r.Refused.Error()
		case r.Err != nil:
			j.Error = r.Err.Error()
		}
		gr.Remove = append(gr.Remove, j)
	}
	if res.LedgerIgnored != nil {
		gr.LedgerIgnored = res.LedgerIgnored.Error()
	}
	for _, b := range res.Broken {
		gr.Broken = append(gr.Broken, brokenJSON(b))
	}
	for _, b := range res.Unchecked {
		gr.Unchecked = append(gr.Unchecked, brokenJSON(b))
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
	if len(gr.Keep)+len(gr.Remove)+len(gr.Skipped)+len(gr.Broken)+len(gr.Unchecked) == 0 {
		fmt.Fprintln(w, "no snapshots")
		return
	}
	if len(gr.Keep) > 0 {
		fmt.Fprintf(w, "keep %s:\n", plural(int64(len(gr.Keep)), "snapshot", "snapshots"))
		fmt.Fprintf(w, "  %-15s  %-25s  %10s  %-24s  %s\n", "SNAPSHOT", "TIME", "SIZE", "VERIFIED", "REASONS")
		for _, k := range gr.Keep {
			fmt.Fprintf(w, "  %-15s  %-25s  %10s  %-24s  %s\n", k.Snapshot, k.Time, humanBytes(k.SizeBytes), k.Verified.How, strings.Join(k.Reasons, ", "))
		}
	}
	if len(gr.Remove) > 0 {
		fmt.Fprintf(w, "remove %s:\n", plural(int64(len(gr.Remove)), "snapshot", "snapshots"))
		fmt.Fprintf(w, "  %-15s  %-25s  %10s  %-24s  %s\n", "SNAPSHOT", "TIME", "FREES", "VERIFIED", "STATE")
		for _, r := range gr.Remove {
			state := "removed"
			switch {
			case r.Error != "":
				state = "NOT REMOVED: " + r.Error
			case dryRun:
				state = "would be removed"
			}
			fmt.Fprintf(w, "  %-15s  %-25s  %10s  %-24s  %s\n", r.Snapshot, r.Time, humanBytes(r.SizeBytes), r.Verified.How, state)
			if len(r.Shared) > 0 && r.Error == "" {
				fmt.Fprintf(w, "      keeps %s that other snapshots still name: %s\n", plural(int64(len(r.Shared)), "file", "files"), strings.Join(r.Shared, ", "))
			}
		}
	}
	if len(gr.Broken) > 0 {
		fmt.Fprintf(w, "broken: %s (fail verification: neither counted nor removed by the policy):\n", plural(int64(len(gr.Broken)), "snapshot", "snapshots"))
		for _, b := range gr.Broken {
			state := "kept for you to inspect (--remove-broken removes it)"
			switch {
			case b.Error != "":
				state = "NOT REMOVED: " + b.Error
			case b.Removed:
				state = "removed (--remove-broken)"
			case removeBrokenPlanned(gr, b) && dryRun:
				state = "would be removed (--remove-broken)"
			}
			fmt.Fprintf(w, "  %-15s  %-25s  %10s  %s\n", b.Snapshot, b.Time, humanBytes(b.SizeBytes), state)
			for _, p := range b.Problems {
				fmt.Fprintf(w, "      %s\n", problemSentence(p))
			}
		}
	}
	for _, b := range gr.Unchecked {
		fmt.Fprintf(w, "  ! %s could not be checked (%s): neither counted nor removed\n", b.Snapshot, b.Error)
	}
	if gr.NoneVerifies {
		fmt.Fprintln(w, "no snapshot verifies: nothing was removed")
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
	for _, b := range gr.Broken {
		if b.Removed {
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
		for _, b := range gr.Broken {
			if removeBrokenPlanned(gr, b) && b.Error == "" {
				n++
			}
		}
		fmt.Fprintf(w, "dry run: would remove %s, freeing %s; nothing was changed\n", plural(int64(n), "snapshot", "snapshots"), humanBytes(gr.FreedBytes))
		return
	}
	fmt.Fprintf(w, "removed %s, freed %s\n", plural(int64(removed), "snapshot", "snapshots"), humanBytes(gr.FreedBytes))
}

func verifiedJSON(v prune.Verification) pruneVerifiedJSON {
	return pruneVerifiedJSON{State: v.State.String(), How: v.How(), LedgerFiles: v.Ledger, ReadFiles: v.Read}
}

func brokenJSON(b prune.Broken) pruneBrokenJSON {
	j := pruneBrokenJSON{Snapshot: b.Snapshot.ID, Time: snapTime(b.Snapshot), Status: string(b.Snapshot.Status),
		Problems: b.Verified.Problems, SizeBytes: claimed(b)}
	if j.Problems == nil {
		j.Problems = []verify.Problem{}
	}
	if b.Verified.Err != nil {
		j.Error = b.Verified.Err.Error()
	}
	if r := b.Removal; r != nil {
		j.Removed = r.Removed
		switch {
		case r.Refused != nil:
			j.Error = "refused: " + r.Refused.Error()
		case r.Err != nil:
			j.Error = r.Err.Error()
		}
	}
	return j
}

func claimed(b prune.Broken) int64 {
	if b.Removal != nil {
		return b.Removal.Size
	}
	return b.Snapshot.Size()
}

// removeBrokenPlanned reports whether a dry run would remove b: the group
// was planned with --remove-broken and some snapshot verifies.
func removeBrokenPlanned(gr pruneGroupJSON, b pruneBrokenJSON) bool {
	return gr.removeBroken && !gr.NoneVerifies
}
