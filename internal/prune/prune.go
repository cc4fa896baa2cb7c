// Package prune applies a retention policy to one player's backup folder.
// It decides which snapshots to keep with package retention (restic 0.14's
// forget rules) and removes the others with snapshot.Remove, in SPEC's
// crash-safe order. It never prints: the CLI renders what Run returns.
package prune

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/retention"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// ErrNoPolicy is returned for an empty policy. retention.Apply would keep
// everything under it, but a caller that passes one has a bug (or a user
// forgot the flags), and saying so beats a prune that silently does nothing.
var ErrNoPolicy = errors.New("no retention policy: set at least one keep rule")

// ErrNoneVerifies is returned (with the Result) when snapshots take part
// but none is known to verify: prune then removes nothing.
var ErrNoneVerifies = errors.New("no snapshot verifies")

// DefaultVerifyMaxAge is how recent a ledger check must be for prune to
// take a snapshot as verified without reading it again. The README's
// weekly job verifies a quarter of the data each week, so every file has
// a check younger than four weeks; 31 days lets prune rely on those and
// read only what they do not cover. A file changed since its check (size
// or modification time) is read regardless; bit rot that keeps both is
// found by the next verify that reads the file, which is the bound the
// README states.
const DefaultVerifyMaxAge = 31 * 24 * time.Hour

// Options describes one prune of one folder.
type Options struct {
	Policy retention.Policy
	// DryRun plans without changing anything: no recovery of crashed
	// runs, no removal and no ledger update, so the caller's shared lock
	// is enough.
	DryRun bool
	// Now decides which snapshots are "in the future" for --keep-within;
	// the zero value means time.Now().
	Now time.Time
	// Key, when set, is required to authenticate manifests (a snapshot
	// whose MAC is wrong is broken) and the ledger.
	Key []byte
	// VerifyMaxAge is how recent a passing ledger check of a file must be
	// to stand for reading it (0: every file is read, hash depth).
	VerifyMaxAge time.Duration
	// RemoveBroken also removes the snapshots that fail verification
	// (journaled like any removal), as long as one snapshot verifies.
	RemoveBroken bool
}

// Verification is what prune knows of a snapshot's integrity, and how.
type Verification struct {
	State    retention.State
	Problems []verify.Problem
	// Ledger counts the files a recent ledger check stood for, Read the
	// files read now.
	Ledger, Read int
	Err          error // the check could not run (State Unknown)
}

// How says in a few words how the state was reached.
func (v Verification) How() string {
	switch {
	case v.Err != nil:
		return "could not be checked: " + v.Err.Error()
	case v.Read == 0 && v.Ledger > 0:
		return "ledger"
	case v.Ledger == 0:
		return "checked now"
	}
	return "ledger and checked now"
}

// Keep is a snapshot the policy keeps, with every rule that kept it.
type Keep struct {
	Snapshot snapshot.Info
	Reasons  []string
	Size     int64 // bytes of its manifest and the files the manifest lists
	Verified Verification
}

// Broken is a snapshot that fails verification: it is never counted nor
// removed by the policy; with RemoveBroken it is removed (Removal).
type Broken struct {
	Snapshot snapshot.Info
	Verified Verification
	Removal  *Removal // set with RemoveBroken
}

// Removal is a snapshot the policy removes.
type Removal struct {
	Snapshot snapshot.Info
	Verified Verification
	// Size is the space the removal frees: the manifest and the files of
	// Delete that are present. Files carrying the id that the manifest
	// does not list are not counted, because they are not removed.
	Size int64
	// Delete lists the files the removal deletes (besides the manifest):
	// those of its manifest that no remaining manifest and no journal
	// names. Shared lists the files it names that another snapshot still
	// names: they stay. Both assume the removals before it (oldest
	// first) were made.
	Delete []string
	Shared []string
	// Refused is set when the manifest lists a name that is not a plain
	// file of this snapshot or an earlier one, or when a file the removal
	// would delete may be named by a manifest or journal that cannot be
	// read: prune will not remove such a snapshot.
	Refused error
	// Removed and Err report what Run did (both zero on a dry run).
	Removed bool
	Err     error
}

// Skip is a snapshot that takes no part in retention.
type Skip struct {
	Snapshot snapshot.Info
	Reason   string
}

// Plan is the decision for one folder. Keep, Remove, Broken and Unchecked
// are newest first, as retention orders them; Skip is newest first by id.
type Plan struct {
	Keep   []Keep
	Remove []Removal
	Broken []Broken
	// Unchecked are snapshots whose check could not run: like broken ones
	// they neither count nor go.
	Unchecked []Broken
	Skip      []Skip
	// NoneVerifies: snapshots take part but none verifies; nothing goes.
	NoneVerifies bool
}

