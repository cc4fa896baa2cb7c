package retention

import (
	"slices"
	"testing"
)

func stated(id, ts string, s State) Snapshot { return Snapshot{ID: id, Time: at(ts), State: s} }

func ids(list []Snapshot) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

// TestApplyCountsOnlyVerified: snapshots that fail verification (or could
// not be checked) use up no rule's count, are never removed by the policy,
// and the newest verified snapshot always stays.
func TestApplyCountsOnlyVerified(t *testing.T) {
	tests := []struct {
		name          string
		snaps         []Snapshot
		policy        Policy
		wantKeep      []string
		wantRemove    []string
		wantBroken    []string
		wantUnchecked []string
		noneVerifies  bool
	}{
		{
			// The scenario: the newest is corrupt; keep-last 1
			// must keep the older intact one, not count the corrupt one.
			name: "keep-last skips a broken newest snapshot",
			snaps: []Snapshot{
				stated("old", "2026-01-01T00:00:00Z", Good),
				stated("new", "2026-01-02T00:00:00Z", Bad),
			},
			policy:     Policy{Last: 1},
			wantKeep:   []string{"old: last snapshot"},
			wantRemove: []string{},
			wantBroken: []string{"new"},
		},
		{
			name: "broken snapshots do not use up a daily count",
			snaps: []Snapshot{
				stated("d1", "2026-01-01T10:00:00Z", Good),
				stated("d2", "2026-01-02T10:00:00Z", Good),
				stated("d3", "2026-01-03T10:00:00Z", Bad),
				stated("d4", "2026-01-04T10:00:00Z", Bad),
			},
			policy:     Policy{Daily: 2},
			wantKeep:   []string{"d2: daily snapshot", "d1: daily snapshot"},
			wantRemove: []string{},
			wantBroken: []string{"d4", "d3"},
		},
		{
			name: "a broken snapshot does not make another removable",
			snaps: []Snapshot{
				stated("a", "2026-01-01T10:00:00Z", Good),
				stated("b", "2026-01-01T12:00:00Z", Bad), // same day, newer
			},
			policy:     Policy{Daily: 1},
			wantKeep:   []string{"a: daily snapshot"},
			wantRemove: []string{},
			wantBroken: []string{"b"},
		},
		{
			name: "unknown snapshots neither count nor go",
			snaps: []Snapshot{
				stated("a", "2026-01-01T00:00:00Z", Good),
				stated("b", "2026-01-02T00:00:00Z", Good),
				stated("c", "2026-01-03T00:00:00Z", Unknown),
			},
			policy:        Policy{Last: 1},
			wantKeep:      []string{"b: last snapshot"},
			wantRemove:    []string{"a"},
			wantUnchecked: []string{"c"},
		},
		{
			name: "keep-within is measured from the newest verified snapshot",
			snaps: []Snapshot{
				stated("a", "2026-01-01T00:00:00Z", Good),
				stated("b", "2026-01-05T00:00:00Z", Good),
				stated("c", "2026-03-01T00:00:00Z", Bad),
			},
			policy:     Policy{Within: Duration{Days: 7}},
			wantKeep:   []string{"b: within 7d", "a: within 7d"},
			wantRemove: []string{},
			wantBroken: []string{"c"},
		},
		{
			name: "none verifies: nothing kept, nothing removed",
			snaps: []Snapshot{
				stated("a", "2026-01-01T00:00:00Z", Bad),
				stated("b", "2026-01-02T00:00:00Z", Unknown),
			},
			policy:        Policy{Last: 1},
			wantKeep:      []string{},
			wantRemove:    []string{},
			wantBroken:    []string{"a"},
			wantUnchecked: []string{"b"},
			noneVerifies:  true,
		},
		{
			name: "empty policy keeps every verified one and still sets broken apart",
			snaps: []Snapshot{
				stated("a", "2026-01-01T00:00:00Z", Good),
				stated("b", "2026-01-02T00:00:00Z", Bad),
			},
			wantKeep:   []string{"a: policy is empty"},
			wantRemove: []string{},
			wantBroken: []string{"b"},
		},
		{
			name:       "zero State is unknown, never good",
			snaps:      []Snapshot{{ID: "a", Time: at("2026-01-01T00:00:00Z")}},
			policy:     Policy{Last: 1},
			wantKeep:   []string{},
			wantRemove: []string{}, wantUnchecked: []string{"a"}, noneVerifies: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantBroken == nil {
				tt.wantBroken = []string{}
			}
			if tt.wantUnchecked == nil {
				tt.wantUnchecked = []string{}
			}
			r := Apply(tt.snaps, tt.policy, farFuture)
			if got := keepLines(r); !slices.Equal(got, tt.wantKeep) {
				t.Errorf("keep = %q, want %q", got, tt.wantKeep)
			}
			if got := removeIDs(r); !slices.Equal(got, tt.wantRemove) {
				t.Errorf("remove = %q, want %q", got, tt.wantRemove)
			}
			if got := ids(r.Broken); !slices.Equal(got, tt.wantBroken) {
				t.Errorf("broken = %q, want %q", got, tt.wantBroken)
			}
			if got := ids(r.Unchecked); !slices.Equal(got, tt.wantUnchecked) {
				t.Errorf("unchecked = %q, want %q", got, tt.wantUnchecked)
			}
			if r.NoneVerifies() != tt.noneVerifies {
				t.Errorf("NoneVerifies = %v, want %v", r.NoneVerifies(), tt.noneVerifies)
			}
		})
	}
}

