package verify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/storage/storagetest"
)

// TestQuickReadsLittle: --quick reads the footers only, a small part of
// the snapshot's bytes, and still catches a truncated file; it does not
// see a byte flipped inside the data, which the full check does.
func TestQuickReadsLittle(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	cf := &storagetest.Counting{Folder: folder}
	entries, _ := folder.List(ctx)
	res := Snapshot(ctx, cf, s, entries, Options{Quick: true})
	if !res.OK {
		t.Fatalf("quick on an intact snapshot: %+v", res.Problems)
	}
	total := s.Size()
	if cf.Bytes()*10 > total {
		t.Errorf("quick read %d of %d bytes (more than 10%%)", cf.Bytes(), total)
	}
	cf.Reset()
	if res := Snapshot(ctx, cf, s, entries, Options{}); !res.OK || cf.Bytes() < dataBytes(s) {
		t.Fatalf("full verify read %d of the data files' %d bytes, ok=%v", cf.Bytes(), dataBytes(s), res.OK)
	}

	// A byte flipped in the middle of the big table's data.
	var big string
	for _, tb := range s.Manifest.Tables {
		if tb.Name == "big" {
			big = filepath.Join(folder.Dir, tb.File)
		}
	}
	b, _ := os.ReadFile(big)
	b[len(b)/3] ^= 0x01
	os.WriteFile(big, b, 0o644)
	if res := Snapshot(ctx, folder, s, entries, Options{Quick: true}); !res.OK {
		t.Errorf("quick saw a flipped data byte; it claims not to read data pages: %+v", res.Problems)
	}
	if res := Snapshot(ctx, folder, s, entries, Options{}); res.OK {
		t.Errorf("the full check missed a flipped byte")
	}
	// Truncated: quick sees it.
	os.WriteFile(big, b[:len(b)-100], 0o644)
	entries, _ = folder.List(ctx)
	if res := Snapshot(ctx, folder, s, entries, Options{Quick: true}); res.OK {
		t.Errorf("quick missed a truncated file")
	}
}