// Result is a plan and what Run did with it.
type Result struct {
	Plan
	DryRun  bool
	Cleanup snapshot.Cleanup // what recovery of crashed runs removed first
	Freed   int64            // bytes freed (what would be freed, on a dry run)
	// LedgerIgnored says why the stored ledger was not trusted (nil when
	// it was, or there was none): every file was then read.
	LedgerIgnored error
	// LedgerErr is a failure to save the updated ledger; it costs only
	// re-verification next time, so it does not fail the prune.
	LedgerErr error
}

// Removed counts the snapshots actually removed.
func (r *Result) Removed() int {
	n := 0
	for _, rm := range r.removals() {
		if rm.Removed {
			n++
		}
	}
	return n
}

// removals lists the policy's removals, then the broken snapshots removed
// with RemoveBroken.
func (p *Plan) removals() []*Removal {
	var out []*Removal
	for i := range p.Remove {
		out = append(out, &p.Remove[i])
	}
	for i := range p.Broken {
		if p.Broken[i].Removal != nil {
			out = append(out, p.Broken[i].Removal)
		}
	}
	return out
}

// MakePlan applies p to the snapshots of one folder. Only complete and
// legacy snapshots take part; bare, incomplete and corrupt ones neither
// count nor get removed, so that a crashed backup or a seed export can
// never push a real snapshot out, nor be deleted by a rule. Of those
// taking part only the ones states says verify count (retention.Apply);
// one without a state is Unknown. With removeBroken the broken ones are
// planned for removal too, unless none verifies: then nothing goes. refs
// is what the folder's manifests and journals name (nil: what snaps'
// manifests name): each removal deletes only the files nothing left
// names once the removals before it, oldest first, are made.
func MakePlan(snaps []snapshot.Info, p retention.Policy, now time.Time, dryRun bool, states map[string]Verification, removeBroken bool, refs *snapshot.Refs) Plan {
	plan := Plan{Keep: []Keep{}, Remove: []Removal{}, Broken: []Broken{}, Unchecked: []Broken{}, Skip: []Skip{}}
	byID := map[string]snapshot.Info{}
	var candidates []retention.Snapshot
	for _, s := range snaps {
		switch s.Status {
		case snapshot.StatusComplete, snapshot.StatusLegacy:
			byID[s.ID] = s
			candidates = append(candidates, retention.Snapshot{ID: s.ID, Time: s.Time, State: states[s.ID].State})
		default:
			plan.Skip = append(plan.Skip, Skip{Snapshot: s, Reason: skipReason(s, dryRun)})
		}
	}
	slices.SortFunc(plan.Skip, func(a, b Skip) int { return strings.Compare(b.Snapshot.ID, a.Snapshot.ID) })

	res := retention.Apply(candidates, p, now)
	plan.NoneVerifies = res.NoneVerifies()
	for _, k := range res.Keep {
		s := byID[k.Snapshot.ID]
		plan.Keep = append(plan.Keep, Keep{Snapshot: s, Reasons: k.Reasons, Size: claimedSize(s), Verified: states[s.ID]})
	}
	for _, r := range res.Remove {
		s := byID[r.ID]
		plan.Remove = append(plan.Remove, Removal{Snapshot: s, Verified: states[s.ID]})
	}
	for _, r := range res.Broken {
		s := byID[r.ID]
		b := Broken{Snapshot: s, Verified: states[s.ID]}
		if removeBroken && !plan.NoneVerifies {
			b.Removal = &Removal{Snapshot: s, Verified: states[s.ID]}
		}
		plan.Broken = append(plan.Broken, b)
	}
	// What each removal frees depends on the removals made before it: a
	// file two removed snapshots share goes with the later one.
	if refs == nil {
		refs = snapshot.NewRefs(snaps)
	}
	sim := refs.Clone()
	removals := plan.removals()
	slices.SortStableFunc(removals, func(a, b *Removal) int { return strings.Compare(a.Snapshot.ID, b.Snapshot.ID) })
	for _, rm := range removals {
		if rm.plan(sim) {
			sim.DropManifest(rm.Snapshot.ID)
		}
	}
	for _, r := range res.Unchecked {
		s := byID[r.ID]
		plan.Unchecked = append(plan.Unchecked, Broken{Snapshot: s, Verified: states[s.ID]})
	}
	return plan
}

