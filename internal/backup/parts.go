package backup

import (
	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/snapshot"
)

// How tables are cut into files (docs/incremental.md). A table of at
// least chunkMinRows rows is held in chunks of at most chunkMaxRowids
// rowids, and its final, partial granule in a file of its own, so that an
// append rewrites that granule and writes the new rows, nothing more.
// The threshold is eight granules: the app's mid-sized append-only
// tables (skill_history, sessions: 30,000 to 70,000 rows at 200,000
// matches) rewritten whole each week made a year of weekly snapshots 2.8
// times one full snapshot; below it a table is small enough that one
// file is cheaper than a chunk, a tail and their footers.
const (
	chunkMinRows   = 8 * 2048
	chunkMaxRowids = 1 << 20
)

// partPlan is one file of a table in the new snapshot: a run of rowids
// [lo, hi), shared from an earlier snapshot (reuse) or to be written.
type partPlan struct {
	lo, hi int64
	sum    fingerprint.Sum
	reuse  *snapshot.Part
	// whole: written without a rowid filter (the table is one file).
	whole bool
	file  string // final name of a file to write
}

// planParts decides a table's files from its granules' fingerprints and
// the files that held it in the earlier snapshot (prev, nil when there is
// none or its shape differs). A previous file is shared only when the rows
// in its rowid range now have its row count and fingerprint; everything
// else is written anew. It is a pure function: parts_test.go covers it.
func planParts(gs []fingerprint.Granule, prev []snapshot.Part) []partPlan {
	total := fingerprint.Combine(gs)
	var end int64
	if n := len(gs); n > 0 {
		end = (gs[n-1].Index + 1) * fingerprint.GranuleRows
	}
	if total.Rows == 0 || (total.Rows < chunkMinRows && len(prev) <= 1) {
		p := partPlan{lo: 0, hi: end, sum: total, whole: true}
		if len(prev) == 1 && prev[0].RowidLo == 0 && prev[0].RowidHi == end && matches(prev[0], total) {
			p.reuse = &prev[0]
		}
		return []partPlan{p}
	}
	var out []partPlan
	var pos int64
	for i := range prev {
		p := &prev[i]
		if p.RowidLo < pos || p.RowidHi > end || p.Rows == 0 || !aligned(p.RowidLo) || !aligned(p.RowidHi) {
			continue
		}
		if !matches(*p, fingerprint.Over(gs, p.RowidLo, p.RowidHi)) {
			continue
		}
		out = append(out, newParts(gs, pos, p.RowidLo, false)...)
		out = append(out, partPlan{lo: p.RowidLo, hi: p.RowidHi, sum: fingerprint.Over(gs, p.RowidLo, p.RowidHi), reuse: p})
		pos = p.RowidHi
	}
	return append(out, newParts(gs, pos, end, true)...)
}

// newParts cuts [a, b) into files to write: chunks of at most
// chunkMaxRowids rowids and, at the table's end (tail), the last granule
// alone when it is partial. Runs without rows get no file.
func newParts(gs []fingerprint.Granule, a, b int64, tail bool) []partPlan {
	if a >= b {
		return nil
	}
	var out []partPlan
	cut := b
	if tail && b-a > fingerprint.GranuleRows {
		if last := fingerprint.Over(gs, b-fingerprint.GranuleRows, b); last.Rows < fingerprint.GranuleRows {
			cut = b - fingerprint.GranuleRows
		}
	}
	for lo := a; lo < cut; lo += chunkMaxRowids {
		hi := min(lo+chunkMaxRowids, cut)
		if s := fingerprint.Over(gs, lo, hi); s.Rows > 0 {
			out = append(out, partPlan{lo: lo, hi: hi, sum: s})
		}
	}
	if cut < b {
		if s := fingerprint.Over(gs, cut, b); s.Rows > 0 {
			out = append(out, partPlan{lo: cut, hi: b, sum: s})
		}
	}
	return out
}

func aligned(rowid int64) bool { return rowid%fingerprint.GranuleRows == 0 }

// matches reports whether an earlier file holds exactly the rows now
// fingerprinted as s.
func matches(p snapshot.Part, s fingerprint.Sum) bool {
	return p.Fingerprint != "" && p.Rows == s.Rows && p.Fingerprint == s.Hex()
}
