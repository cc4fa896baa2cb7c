package snapshot

import (
	"encoding/json"
	"testing"
)

// FuzzParquetNames: what a refused manifest is taken to name is read
// from hostile bytes. It never panics, returns only Parquet names, and
// returns nil (nothing known) for anything that is not well-formed JSON.
func FuzzParquetNames(f *testing.F) {
	f.Add([]byte(`{"format_version": 2, "tables": {"t": {"file": "../x", "files": [{"file": "t_20250101_100000.1.parquet"}]}}}`))
	f.Add([]byte(`{"format_version": 9, "tables": {"t": {"file": "t_20250101_100000.parquet"}}}`))
	f.Add([]byte(`{"tables": {"t": {"file": "a_20250101_100000.parquet", "file": "b_20250101_100000.parquet"}}}`))
	f.Add([]byte(`{"tables": {`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		names := parquetNames(raw)
		if names != nil && !json.Valid(raw) {
			t.Fatalf("names %q from invalid JSON", names)
		}
		for _, n := range names {
			if k, _ := Classify(n); k != KindParquet {
				t.Fatalf("%q is not a Parquet name", n)
			}
		}
	})
}

func TestParquetNames(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want int // -1: nil
	}{
		{`{"tables": {"t": {"file": "a_20250101_100000.parquet", "file": "b_20250101_100000.parquet"}}}`, 2},
		{`{"format_version": 2, "tables": {"t": {"file": "../x", "files": [{"file": "t_20250101_100000.1.parquet"}]}}}`, 1},
		{`{"format_version": 3, "tables": {"t": {"file": "t_20250101_100000.parquet"}}}`, -1},
		{`{"format_version": "x"}`, -1},
		{`{"tables": {`, -1},
		{`{"tables": {}}`, 0},
	} {
		got := parquetNames([]byte(tt.raw))
		if (tt.want < 0) != (got == nil) || (tt.want >= 0 && len(got) != tt.want) {
			t.Errorf("%s: %q", tt.raw, got)
		}
	}
}
