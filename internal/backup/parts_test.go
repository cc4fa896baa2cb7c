package backup

import (
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/snapshot"
)

const gr = fingerprint.GranuleRows

// granules models a table of n rows at rowids 0..n-1 whose row r hashes
// to r*salt-ish values; edit changes the rows of the given granules.
func granules(n int64, edit ...int64) []fingerprint.Granule {
	changed := map[int64]bool{}
	for _, e := range edit {
		changed[e] = true
	}
	var gs []fingerprint.Granule
	for i := int64(0); i*gr < n; i++ {
		rows := min(gr, n-i*gr)
		x := uint64(i)*0x9e3779b97f4a7c15 + uint64(rows)
		if changed[i] {
			x ^= 0xdeadbeef
		}
		gs = append(gs, fingerprint.Granule{Index: i, Sum: fingerprint.Sum{Rows: rows, X1: x, X2: ^x}})
	}
	return gs
}

// written turns a plan into the parts the manifest would record.
func written(plan []partPlan) []snapshot.Part {
	var ps []snapshot.Part
	for _, p := range plan {
		if p.reuse != nil {
			ps = append(ps, *p.reuse)
			continue
		}
		ps = append(ps, snapshot.Part{File: "new", Rows: p.sum.Rows, RowidLo: p.lo, RowidHi: p.hi, Fingerprint: p.sum.Hex()})
	}
	return ps
}

func newRows(plan []partPlan) (rows int64, files int) {
	for _, p := range plan {
		if p.reuse == nil {
			rows += p.sum.Rows
			files++
		}
	}
	return
}

func TestPlanParts(t *testing.T) {
	type step struct {
		rows     int64
		edit     []int64
		newRows  int64 // rows written anew
		newFiles int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"small table unchanged is shared whole", []step{{5000, nil, 5000, 1}, {5000, nil, 0, 0}}},
		{"small table changed is written whole", []step{{5000, nil, 5000, 1}, {5000, []int64{1}, 5000, 1}}},
		{"small table appended is written whole", []step{{5000, nil, 5000, 1}, {5100, nil, 5100, 1}}},
		{"empty table", []step{{0, nil, 0, 1}, {0, nil, 0, 0}}},
		{"big table unchanged", []step{{3_000_000, nil, 3_000_000, 4}, {3_000_000, nil, 0, 0}}},
		// 3,000,000 rows: chunks [0,1Mi) [1Mi,2Mi) [2Mi,2998272) and the
		// partial tail granule; 30,000 more rows rewrite the tail (1,728
		// rows) and add the new ones.
		{"big table appended 1%", []step{{3_000_000, nil, 3_000_000, 4}, {3_030_000, nil, 3_000_000 - 2_998_272 + 30_000, 2}}},
		{"big table changed in the middle", []step{{3_000_000, nil, 3_000_000, 4}, {3_000_000, []int64{600}, 1 << 20, 1}}},
		{"appends week after week", []step{{3_000_000, nil, 3_000_000, 4}, {3_030_000, nil, 31_728, 2}, {3_060_000, nil, 30_000 + 3_030_000%gr, 2}}},
		// 10,000 rows: one file; 20,000 rows: a chunk and the partial tail
		// granule (the whole file of 10,000 rows had another range); then
		// 2,000 more rows rewrite the tail and add the new ones.
		{"small table grows past the chunk size", []step{{10_000, nil, 10_000, 1}, {20_000, nil, 20_000, 2}, {22_000, nil, 22_000 - 18_432, 2}}},
		{"mid-sized table appended", []step{{60_000, nil, 60_000, 2}, {60_600, nil, 60_600 - 59_392, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var prev []snapshot.Part
			for i, s := range c.steps {
				gs := granules(s.rows, s.edit...)
				plan := planParts(gs, prev)
				rows, files := newRows(plan)
				if rows != s.newRows || files != s.newFiles {
					t.Errorf("step %d: writes %d rows in %d files, want %d rows in %d files (%+v)", i, rows, files, s.newRows, s.newFiles, plan)
				}
				// Whatever is shared or written, the files hold every row
				// once, in rowid order, and each shared file's rows are
				// unchanged.
				var total, pos int64
				for _, p := range plan {
					if p.lo < pos || p.hi < p.lo {
						t.Fatalf("step %d: ranges overlap or go back: %+v", i, plan)
					}
					pos = p.hi
					total += p.sum.Rows
					if p.reuse != nil && fingerprint.Over(gs, p.lo, p.hi).Hex() != p.reuse.Fingerprint {
						t.Fatalf("step %d: shares a file whose rows changed", i)
					}
				}
				if total != s.rows {
					t.Errorf("step %d: files hold %d rows, the table %d", i, total, s.rows)
				}
				prev = written(plan)
			}
		})
	}
}

// TestPlanPartsRefusesOddRanges: a previous part whose range is not
// made of whole granules, or reaches past the table, is never shared
// (a hostile or foreign manifest cannot make backup skip rows).
func TestPlanPartsRefusesOddRanges(t *testing.T) {
	gs := granules(300_000)
	good := written(planParts(gs, nil))
	for _, bad := range []func(p *snapshot.Part){
		func(p *snapshot.Part) { p.RowidLo++ },
		func(p *snapshot.Part) { p.RowidHi += gr * 1000 },
		func(p *snapshot.Part) { p.Rows++ },
		func(p *snapshot.Part) { p.Fingerprint = "" },
	} {
		prev := append([]snapshot.Part(nil), good...)
		bad(&prev[0])
		plan := planParts(gs, prev)
		if plan[0].reuse != nil {
			t.Errorf("shared a part with a bad range or fingerprint: %+v", prev[0])
		}
	}
}
