package retention

import (
	"slices"
	"strings"
	"time"
)

// Snapshot is one snapshot taking part in retention. Time carries the UTC
// offset recorded in its own backup_datetime (its Location); periods are
// computed in that location. State says whether it is known to verify.
type Snapshot struct {
	ID    string
	Time  time.Time
	State State
}

// State is what is known of a snapshot's integrity when retention runs.
// The zero value is Unknown, so a caller that forgets to verify gets the
// safe answer: nothing counts and nothing is removed.
type State int

const (
	// Unknown is not checked (the check could not run). Like Bad it never
	// counts and is never removed, but it is not reported as broken.
	Unknown State = iota
	// Good is known to verify: a fresh check, or a recent enough ledger entry, says it verifies.
	Good
	// Bad fails verification.
	Bad
)

func (s State) String() string {
	switch s {
	case Good:
		return "verified"
	case Bad:
		return "broken"
	}
	return "unknown"
}

// ReasonNewestVerified keeps the newest snapshot that verifies when no
// rule did: prune never removes it, whatever the policy.
const ReasonNewestVerified = "newest verified snapshot"

// Kept is a snapshot that survives, with every rule that kept it.
type Kept struct {
	Snapshot Snapshot
	Reasons  []string
}

// Result splits the snapshots into those kept and those to remove, and
// sets apart those that fail verification (Broken) or could not be
// checked (Unchecked): the rules never see them, so they use up no count
// and are never removed by the policy. Every list is newest first and
// non-nil so that it encodes as a JSON array.
type Result struct {
	Keep      []Kept
	Remove    []Snapshot
	Broken    []Snapshot
	Unchecked []Snapshot
}

// NoneVerifies reports whether snapshots took part but none is known to
// verify: then nothing is removed, and prune says so.
func (r Result) NoneVerifies() bool {
	return len(r.Keep) == 0 && len(r.Remove) == 0 && len(r.Broken)+len(r.Unchecked) > 0
}

// period identifies the hour, day, ISO week, month or year a snapshot falls
// in. Restic packs the same fields into an int (YYYYMMDDHH and so on); a
// struct is the same comparison without the arithmetic.
type period struct{ year, month, day, hour int }

// bucketRule is one count rule. The period function is evaluated in the
// snapshot's own Location (time.Time methods use it), which is how each
// snapshot's recorded offset decides its day.
type bucketRule struct {
	count  int
	period func(t time.Time, nr int) period
	reason string
}

