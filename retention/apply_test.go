package retention

import (
	"slices"
	"testing"
	"time"
)

// farFuture is a "now" after every test snapshot, for tests that are not
// about future-dated snapshots.
var farFuture = at("2100-01-01T00:00:00Z")

func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		snaps      []Snapshot
		policy     Policy
		now        time.Time
		wantKeep   []string
		wantRemove []string
	}{
		{
			name:       "empty input",
			policy:     Policy{Last: 3, Daily: 7, Within: Duration{Days: 30}},
			wantKeep:   []string{},
			wantRemove: []string{},
		},
		{
			name: "empty policy keeps everything, as restic does",
			snaps: []Snapshot{
				snap("a", "2021-01-01T00:00:00Z"),
				snap("b", "2021-01-02T00:00:00Z"),
			},
			wantKeep:   []string{"b: policy is empty", "a: policy is empty"},
			wantRemove: []string{},
		},
		{
			name: "keep-last keeps the N newest whatever the input order",
			snaps: []Snapshot{
				snap("b", "2021-01-02T00:00:00Z"),
				snap("d", "2021-01-04T00:00:00Z"),
				snap("a", "2021-01-01T00:00:00Z"),
				snap("c", "2021-01-03T00:00:00Z"),
			},
			policy:     Policy{Last: 2},
			wantKeep:   []string{"d: last snapshot", "c: last snapshot"},
			wantRemove: []string{"b", "a"},
		},
		{
			name: "keep-last larger than the number of snapshots keeps all",
			snaps: []Snapshot{
				snap("a", "2021-01-01T00:00:00Z"),
				snap("b", "2021-01-02T00:00:00Z"),
			},
			policy:     Policy{Last: 5},
			wantKeep:   []string{"b: last snapshot", "a: last snapshot"},
			wantRemove: []string{},
		},
		{
			name: "same instant: tie broken by ID descending",
			snaps: []Snapshot{
				snap("a", "2021-01-01T00:00:00Z"),
				snap("c", "2021-01-01T00:00:00Z"),
				snap("b", "2021-01-01T00:00:00Z"),
			},
			policy:     Policy{Last: 1},
			wantKeep:   []string{"c: last snapshot"},
			wantRemove: []string{"b", "a"},
		},
		{
			name: "several snapshots on one day and at midnight",
			snaps: []Snapshot{
				snap("d1", "2021-05-03T23:59:59Z"),
				snap("d2", "2021-05-03T12:00:00Z"),
				snap("d3", "2021-05-03T00:00:00Z"), // midnight opens 05-03
				snap("d4", "2021-05-02T23:59:59.999Z"),
				snap("d5", "2021-05-02T00:00:00Z"),
				snap("d6", "2021-05-01T00:00:00Z"),
				snap("d7", "2021-04-30T23:00:00Z"),
			},
			policy:     Policy{Daily: 3},
			wantKeep:   []string{"d1: daily snapshot", "d4: daily snapshot", "d6: daily snapshot"},
			wantRemove: []string{"d2", "d3", "d5", "d7"},
		},
		{
			name: "midnight is the first instant of its day, not the last of the one before",
			snaps: []Snapshot{
				snap("mid", "2021-05-04T00:00:00Z"),
				snap("before", "2021-05-03T23:59:59Z"),
			},
			policy:     Policy{Daily: 2},
			wantKeep:   []string{"mid: daily snapshot", "before: daily snapshot"},
			wantRemove: []string{},
		},
		{
			name: "hourly buckets are clock hours",
			snaps: []Snapshot{
				snap("h11", "2021-05-03T11:00:00Z"),
				snap("h10b", "2021-05-03T10:59:59Z"),
				snap("h10a", "2021-05-03T10:00:00Z"),
				snap("h09", "2021-05-03T09:30:00Z"),
			},
			policy:     Policy{Hourly: 2},
			wantKeep:   []string{"h11: hourly snapshot", "h10b: hourly snapshot"},
			wantRemove: []string{"h10a", "h09"},
		},
		{
			name: "weekly across New Year uses ISO week-years",
			snaps: []Snapshot{
				snap("2021-01-04", "2021-01-04T10:00:00Z"), // Mon, 2021-W01
				snap("2021-01-03", "2021-01-03T10:00:00Z"), // Sun, 2020-W53
				snap("2020-12-31", "2020-12-31T10:00:00Z"), // Thu, 2020-W53
				snap("2020-12-28", "2020-12-28T10:00:00Z"), // Mon, 2020-W53
				snap("2020-01-05", "2020-01-05T10:00:00Z"), // Sun, 2020-W01
				snap("2019-12-30", "2019-12-30T10:00:00Z"), // Mon, 2020-W01
				snap("2019-12-29", "2019-12-29T10:00:00Z"), // Sun, 2019-W52
			},
			policy: Policy{Weekly: 10},
			wantKeep: []string{
				"2021-01-04: weekly snapshot",
				"2021-01-03: weekly snapshot",
				"2020-01-05: weekly snapshot",
				"2019-12-29: weekly snapshot",
			},
			wantRemove: []string{"2020-12-31", "2020-12-28", "2019-12-30"},
		},
		{
			name: "yearly uses the calendar year, not the ISO week-year",
			snaps: []Snapshot{
				snap("2021-01-04", "2021-01-04T10:00:00Z"),
				snap("2021-01-03", "2021-01-03T10:00:00Z"),
				snap("2020-01-05", "2020-01-05T10:00:00Z"),
				snap("2019-12-30", "2019-12-30T10:00:00Z"), // ISO 2020-W01, but year 2019
				snap("2019-12-29", "2019-12-29T10:00:00Z"),
			},
			policy: Policy{Yearly: 3},
			wantKeep: []string{
				"2021-01-04: yearly snapshot",
				"2020-01-05: yearly snapshot",
				"2019-12-30: yearly snapshot", // by ISO week-year it would share 2020
			},
			wantRemove: []string{"2021-01-03", "2019-12-29"},
		},
		{
			name: "gaps of months: only months that have snapshots count",
			snaps: []Snapshot{
				snap("2021-01-15", "2021-01-15T08:00:00Z"),
				snap("2020-10-15", "2020-10-15T08:00:00Z"),
				snap("2020-10-01", "2020-10-01T08:00:00Z"),
				snap("2020-03-31", "2020-03-31T08:00:00Z"),
				snap("2019-07-04", "2019-07-04T08:00:00Z"),
			},
			policy: Policy{Monthly: 3},
			wantKeep: []string{
				"2021-01-15: monthly snapshot",
				"2020-10-15: monthly snapshot",
				"2020-03-31: monthly snapshot",
			},
			wantRemove: []string{"2020-10-01", "2019-07-04"},
		},
		{
			// restic 0.17 would keep the oldest snapshot here because counts
			// are left over; restic 0.14 does not.
			name: "more periods asked for than exist: no keep-oldest rule",
			snaps: []Snapshot{
				snap("new", "2021-01-15T08:00:00Z"),
				snap("old", "2021-01-02T08:00:00Z"),
			},
			policy:     Policy{Monthly: 6, Yearly: 10},
			wantKeep:   []string{"new: monthly snapshot, yearly snapshot"},
			wantRemove: []string{"old"},
		},
		{
			name: "Feb 29 is a day of its own and belongs to February",
			snaps: []Snapshot{
				snap("0301", "2020-03-01T00:00:00Z"),
				snap("0229b", "2020-02-29T23:00:00Z"),
				snap("0229a", "2020-02-29T01:00:00Z"),
				snap("0228", "2020-02-28T12:00:00Z"),
				snap("0131", "2020-01-31T12:00:00Z"),
			},
			policy: Policy{Daily: 3, Monthly: 2},
			wantKeep: []string{
				"0301: daily snapshot, monthly snapshot",
				"0229b: daily snapshot, monthly snapshot",
				"0228: daily snapshot",
			},
			wantRemove: []string{"0229a", "0131"},
		},
		{
			name: "a snapshot kept by one rule still uses up a count of another",
			snaps: []Snapshot{
				snap("1050", "2021-05-03T10:50:00Z"),
				snap("1040", "2021-05-03T10:40:00Z"),
				snap("1030", "2021-05-03T10:30:00Z"),
				snap("0910", "2021-05-03T09:10:00Z"),
				snap("0810", "2021-05-03T08:10:00Z"),
			},
			policy: Policy{Last: 2, Hourly: 2},
			wantKeep: []string{
				"1050: last snapshot, hourly snapshot",
				"1040: last snapshot",
				"0910: hourly snapshot",
			},
			wantRemove: []string{"1030", "0810"},
		},
		{
			// 2021-03-31 minus 1m is 2021-02-31, which AddDate rolls forward
			// to 2021-03-03; clamping to 2021-02-28 would keep "0228".
			name: "keep-within: month overflow rolls forward, boundary is excluded",
			snaps: []Snapshot{
				snap("R", "2021-03-31T12:00:00Z"),
				snap("after", "2021-03-03T12:00:00.000000001Z"),
				snap("boundary", "2021-03-03T12:00:00Z"),
				snap("0302", "2021-03-02T12:00:00Z"),
				snap("0228", "2021-02-28T13:00:00Z"),
			},
			policy:     Policy{Within: Duration{Months: 1}},
			wantKeep:   []string{"R: within 1m", "after: within 1m"},
			wantRemove: []string{"boundary", "0302", "0228"},
		},
		{
			// 2024-02-29 minus 1y is 2023-02-29, rolled to 2023-03-01.
			name: "keep-within: a year back from Feb 29",
			snaps: []Snapshot{
				snap("R", "2024-02-29T12:00:00Z"),
				snap("after", "2023-03-01T12:00:01Z"),
				snap("boundary", "2023-03-01T12:00:00Z"),
				snap("0228", "2023-02-28T12:00:00Z"),
			},
			policy:     Policy{Within: Duration{Years: 1}},
			wantKeep:   []string{"R: within 1y", "after: within 1y"},
			wantRemove: []string{"boundary", "0228"},
		},
		{
			name: "keep-within: days and hours combined",
			snaps: []Snapshot{
				snap("R", "2021-06-10T12:00:00Z"),
				snap("after", "2021-06-08T00:00:01Z"),
				snap("boundary", "2021-06-08T00:00:00Z"),
			},
			policy:     Policy{Within: Duration{Days: 2, Hours: 12}},
			wantKeep:   []string{"R: within 2d12h", "after: within 2d12h"},
			wantRemove: []string{"boundary"},
		},
		{
			// R is 2021-03-01T01:00+02:00; a month back on that calendar is
			// 2021-02-01T01:00+02:00 = 2021-01-31T23:00Z. Done in UTC it
			// would be 2021-01-28T23:00Z and "0130" would be kept.
			name: "keep-within: calendar subtraction in the newest snapshot's offset",
			snaps: []Snapshot{
				snap("R", "2021-03-01T01:00:00+02:00"),
				snap("in", "2021-01-31T23:30:00Z"),
				snap("0130", "2021-01-30T00:00:00Z"),
			},
			policy:     Policy{Within: Duration{Months: 1}},
			wantKeep:   []string{"R: within 1m", "in: within 1m"},
			wantRemove: []string{"0130"},
		},
		{
			// The future snapshot does not move R (R is "a"), but it is
			// itself within the window and it is the newest for every rule,
			// so it takes keep-last's only count.
			name: "a snapshot dated in the future",
			now:  at("2021-06-10T12:00:00Z"),
			snaps: []Snapshot{
				snap("future", "2030-01-01T00:00:00Z"),
				snap("a", "2021-06-10T11:00:00Z"),
				snap("b", "2021-06-05T00:00:00Z"),
				snap("c", "2021-06-01T00:00:00Z"),
			},
			policy:     Policy{Last: 1, Within: Duration{Days: 7}},
			wantKeep:   []string{"future: within 7d, last snapshot", "a: within 7d", "b: within 7d"},
			wantRemove: []string{"c"},
		},
		{
			// Our one deliberate difference from restic, which takes only
			// snapshots strictly before now: a snapshot at exactly now is R.
			// With restic's rule R would be "b" and "c" would be kept.
			name: "a snapshot at exactly now is not in the future",
			now:  at("2021-06-10T12:00:00Z"),
			snaps: []Snapshot{
				snap("a", "2021-06-10T12:00:00Z"),
				snap("b", "2021-06-05T12:00:00Z"),
				snap("c", "2021-06-01T12:00:00Z"),
			},
			policy:     Policy{Within: Duration{Days: 7}},
			wantKeep:   []string{"a: within 7d", "b: within 7d"},
			wantRemove: []string{"c"},
		},
		{
			// No snapshot is before now, so R is the zero time, as in restic,
			// and everything is within the window.
			name: "every snapshot in the future",
			now:  at("2021-01-01T00:00:00Z"),
			snaps: []Snapshot{
				snap("y2022", "2022-01-01T00:00:00Z"),
				snap("y2021", "2021-06-01T00:00:00Z"),
			},
			policy:     Policy{Daily: 1, Within: Duration{Days: 1}},
			wantKeep:   []string{"y2022: within 1d, daily snapshot", "y2021: within 1d"},
			wantRemove: []string{},
		},
		{
			// x is 2021-01-01 local (-01:00), y is 2021-01-02 (UTC): the same
			// instant on two local days. Ties go to the higher ID, so y first.
			name: "same instant recorded with different offsets falls on two days",
			snaps: []Snapshot{
				snap("x", "2021-01-01T23:30:00-01:00"),
				snap("y", "2021-01-02T00:30:00Z"),
			},
			policy:     Policy{Daily: 2},
			wantKeep:   []string{"y: daily snapshot", "x: daily snapshot"},
			wantRemove: []string{},
		},
		{
			// Sorted by instant the local days go 01-01, 01-02, 01-01; each
			// is compared with the last kept, so day 01-01 is kept twice.
			name: "offsets can make local days non-monotonic",
			snaps: []Snapshot{
				snap("B", "2021-01-01T23:45:00Z"),
				snap("A", "2021-01-02T00:30:00+01:00"), // 2021-01-01T23:30Z
				snap("C", "2021-01-01T23:00:00Z"),
			},
			policy:     Policy{Daily: 5},
			wantKeep:   []string{"B: daily snapshot", "A: daily snapshot", "C: daily snapshot"},
			wantRemove: []string{},
		},
		{
			// In UTC both are Monday 2021-01-04 (2021-W01); in their own
			// offsets the first is Sunday 2021-01-03 (2020-W53).
			name: "ISO week in the snapshot's own offset",
			snaps: []Snapshot{
				snap("sun", "2021-01-03T23:30:00-02:00"),
				snap("mon", "2021-01-04T00:30:00Z"),
			},
			policy:     Policy{Weekly: 2},
			wantKeep:   []string{"sun: weekly snapshot", "mon: weekly snapshot"},
			wantRemove: []string{},
		},
		{
			name: "hour in a half-hour offset",
			snaps: []Snapshot{
				snap("b", "2021-01-01T10:59:00+05:30"), // 05:29Z
				snap("a", "2021-01-01T10:01:00+05:30"), // 04:31Z
			},
			policy:     Policy{Hourly: 2},
			wantKeep:   []string{"b: hourly snapshot"},
			wantRemove: []string{"a"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = farFuture
			}
			got := Apply(tt.snaps, tt.policy, now)
			if k := keepLines(got); !slices.Equal(k, tt.wantKeep) {
				t.Errorf("keep:\n got %q\nwant %q", k, tt.wantKeep)
			}
			if r := removeIDs(got); !slices.Equal(r, tt.wantRemove) {
				t.Errorf("remove:\n got %q\nwant %q", r, tt.wantRemove)
			}
		})
	}
}

