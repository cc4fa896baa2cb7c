package storagetest

import (
	"context"
	"sync/atomic"

	"github.com/openspartan/statsnap/internal/storage"
)

// Counting wraps a folder and counts what is read from the files opened
// through it: the bytes streamed (Read), and the ranged reads (ReadAt)
// and their bytes. On an object store each ranged read is a request, so
// the tests of verify and the benchmark's --quick share use it to tell
// what a check costs. It hides the folder's optional interfaces.
type Counting struct {
	storage.Folder
	Streamed    atomic.Int64 // bytes read by Read
	Ranged      atomic.Int64 // calls to ReadAt
	RangedBytes atomic.Int64 // bytes read by ReadAt
}

// Bytes is every byte read through the folder so far.
func (c *Counting) Bytes() int64 { return c.Streamed.Load() + c.RangedBytes.Load() }

// Reset sets every count back to zero.
func (c *Counting) Reset() {
	c.Streamed.Store(0)
	c.Ranged.Store(0)
	c.RangedBytes.Store(0)
}

// Open opens name in the wrapped folder and counts its reads.
func (c *Counting) Open(ctx context.Context, name string) (storage.File, error) {
	f, err := c.Folder.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c}, nil
}

type countingFile struct {
	storage.File
	c *Counting
}

func (f countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.c.Streamed.Add(int64(n))
	return n, err
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.c.Ranged.Add(1)
	n, err := f.File.ReadAt(p, off)
	f.c.RangedBytes.Add(int64(n))
	return n, err
}
