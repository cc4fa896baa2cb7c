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
)

// ErrNoPolicy is returned for an empty policy. retention.Apply would keep
// everything under it, but a caller that passes one has a bug (or a user
// forgot the flags), and saying so beats a prune that silently does nothing.
var ErrNoPolicy = errors.New("no retention policy: set at least one keep rule")

// Options describes one prune of one folder.
type Options struct {
	Policy retention.Policy
	// DryRun plans without changing anything: no recovery of crashed
	// runs and no removal, so the caller's shared lock is enough.
	DryRun bool
	// Now decides which snapshots are "in the future" for --keep-within;
	// the zero value means time.Now().
	Now time.Time
}

// Keep is a snapshot the policy keeps, with every rule that kept it.
type Keep struct {
	Snapshot snapshot.Info
	Reasons  []string
	Size     int64 // bytes of its manifest and the files the manifest lists
}

// Removal is a snapshot the policy removes.
type Removal struct {
	Snapshot snapshot.Info
	// Size is the space the removal frees: the manifest and the files it
	// lists that are present. Files carrying the id that the manifest
	// does not list are not counted, because they are not removed.
	Size int64
	// Refused is set when the manifest lists a name that is not a plain
	// file of this snapshot: prune will not remove such a snapshot.
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

// Plan is the decision for one folder. Keep and Remove are newest first,
// as retention orders them; Skip is newest first by id.
type Plan struct {
	Keep   []Keep
	Remove []Removal
	Skip   []Skip
}

// Result is a plan and what Run did with it.
type Result struct {
	Plan
	DryRun  bool
	Cleanup snapshot.Cleanup // what recovery of crashed runs removed first
	Freed   int64            // bytes freed (what would be freed, on a dry run)
}

// Removed counts the snapshots actually removed.
func (r *Result) Removed() int {
	n := 0
	for _, rm := range r.Remove {
		if rm.Removed {
			n++
		}
	}
	return n
}

// MakePlan applies p to the snapshots of one folder. Only complete and
// legacy snapshots take part; bare, incomplete and corrupt ones neither
// count nor get removed, so that a crashed backup or a seed export can
// never push a real snapshot out, nor be deleted by a rule.
func MakePlan(snaps []snapshot.Info, p retention.Policy, now time.Time, dryRun bool) Plan {
	plan := Plan{Keep: []Keep{}, Remove: []Removal{}, Skip: []Skip{}}
	byID := map[string]snapshot.Info{}
	var candidates []retention.Snapshot
	for _, s := range snaps {
		switch s.Status {
		case snapshot.StatusComplete, snapshot.StatusLegacy:
			byID[s.ID] = s
			candidates = append(candidates, retention.Snapshot{ID: s.ID, Time: s.Time})
		default:
			plan.Skip = append(plan.Skip, Skip{Snapshot: s, Reason: skipReason(s, dryRun)})
		}
	}
	slices.SortFunc(plan.Skip, func(a, b Skip) int { return strings.Compare(b.Snapshot.ID, a.Snapshot.ID) })

	res := retention.Apply(candidates, p, now)
	for _, k := range res.Keep {
		s := byID[k.Snapshot.ID]
		plan.Keep = append(plan.Keep, Keep{Snapshot: s, Reasons: k.Reasons, Size: claimedSize(s)})
	}
	for _, r := range res.Remove {
		s := byID[r.ID]
		plan.Remove = append(plan.Remove, Removal{Snapshot: s, Size: claimedSize(s), Refused: checkRemovable(s)})
	}
	return plan
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

// checkRemovable repeats the name checks snapshot.Remove makes before it
// touches anything. Remove stays the enforcement point; this copy exists so
// that the plan, and --dry-run, show a refusal instead of a removal that
// would fail.
func checkRemovable(s snapshot.Info) error {
	if s.Manifest == nil {
		return fmt.Errorf("snapshot %s has no readable manifest", s.ID)
	}
	for key, t := range s.Manifest.Tables {
		if err := storage.CheckName(t.File); err != nil {
			return fmt.Errorf("table %q: %w", key, err)
		}
		if k, id := snapshot.Classify(t.File); k != snapshot.KindParquet || id != s.ID {
			return fmt.Errorf("table %q names %q, which is not a file of snapshot %s", key, t.File, s.ID)
		}
	}
	return nil
}

// claimedSize is the bytes of s that a removal deletes: the manifest and
// the present files its manifest lists.
func claimedSize(s snapshot.Info) int64 {
	n := s.ManifestRaw
	if s.Manifest == nil {
		return n
	}
	claimed := map[string]bool{}
	for _, t := range s.Manifest.Tables {
		claimed[t.File] = true
	}
	for _, f := range s.Files {
		if claimed[f.Name] {
			n += f.Size
		}
	}
	return n
}

// Run prunes one folder: it finishes or rolls back what crashed runs left
// (not on a dry run), scans, plans and removes the snapshots the policy
// drops, oldest first. A snapshot that cannot be removed does not stop the
// others; Run then returns the partial Result and an error naming them.
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
	snaps, err := snapshot.Scan(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", f.Location(), err)
	}
	res.Plan = MakePlan(snaps, opt.Policy, now, opt.DryRun)

	if opt.DryRun {
		for _, rm := range res.Remove {
			if rm.Refused == nil {
				res.Freed += rm.Size
			}
		}
		return res, nil
	}

	var errs []error
	for i := len(res.Remove) - 1; i >= 0; i-- { // oldest first
		rm := &res.Remove[i]
		if rm.Refused != nil {
			errs = append(errs, fmt.Errorf("refused to remove snapshot %s: %w", rm.Snapshot.ID, rm.Refused))
			continue
		}
		// Stop between removals, never inside one: each is complete or
		// left to its journal.
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if _, err := snapshot.Remove(ctx, f, rm.Snapshot); err != nil {
			rm.Err = err
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", rm.Snapshot.ID, err))
			continue
		}
		rm.Removed = true
		res.Freed += rm.Size
	}
	return res, errors.Join(errs...)
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