// TestApplyISOWeeks checks pairs of days that must or must not share a week:
// with --keep-weekly 2, a pair in one week keeps only the newer snapshot.
func TestApplyISOWeeks(t *testing.T) {
	tests := []struct {
		older, newer string
		sameWeek     bool
		week         string // ISO week of older, to check the test data itself
	}{
		{"2020-12-31", "2021-01-03", true, "2020-W53"},
		{"2021-01-03", "2021-01-04", false, "2020-W53"},
		{"2020-12-28", "2021-01-03", true, "2020-W53"},
		{"2019-12-30", "2020-01-05", true, "2020-W01"},
		{"2019-12-29", "2019-12-30", false, "2019-W52"},
		{"2015-12-28", "2016-01-03", true, "2015-W53"},
		{"2016-01-03", "2016-01-04", false, "2015-W53"},
		{"2021-06-06", "2021-06-07", false, "2021-W22"}, // Sunday, Monday
		{"2021-06-07", "2021-06-13", true, "2021-W23"},  // Monday to Sunday
	}
	for _, tt := range tests {
		t.Run(tt.older+"_"+tt.newer, func(t *testing.T) {
			older := snap("older", tt.older+"T12:00:00Z")
			newer := snap("newer", tt.newer+"T12:00:00Z")
			if y, w := older.Time.ISOWeek(); isoWeekString(y, w) != tt.week {
				t.Fatalf("test data: %s is in %s, not %s", tt.older, isoWeekString(y, w), tt.week)
			}
			got := Apply([]Snapshot{older, newer}, Policy{Weekly: 2}, farFuture)
			want := []string{"newer: weekly snapshot", "older: weekly snapshot"}
			if tt.sameWeek {
				want = want[:1]
			}
			if k := keepLines(got); !slices.Equal(k, want) {
				t.Errorf("keep %q, want %q", k, want)
			}
		})
	}
}