// Check verifies the snapshots of a folder that take part in retention:
// statsnap snapshots by hash (a passing ledger check within maxAge stands
// for reading a file), seed-made ones by their files' presence, sizes and
// footer row counts, as SPEC says. It returns each one's state and this
// run's checks for the ledger.
func Check(ctx context.Context, f storage.Folder, snaps []snapshot.Info, entries []storage.Entry, ledger *snapshot.Ledger, key []byte, maxAge time.Duration, now time.Time) (map[string]Verification, *snapshot.Ledger) {
	var complete, legacy []snapshot.Info
	for _, s := range snaps {
		switch s.Status {
		case snapshot.StatusComplete:
			complete = append(complete, s)
		case snapshot.StatusLegacy:
			legacy = append(legacy, s)
		}
	}
	states := map[string]Verification{}
	collect := func(fr verify.FolderResult) {
		for _, r := range fr.Results {
			v := Verification{State: retention.Good, Problems: r.Problems, Err: r.Err}
			for _, file := range r.Files {
				if file.Source == "ledger" {
					v.Ledger++
				} else {
					v.Read++
				}
			}
			switch {
			case r.Err != nil:
				v.State = retention.Unknown
			case !r.OK:
				v.State = retention.Bad
			}
			states[r.Snapshot] = v
		}
	}
	named := snapshot.NamedFiles(snaps)
	full := verify.Folder(ctx, f, complete, entries, verify.FolderOptions{
		Options: verify.Options{Key: key, Named: named}, Ledger: ledger, MaxAge: maxAge, Now: now})
	collect(full)
	// Seed-made snapshots record no hashes: "unverifiable" (and, given a
	// key, "unauthenticated") is all they can be, so it does not make them
	// broken; a missing file or a wrong row count does.
	quick := verify.Folder(ctx, f, legacy, entries, verify.FolderOptions{
		Options: verify.Options{Key: key, Quick: true, AllowUnverified: true, Named: named}, Now: now})
	collect(quick)
	full.Delta.Merge(quick.Delta)
	return states, full.Delta
}

func skipReason(s snapshot.Info, dryRun bool) string {
	switch s.Status {
	case snapshot.StatusBare:
		return "Parquet files without a manifest (a --no-metadata export, or files statsnap did not write); prune never deletes them"
	case snapshot.StatusIncomplete:
		if dryRun {
			return "an interrupted backup or removal; a real prune (or the next backup) finishes or rolls it back from its journal first"
		}
		return "an interrupted backup or removal whose journal could not be used; left untouched for you to inspect"
	case snapshot.StatusCorrupt:
		msg := "manifest unreadable"
		if s.ManifestErr != nil {
			msg = "manifest unreadable: " + s.ManifestErr.Error()
		}
		return msg + "; prune does not remove what it cannot account for"
	}
	return "status " + string(s.Status) + " does not take part in retention"
}

// plan fills in what removing the snapshot deletes and keeps, against
// refs, and reports whether it may go. snapshot.Remove makes the same
// checks again and stays the enforcement point; making them here lets
// the plan, and --dry-run, show a refusal instead of a removal that would
// fail.
func (rm *Removal) plan(refs *snapshot.Refs) bool {
	s := rm.Snapshot
	rm.Delete, rm.Shared, rm.Size = nil, nil, s.ManifestRaw
	if err := snapshot.CheckRemovable(s); err != nil {
		rm.Refused = err
		return false
	}
	rel := refs.Release(s)
	rm.Delete, rm.Shared, rm.Refused = rel.Delete, rel.Shared, rel.Blocked
	if rm.Refused != nil {
		return false
	}
	present := map[string]int64{}
	for _, e := range s.Files {
		present[e.Name] = e.Size
	}
	for _, name := range rm.Delete {
		rm.Size += present[name]
	}
	return true
}

// claimedSize is the bytes of s: its manifest and the present files its
// manifest names, shared ones included.
func claimedSize(s snapshot.Info) int64 {
	n := s.ManifestRaw
	if s.Manifest == nil {
		return n
	}
	claimed := map[string]bool{}
	for _, name := range s.Manifest.FileNames() {
		claimed[name] = true
	}
	for _, f := range s.Files {
		if claimed[f.Name] {
			n += f.Size
		}
	}
	return n
}

