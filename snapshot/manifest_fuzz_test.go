package snapshot

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/testutil/fuzzseed"
)

// FuzzParseManifest feeds the strict manifest parser arbitrary bytes. A
// manifest comes from a folder anyone may have written to, so the parser
// must never panic, and whatever it accepts must only name plain files
// inside the folder: verify, restore and prune open and delete them.
//
// Seeds live in testdata/fuzz/FuzzParseManifest: a real statsnap
// manifest, the seed's legacy one, and hostile variants (regenerate them
// with STATSNAP_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./verify/,
// which makes the real one with a real backup).
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseManifest(raw)
		if err != nil {
			if p != nil {
				t.Fatal("a refused manifest was returned anyway")
			}
			return
		}
		if p.FormatVersion < 0 || p.FormatVersion > FormatVersion {
			t.Fatalf("accepted format_version %d", p.FormatVersion)
		}
		if p.Tables == nil {
			t.Fatal("accepted a manifest without tables")
		}
		files := map[string]bool{}
		for key, tb := range p.Tables {
			if tb == nil {
				t.Fatalf("table %q: accepted a null entry", key)
			}
			if err := storage.CheckName(tb.File); err != nil {
				t.Fatalf("table %q: accepted unsafe file %q: %v", key, tb.File, err)
			}
			if strings.ContainsAny(tb.File, "/\\\x00") || strings.HasPrefix(tb.File, ".") {
				t.Fatalf("table %q: accepted file %q", key, tb.File)
			}
			if files[tb.File] {
				t.Fatalf("two tables share file %q", tb.File)
			}
			files[tb.File] = true
			if tb.Rows < 0 || tb.FileSizeBytes < 0 {
				t.Fatalf("table %q: negative rows or size", key)
			}
			if !p.Legacy() && len(tb.BLAKE3) != 64 {
				t.Fatalf("table %q: accepted blake3 %q", key, tb.BLAKE3)
			}
		}
		// The checksum covers what the parser read: the canonical form
		// must be reproducible from the raw bytes, and stable.
		canon, err := Canonical(raw)
		if err != nil || !bytes.Equal(canon, mustCanon(t, p)) {
			t.Fatalf("canonical form not reproducible: %v", err)
		}
		again, err := Canonical(mustCanon(t, p))
		if err != nil || !bytes.Equal(again, mustCanon(t, p)) {
			t.Fatalf("canonical form not stable: %v\n%s\n%s", err, mustCanon(t, p), again)
		}
		_ = Checksum(mustCanon(t, p))
	})
}

// TestFuzzSeeds keeps the corpus meaningful: the real and seed manifests
// parse, every hostile one is refused.
func TestFuzzSeeds(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseManifest", "*"))
	if err != nil || len(paths) < 20 {
		t.Fatalf("corpus has %d seeds: %v", len(paths), err)
	}
	valid := map[string]bool{"real": true, "legacy": true, "escapes": true, "skipped_tables_nul_column": true}
	for _, p := range paths {
		name := filepath.Base(p)
		if _, err := ParseManifest(fuzzseed.Read(t, p)); valid[name] != (err == nil) {
			t.Errorf("seed %s: parse error %v", name, err)
		}
	}
}