func isoWeekString(y, w int) string {
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006") + "-W" + twoDigits(w)
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

// TestApplyWeeklyAndMonthly: one snapshot every Sunday from 2020-12-27 to
// 2021-06-27 with --keep-weekly 4 --keep-monthly 6. The newest snapshot uses
// a count of both rules.
func TestApplyWeeklyAndMonthly(t *testing.T) {
	var snaps []Snapshot
	for d := at("2020-12-27T10:00:00Z"); !d.After(at("2021-06-27T10:00:00Z")); d = d.AddDate(0, 0, 7) {
		snaps = append(snaps, Snapshot{ID: d.Format("2006-01-02"), Time: d, State: Good})
	}
	got := Apply(snaps, Policy{Weekly: 4, Monthly: 6}, farFuture)
	wantKeep := []string{
		"2021-06-27: weekly snapshot, monthly snapshot",
		"2021-06-20: weekly snapshot",
		"2021-06-13: weekly snapshot",
		"2021-06-06: weekly snapshot",
		"2021-05-30: monthly snapshot",
		"2021-04-25: monthly snapshot",
		"2021-03-28: monthly snapshot",
		"2021-02-28: monthly snapshot",
		"2021-01-31: monthly snapshot",
	}
	checkKeepAndRest(t, snaps, got, wantKeep)
}

// TestApplyDailyWeeklyMonthlyYearly: one snapshot a day at 03:00 UTC from
// 2019-11-01 to 2021-03-10 (a Wednesday) with --keep-daily 7 --keep-weekly 4
// --keep-monthly 12 --keep-yearly 3.
func TestApplyDailyWeeklyMonthlyYearly(t *testing.T) {
	var snaps []Snapshot
	for d := at("2019-11-01T03:00:00Z"); !d.After(at("2021-03-10T03:00:00Z")); d = d.AddDate(0, 0, 1) {
		snaps = append(snaps, Snapshot{ID: d.Format("2006-01-02"), Time: d, State: Good})
	}
	got := Apply(snaps, Policy{Daily: 7, Weekly: 4, Monthly: 12, Yearly: 3}, farFuture)
	wantKeep := []string{
		"2021-03-10: daily snapshot, weekly snapshot, monthly snapshot, yearly snapshot",
		"2021-03-09: daily snapshot",
		"2021-03-08: daily snapshot",
		"2021-03-07: daily snapshot, weekly snapshot", // Sunday ends 2021-W09
		"2021-03-06: daily snapshot",
		"2021-03-05: daily snapshot",
		"2021-03-04: daily snapshot",
		"2021-02-28: weekly snapshot, monthly snapshot",
		"2021-02-21: weekly snapshot",
		"2021-01-31: monthly snapshot",
		"2020-12-31: monthly snapshot, yearly snapshot",
		"2020-11-30: monthly snapshot",
		"2020-10-31: monthly snapshot",
		"2020-09-30: monthly snapshot",
		"2020-08-31: monthly snapshot",
		"2020-07-31: monthly snapshot",
		"2020-06-30: monthly snapshot",
		"2020-05-31: monthly snapshot",
		"2020-04-30: monthly snapshot",
		"2019-12-31: yearly snapshot",
	}
	checkKeepAndRest(t, snaps, got, wantKeep)
}

// checkKeepAndRest checks the kept list exactly and that every other snapshot
// is removed, newest first.
func checkKeepAndRest(t *testing.T, snaps []Snapshot, got Result, wantKeep []string) {
	t.Helper()
	if k := keepLines(got); !slices.Equal(k, wantKeep) {
		t.Errorf("keep:\n got %q\nwant %q", k, wantKeep)
	}
	kept := map[string]bool{}
	for _, k := range got.Keep {
		kept[k.Snapshot.ID] = true
	}
	var wantRemove []string
	for i := len(snaps) - 1; i >= 0; i-- { // snaps are oldest first
		if !kept[snaps[i].ID] {
			wantRemove = append(wantRemove, snaps[i].ID)
		}
	}
	if r := removeIDs(got); !slices.Equal(r, wantRemove) {
		t.Errorf("remove:\n got %q\nwant %q", r, wantRemove)
	}
	if len(got.Keep)+len(got.Remove) != len(snaps) {
		t.Errorf("%d kept + %d removed != %d snapshots", len(got.Keep), len(got.Remove), len(snaps))
	}
}

func TestApplyDoesNotModifyInput(t *testing.T) {
	snaps := []Snapshot{
		snap("a", "2021-01-01T00:00:00Z"),
		snap("b", "2021-01-02T00:00:00Z"),
		snap("c", "2021-01-03T00:00:00Z"),
	}
	orig := slices.Clone(snaps)
	Apply(snaps, Policy{Last: 1}, farFuture)
	if !slices.Equal(snaps, orig) {
		t.Errorf("input reordered: %v", snaps)
	}
}

func TestApplyEmptyResultIsNotNil(t *testing.T) {
	got := Apply(nil, Policy{Last: 1}, farFuture)
	if got.Keep == nil || got.Remove == nil {
		t.Errorf("want non-nil slices so JSON shows [], got %#v", got)
	}
}

func TestApplyKeepsOffsets(t *testing.T) {
	in := snap("a", "2021-01-01T23:30:00-01:00")
	got := Apply([]Snapshot{in}, Policy{Last: 1}, farFuture)
	if s := got.Keep[0].Snapshot.Time.Format(time.RFC3339); s != "2021-01-01T23:30:00-01:00" {
		t.Errorf("kept snapshot time %s, want its own offset kept", s)
	}
}