// TestApplyNeverRemovesNewestVerified: for every policy shape and mix of
// states, the newest Good snapshot is kept and no Bad or Unknown one is
// removed.
func TestApplyNeverRemovesNewestVerified(t *testing.T) {
	times := []string{
		"2025-12-31T23:00:00+01:00", "2026-01-01T00:30:00Z", "2026-01-01T09:00:00-08:00",
		"2026-01-08T00:00:00Z", "2026-02-01T00:00:00Z", "2027-06-01T00:00:00Z", "2099-01-01T00:00:00Z",
	}
	policies := []Policy{
		{Last: 1}, {Hourly: 1}, {Daily: 1}, {Weekly: 1}, {Monthly: 1}, {Yearly: 1},
		{Within: Duration{Hours: 1}}, {Within: Duration{Years: 1}}, {Last: 2, Monthly: 1},
	}
	now := at("2030-01-01T00:00:00Z")
	// Every assignment of the three states to the seven snapshots.
	for mask := 0; mask < 2187; mask++ {
		var snaps []Snapshot
		m := mask
		for i, ts := range times {
			snaps = append(snaps, stated(string(rune('a'+i)), ts, State(m%3)))
			m /= 3
		}
		for _, p := range policies {
			r := Apply(snaps, p, now)
			var newest *Snapshot
			for i := range snaps {
				s := &snaps[i]
				if s.State == Good && (newest == nil || s.Time.After(newest.Time) || (s.Time.Equal(newest.Time) && s.ID > newest.ID)) {
					newest = s
				}
			}
			for _, rm := range r.Remove {
				if rm.State != Good {
					t.Fatalf("mask %d policy %+v: removed %s in state %v", mask, p, rm.ID, rm.State)
				}
				if newest != nil && rm.ID == newest.ID {
					t.Fatalf("mask %d policy %+v: removed the newest verified snapshot %s", mask, p, rm.ID)
				}
			}
			if newest != nil && (len(r.Keep) == 0 || r.Keep[0].Snapshot.ID != newest.ID) {
				t.Fatalf("mask %d policy %+v: newest verified %s not kept first: %v", mask, p, newest.ID, keepLines(r))
			}
			if n := len(r.Keep) + len(r.Remove) + len(r.Broken) + len(r.Unchecked); n != len(snaps) {
				t.Fatalf("mask %d: %d snapshots in, %d out", mask, len(snaps), n)
			}
		}
	}
}
