package verify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/storage/storagetest"
	"github.com/openspartan/statsnap/snapshot"
)

// TestVerifyStreamsOnce: a full verify of a statsnap snapshot reads each
// file once, as one stream, and makes no ranged read at all: the footer
// and page-header checks are served from the hashed bytes. The checks
// still run: a page header damaged in place is found.
func TestVerifyStreamsOnce(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	rf := &storagetest.Counting{Folder: folder}
	entries, _ := folder.List(ctx)
	if res := Snapshot(ctx, rf, s, entries, Options{}); !res.OK {
		t.Fatalf("verify of an intact snapshot: %+v", res.Problems)
	}
	data := dataBytes(s)
	if rf.Ranged.Load() != 0 || rf.Streamed.Load() != data {
		t.Fatalf("verify made %d ranged reads and streamed %d bytes; want 0 and the %d bytes of the data files once",
			rf.Ranged.Load(), rf.Streamed.Load(), data)
	}

	// The deep check decodes through the same source.
	rf.Reset()
	if res := Snapshot(ctx, rf, s, entries, Options{Deep: true}); !res.OK {
		t.Fatalf("deep verify of an intact snapshot: %+v", res.Problems)
	}

	// Damage the first page header of the big table: the page walk,
	// served from the tap, must see it, not only the hash.
	var big string
	for _, tb := range s.Manifest.Tables {
		if tb.Name == "big" {
			big = filepath.Join(folder.Dir, tb.File)
		}
	}
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	b[4] = 0xff // no page header starts with this byte
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := Snapshot(ctx, rf, s, entries, Options{})
	if res.OK {
		t.Fatal("a damaged page header passed")
	}
	found := false
	for _, p := range res.Problems {
		found = found || p.Kind == KindUnreadable
	}
	if !found {
		t.Fatalf("want an unreadable problem for the damaged page header, got %+v", res.Problems)
	}
}

// dataBytes is the size of the data files s's manifest names.
func dataBytes(s snapshot.Info) int64 {
	var n int64
	for _, tb := range s.Manifest.Tables {
		for _, p := range tb.DataFiles() {
			n += p.FileSizeBytes
		}
	}
	return n
}
