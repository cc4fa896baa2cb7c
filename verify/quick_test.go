package verify

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
)

// countingFolder counts the bytes read from every file it opens.
type countingFolder struct {
	storage.Folder
	read *atomic.Int64
}

type countingFile struct {
	storage.File
	read *atomic.Int64
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}

func (c countingFolder) Open(ctx context.Context, name string) (storage.File, error) {
	f, err := c.Folder.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.read}, nil
}

// TestQuickReadsLittle: --quick reads the footers only, a small part of
// the snapshot's bytes, and still catches a truncated file; it does not
// see a byte flipped inside the data, which the full check does.
func TestQuickReadsLittle(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	var read atomic.Int64
	cf := countingFolder{folder, &read}
	entries, _ := folder.List(ctx)
	res := Snapshot(ctx, cf, s, entries, Options{Quick: true})
	if !res.OK {
		t.Fatalf("quick on an intact snapshot: %+v", res.Problems)
	}
	total := s.Size()
	if read.Load()*10 > total {
		t.Errorf("quick read %d of %d bytes (more than 10%%)", read.Load(), total)
	}
	read.Store(0)
	if res := Snapshot(ctx, cf, s, entries, Options{}); !res.OK || read.Load() < dataBytes(s) {
		t.Fatalf("full verify read %d of the data files' %d bytes, ok=%v", read.Load(), dataBytes(s), res.OK)
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
