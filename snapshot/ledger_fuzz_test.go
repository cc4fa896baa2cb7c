package snapshot

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/testutil/fuzzseed"
)

// FuzzParseLedger feeds the ledger parser arbitrary bytes. A ledger comes
// from a folder anyone may have written to; the parser must never panic,
// and whatever it accepts must name only plain Parquet file names inside
// the folder with well-formed records, and must survive a round trip.
//
// Seeds live in testdata/fuzz/FuzzParseLedger (regenerate them with
// STATSNAP_WRITE_CORPUS=1 go test -run TestWriteLedgerFuzzCorpus ./snapshot/).
func FuzzParseLedger(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := ParseLedger(raw, nil)
		if err != nil {
			if l != nil {
				t.Fatal("a refused ledger was returned anyway")
			}
			return
		}
		for name, c := range l.Files {
			if err := storage.CheckName(name); err != nil || strings.HasPrefix(name, ".") {
				t.Fatalf("accepted file name %q", name)
			}
			if len(c.BLAKE3) != 64 || c.Size < 0 || c.Depth <= DepthNone || c.Depth > DepthDeep {
				t.Fatalf("accepted record %+v", c)
			}
		}
		for id := range l.Snapshots {
			if !ValidID(id) {
				t.Fatalf("accepted snapshot id %q", id)
			}
		}
		again, err := MarshalLedger(l, nil)
		if err != nil {
			t.Fatalf("an accepted ledger does not encode: %v", err)
		}
		l2, err := ParseLedger(again, nil)
		if err != nil {
			t.Fatalf("an accepted ledger does not parse after a round trip: %v", err)
		}
		if len(l2.Files) != len(l.Files) || len(l2.Snapshots) != len(l.Snapshots) {
			t.Fatal("the round trip changed the ledger")
		}
	})
}

// TestWriteLedgerFuzzCorpus writes the seeds of FuzzParseLedger: a real
// ledger and hostile variants of it.
func TestWriteLedgerFuzzCorpus(t *testing.T) {
	fuzzseed.SkipUnlessAsked(t, "rewrite the seeds")
	real, err := MarshalLedger(sampleLedger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keyed, _ := MarshalLedger(sampleLedger(), bytes.Repeat([]byte{7}, KeySize))
	rep := func(old, new string) []byte { return bytes.Replace(real, []byte(old), []byte(new), 1) }
	seeds := map[string][]byte{
		"real":           real,
		"keyed":          keyed,
		"truncated":      real[:len(real)/2],
		"empty":          {},
		"null":           []byte("null"),
		"not_object":     []byte(`[1,2,3]`),
		"edited":         rep(`"ok":false`, `"ok":true`),
		"duplicate_key":  rep(`{"ledger_format":1,`, `{"ledger_format":1,"ledger_format":1,`),
		"traversal":      rep(`"match_stats_20260201_100000.parquet"`, `"../../etc/x_20260201_100000.parquet"`),
		"hidden":         rep(`"match_stats_20260201_100000.parquet"`, `".statsnap-x_20260201_100000.parquet"`),
		"escaped_name":   rep(`"match_stats_20260201_100000.parquet"`, `"a\u002fb_20260201_100000.parquet"`),
		"bad_depth":      rep(`"depth":"hash"`, `"depth":"none"`),
		"numeric_depth":  rep(`"depth":"hash"`, `"depth":2`),
		"negative_size":  rep(`"size":100`, `"size":-1`),
		"huge_size":      rep(`"size":100`, `"size":1e400`),
		"bad_time":       rep(`"checked":"2026`, `"checked":"x2026`),
		"bad_snapshot":   rep(`"20260201_100000":{`, `"2026":{`),
		"invalid_utf8":   append(append([]byte{}, real[:20]...), 0xff, 0xfe),
		"deep_nesting":   []byte(`{"files":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`),
		"format_2":       rep(`"ledger_format":1`, `"ledger_format":2`),
		"trailing":       append(append([]byte{}, real...), []byte(`{}`)...),
		"problem_but_ok": rep(`"ok":false,"problem":"hash_mismatch"`, `"ok":true,"problem":"hash_mismatch"`),
	}
	fuzzseed.Write(t, filepath.Join("testdata", "fuzz", "FuzzParseLedger"), seeds)
}
