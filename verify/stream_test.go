package verify

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// rangedFolder counts the ranged reads (ReadAt) and the bytes streamed
// (Read) of every file it opens: on an object store each ranged read is a
// request.
type rangedFolder struct {
	storage.Folder
	ranged, streamed *atomic.Int64
}

type rangedFile struct {
	storage.File
	f rangedFolder
}

func (r rangedFile) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	r.f.streamed.Add(int64(n))
	return n, err
}

func (r rangedFile) ReadAt(p []byte, off int64) (int, error) {
	r.f.ranged.Add(1)
	return r.File.ReadAt(p, off)
}

func (c rangedFolder) Open(ctx context.Context, name string) (storage.File, error) {
	f, err := c.Folder.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return rangedFile{f, c}, nil
}

// TestVerifyStreamsOnce: a full verify of a statsnap snapshot reads each
// file once, as one stream, and makes no ranged read at all: the footer
// and page-header checks are served from the hashed bytes. The checks
// still run: a page header damaged in place is found.
func TestVerifyStreamsOnce(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	var ranged, streamed atomic.Int64
	rf := rangedFolder{folder, &ranged, &streamed}
	entries, _ := folder.List(ctx)
	if res := Snapshot(ctx, rf, s, entries, Options{}); !res.OK {
		t.Fatalf("verify of an intact snapshot: %+v", res.Problems)
	}
	data := dataBytes(s)
	if ranged.Load() != 0 || streamed.Load() != data {
		t.Fatalf("verify made %d ranged reads and streamed %d bytes; want 0 and the %d bytes of the data files once",
			ranged.Load(), streamed.Load(), data)
	}

	// The deep check decodes through the same source.
	ranged.Store(0)
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