// Run prunes one folder: it finishes or rolls back what crashed runs left
// (not on a dry run), scans, knows each snapshot taking part as verified
// or broken (Check, with the ledger), plans and removes the snapshots the
// policy drops (and with RemoveBroken the broken ones), oldest first, then
// records its checks in the ledger (not on a dry run). A snapshot that
// cannot be removed does not stop the others; Run then returns the partial
// Result and an error naming them. When snapshots take part but none
// verifies, nothing is removed and the error wraps ErrNoneVerifies.
// The caller holds the folder's lock: exclusive, or shared on a dry run
// (which still waits for a backup in progress, so that the plan does not
// see half a snapshot).
func Run(ctx context.Context, f storage.Folder, opt Options) (*Result, error) {
	if opt.Policy.Empty() {
		return nil, ErrNoPolicy
	}
	if err := opt.Policy.Validate(); err != nil {
		return nil, err
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}

	res := &Result{DryRun: opt.DryRun}
	var err error
	if !opt.DryRun {
		// Before planning: a removal cut short must be finished (its
		// manifest is gone already) and a crashed backup's files must not
		// be mistaken for a bare export.
		if res.Cleanup, err = snapshot.Recover(ctx, f, now); err != nil {
			return nil, fmt.Errorf("finish interrupted runs in %s: %w", f.Location(), err)
		}
	}
	entries, err := f.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", f.Location(), err)
	}
	snaps, err := snapshot.ScanListed(ctx, f, entries)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", f.Location(), err)
	}
	ledger, ignored := snapshot.TrustedLedger(ctx, f, opt.Key, snaps)
	res.LedgerIgnored = ignored
	states, delta := Check(ctx, f, snaps, entries, ledger, opt.Key, opt.VerifyMaxAge, now)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	refs := snapshot.LoadRefs(ctx, f, snaps, entries)
	res.Plan = MakePlan(snaps, opt.Policy, now, opt.DryRun, states, opt.RemoveBroken, refs)
	var none error
	if res.NoneVerifies {
		none = fmt.Errorf("%w: none of the %d snapshot(s) of %s verifies", ErrNoneVerifies, len(res.Broken)+len(res.Unchecked), f.Location())
	}

	removals := res.removals()
	if opt.DryRun {
		for _, rm := range removals {
			if rm.Refused == nil {
				res.Freed += rm.Size
			}
		}
		return res, none
	}

	// Oldest first: a prune cut short leaves the newest snapshots.
	slices.SortStableFunc(removals, func(a, b *Removal) int { return strings.Compare(a.Snapshot.ID, b.Snapshot.ID) })
	var errs []error
	removed := map[string]bool{}
	defer func() {
		// The ledger: this run's checks, minus what was removed. Saving
		// it is best effort: without it the next run only reads more.
		var left []snapshot.Info
		for _, s := range snaps {
			if !removed[s.ID] {
				left = append(left, s)
			}
		}
		res.LedgerErr = snapshot.UpdateLedger(context.WithoutCancel(ctx), f, opt.Key, left, delta, now)
	}()
	for _, rm := range removals {
		if rm.Refused != nil {
			errs = append(errs, fmt.Errorf("refused to remove snapshot %s: %w", rm.Snapshot.ID, rm.Refused))
			continue
		}
		// Stop between removals, never inside one: each is complete or
		// left to its journal.
		if err := ctx.Err(); err != nil {
			return res, err
		}
		// Against what the folder names now, after the removals made so
		// far (the plan assumed every one before it succeeded).
		if !rm.plan(refs) {
			errs = append(errs, fmt.Errorf("refused to remove snapshot %s: %w", rm.Snapshot.ID, rm.Refused))
			continue
		}
		if _, err := snapshot.Remove(ctx, f, rm.Snapshot, refs); err != nil {
			rm.Err = err
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", rm.Snapshot.ID, err))
			continue
		}
		rm.Removed = true
		removed[rm.Snapshot.ID] = true
		res.Freed += rm.Size
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	return res, none
}

// Describe renders a policy the way restic announces it, e.g. "keep 8
// weekly, 12 monthly snapshots" or "keep 3 latest snapshots and all
// snapshots within 30d of the newest".
func Describe(p retention.Policy) string {
	var parts []string
	for _, c := range []struct {
		n    int
		name string
	}{{p.Last, "latest"}, {p.Hourly, "hourly"}, {p.Daily, "daily"}, {p.Weekly, "weekly"}, {p.Monthly, "monthly"}, {p.Yearly, "yearly"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	var out string
	if len(parts) > 0 {
		out = "keep " + strings.Join(parts, ", ") + " snapshots"
	}
	if !p.Within.Zero() {
		w := "all snapshots within " + p.Within.String() + " of the newest"
		if out == "" {
			out = "keep " + w
		} else {
			out += " and " + w
		}
	}
	if out == "" {
		return "keep everything (no policy)"
	}
	return out
}