// Apply decides, like restic 0.14's ApplyPolicy, which snapshots p keeps.
// It does not modify snaps. now is only used to ignore future-dated snapshots
// when finding the reference point of --keep-within.
//
// Snapshots are ordered newest first by instant, ties broken by ID descending
// (restic's sort is unstable on ties; we want the same answer on every run).
// Each rule then walks that list on its own, and a snapshot is kept if any
// rule keeps it; being kept by one rule does not stop it from using up a count
// of another.
//
// Counts below 1 are treated as unset, as restic 0.14 does; call Validate
// first to turn them into errors. An empty policy keeps everything with the
// reason "policy is empty", as restic does; the CLI refuses it before that.
//
// Only Good snapshots take part: restic's rules run on them alone, as if
// the others did not exist, and --keep-within's reference point is the
// newest Good one. Bad and Unknown snapshots go to Broken and Unchecked.
// The newest Good snapshot is always kept: every rule keeps it anyway
// (it opens every period, and --keep-within's window ends at it or after
// it), and ReasonNewestVerified makes that a guarantee rather than a
// consequence.
func Apply(snaps []Snapshot, p Policy, now time.Time) Result {
	all := slices.Clone(snaps)
	slices.SortStableFunc(all, func(a, b Snapshot) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})

	res := Result{Keep: []Kept{}, Remove: []Snapshot{}, Broken: []Snapshot{}, Unchecked: []Snapshot{}}
	var list []Snapshot
	for _, sn := range all {
		switch sn.State {
		case Good:
			list = append(list, sn)
		case Bad:
			res.Broken = append(res.Broken, sn)
		default:
			res.Unchecked = append(res.Unchecked, sn)
		}
	}
	if p.Empty() {
		for _, sn := range list {
			res.Keep = append(res.Keep, Kept{Snapshot: sn, Reasons: []string{"policy is empty"}})
		}
		return res
	}
	if len(list) == 0 {
		return res
	}

	rules := []bucketRule{
		// nr is unique per snapshot, so every snapshot is its own period.
		{p.Last, func(_ time.Time, nr int) period { return period{year: nr} }, "last snapshot"},
		{p.Hourly, func(t time.Time, _ int) period { return period{t.Year(), int(t.Month()), t.Day(), t.Hour()} }, "hourly snapshot"},
		{p.Daily, func(t time.Time, _ int) period { return period{t.Year(), int(t.Month()), t.Day(), 0} }, "daily snapshot"},
		// ISO 8601: weeks start on Monday and belong to the ISO week-year,
		// so 2021-01-03 is in 2020-W53.
		{p.Weekly, func(t time.Time, _ int) period { y, w := t.ISOWeek(); return period{year: y, month: w} }, "weekly snapshot"},
		{p.Monthly, func(t time.Time, _ int) period { return period{year: t.Year(), month: int(t.Month())} }, "monthly snapshot"},
		{p.Yearly, func(t time.Time, _ int) period { return period{year: t.Year()} }, "yearly snapshot"},
	}
	left := make([]int, len(rules))
	last := make([]period, len(rules))
	started := make([]bool, len(rules)) // restic starts "last" at -1, a value no period has
	for i, r := range rules {
		left[i] = r.count
	}

	var cutoff time.Time
	withinReason := ""
	if !p.Within.Zero() {
		// Computed in the Location of the newest snapshot, as restic does,
		// because AddDate works on that snapshot's calendar.
		cutoff = p.Within.Before(latestNotFuture(list, now))
		withinReason = "within " + p.Within.String()
	}

	for nr, sn := range list {
		var reasons []string
		// Strictly after: a snapshot exactly at R minus D is removed
		// (restic: cur.Time.After(t)).
		if withinReason != "" && sn.Time.After(cutoff) {
			reasons = append(reasons, withinReason)
		}
		for i, r := range rules {
			if left[i] <= 0 {
				continue
			}
			// Compared with the last snapshot this rule kept, not with the
			// previous one in the list. With mixed offsets the local periods
			// need not be monotonic, so a day can be kept twice; restic does
			// the same.
			if pd := r.period(sn.Time, nr); !started[i] || pd != last[i] {
				started[i] = true
				last[i] = pd
				left[i]--
				reasons = append(reasons, r.reason)
			}
		}
		if nr == 0 && len(reasons) == 0 {
			reasons = append(reasons, ReasonNewestVerified)
		}
		if len(reasons) > 0 {
			res.Keep = append(res.Keep, Kept{Snapshot: sn, Reasons: reasons})
		} else {
			res.Remove = append(res.Remove, sn)
		}
	}
	return res
}

// latestNotFuture returns R, the reference point of --keep-within: the newest
// snapshot time that is not after now. Without it one snapshot dated far in
// the future would push every real one out of the window.
//
// Restic 0.14 (findLatestTimestamp) starts from the zero time.Time and takes
// the newest snapshot that is strictly before time.Now(). We take "not after
// now" (a snapshot at exactly now counts) as SPEC says, which only differs
// from restic for a snapshot equal to now to the nanosecond. If every
// snapshot is in the future R stays the zero time (year 1, UTC), as in
// restic, so every snapshot is within the window and kept.
//
// Future snapshots are ignored only here: they still take part in every
// rule, so "keep-last 1" keeps a future-dated snapshot rather than the real
// newest, exactly as restic does.
func latestNotFuture(list []Snapshot, now time.Time) time.Time {
	var latest time.Time
	for _, sn := range list {
		if sn.Time.After(latest) && !sn.Time.After(now) {
			latest = sn.Time
		}
	}
	return latest
}
