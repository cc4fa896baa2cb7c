package retention

import (
	"strings"
	"time"
)

// at parses an RFC 3339 time and keeps its offset as a fixed zone, the way a
// recorded backup_datetime should be read. time.Parse alone would switch to
// the machine's Local zone when the offset happens to match it, and the tests
// must not depend on where they run.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	_, off := t.Zone()
	return t.In(time.FixedZone("", off))
}

func snap(id, ts string) Snapshot { return Snapshot{ID: id, Time: at(ts), State: Good} }

// keepLines renders the kept snapshots as "ID: reason, reason" so a failing
// test shows the whole decision at a glance.
func keepLines(r Result) []string {
	out := []string{}
	for _, k := range r.Keep {
		out = append(out, k.Snapshot.ID+": "+strings.Join(k.Reasons, ", "))
	}
	return out
}

func removeIDs(r Result) []string {
	out := []string{}
	for _, s := range r.Remove {
		out = append(out, s.ID)
	}
	return out
}
