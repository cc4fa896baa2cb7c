package parquetfile

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil/fuzzseed"
)

// FuzzCheck feeds whole files, not only footers, to the checks restore and
// verify run before any reader decodes a byte (Check, Decompress) and to
// the full decode. Whatever the bytes: no panic, no hang, and no more
// allocation than the bounds allow for a file of that size. Seeds live in
// testdata/fuzz/FuzzCheck (TestWriteCheckCorpus writes them).
func FuzzCheck(f *testing.F) {
	for _, s := range checkSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, cerr := Check(ctx, bytes.NewReader(data))
		_, derr := Decompress(ctx, bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		if ctx.Err() != nil {
			t.Fatal("the checks did not finish within a minute")
		}
		// A page may declare up to 2 GiB, but a small file cannot make
		// the checks allocate anywhere near that: they read headers, and
		// decompress pages as streams.
		if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
			t.Fatalf("checking %d bytes allocated %d", len(data), got)
		}
		if cerr == nil && derr == nil {
			DecodeAll(ctx, bytes.NewReader(data))
		}
		if errors.Is(cerr, ErrBounds) && derr == nil {
			t.Fatalf("Check refused for bounds (%v) but Decompress accepted", cerr)
		}
	})
}

func checkSeeds(t testing.TB) map[string][]byte {
	good := sampleFile(t, 50)
	return map[string][]byte{
		"good":       good,
		"truncated":  good[:len(good)-9],
		"deep":       forgedFooter(t, deep(40)),
		"too_deep":   forgedFooter(t, deep(MaxDepth+1)),
		"wide":       forgedFooter(t, wide(300)),
		"page_ok":    forgedPageFile(t, 16, 16),
		"page_bomb":  forgedPageFile(t, 1<<30+1, 16),
		"page_neg":   forgedPageFile(t, -5, 16),
		"magic_only": []byte("PAR1PAR1"),
		"encodings":  arrowEncodings(t),
		"zstd_page":  forgedPage(t, 1<<20, zstdZeros(t, 1<<20), 6, 1<<18, true),
	}
}

// TestWriteCheckCorpus regenerates FuzzCheck's seed corpus. It only runs
// when asked.
func TestWriteCheckCorpus(t *testing.T) {
	fuzzseed.SkipUnlessAsked(t, "regenerate testdata/fuzz/FuzzCheck")
	fuzzseed.Write(t, filepath.Join("testdata", "fuzz", "FuzzCheck"), checkSeeds(t))
}
