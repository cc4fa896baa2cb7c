package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/dberr"
	"github.com/openspartan/statsnap/internal/parquetfile"
	"github.com/openspartan/statsnap/verify"
)

// ErrNoSpace marks a restore refused before it wrote anything because
// the target's disk has too little free space for it.
var ErrNoSpace = errors.New("not enough free space")

// SpaceError says how much a restore needs and how much there is.
type SpaceError struct {
	Dir         string
	Need, Avail int64
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("the disk holding %s is full for this restore: %d MiB free, about %d MiB needed (verified copies of the snapshot, then DuckDB's data and write-ahead log); free space or restore to another disk",
		e.Dir, e.Avail>>20, (e.Need+(1<<20)-1)>>20)
}

func (e *SpaceError) Unwrap() error { return ErrNoSpace }

// spaceNeeded is the free space a restore asks for before writing: the
// verified copies of every file of the snapshot (copied bytes; verify
// copies them all, whatever --tables chooses), then DuckDB's pages for
// the rows it loads (loaded bytes of Parquet: a sample player of 2,000
// matches, 2.85 MB of zstd Parquet, became a 13.9 MB database, 4.9
// times; 6 times leaves room for the write-ahead log), and a fixed margin
// for DuckDB's blocks and the catalog.
func spaceNeeded(copied, loaded int64) int64 { return copied + 6*loaded + 32<<20 }

// checkSpace refuses a restore that cannot fit in dir's file system.
func checkSpace(dir string, copied, loaded int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		// No answer is no reason to refuse; DuckDB's own errors remain.
		slog.Debug("free space unknown; restore goes on", "dir", dir, "err", err)
		return nil //nolint:nilerr // deliberate: see above
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if need := spaceNeeded(copied, loaded); avail < need {
		return &SpaceError{Dir: filepath.Dir(dir), Need: need, Avail: avail}
	}
	return nil
}

// headerBytes is DuckDB's file header: the main header and the two
// database headers, each one 4 KiB block, ahead of the first data block.
// A checkpoint rewrites one of them; a rolled-back transaction does not.
const headerBytes = 3 * 4096

// targetState is an existing target as it was before restore opened it.
type targetState struct {
	path   string
	size   int64
	header []byte
	wal    bool
}

// recordTarget notes an existing target's size and header.
func recordTarget(path string) (*targetState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, headerBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	_, werr := os.Lstat(path + ".wal")
	return &targetState{path: path, size: fi.Size(), header: head[:n], wal: werr == nil}, nil
}

// giveBack undoes what a failed, rolled-back restore did to the target's
// file once DuckDB has closed it: DuckDB writes large uncommitted row
// groups straight into the file ("optimistic writes"), which grows it
// even when the transaction rolls back (4 MiB for a primary-key
// conflict). When the header is the one recorded, no checkpoint ran, so
// nothing on disk refers past the old end: the file is cut back to its
// old size, and a write-ahead log that did not exist and is empty is
// removed. It reports whether the file is back to its old size.
func (t *targetState) giveBack() bool {
	if t == nil {
		return false
	}
	now, err := recordTarget(t.path)
	if err != nil || !bytes.Equal(now.header, t.header) {
		return false
	}
	if !t.wal {
		if fi, err := os.Lstat(t.path + ".wal"); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			os.Remove(t.path + ".wal")
		}
	}
	if now.size > t.size {
		if err := os.Truncate(t.path, t.size); err != nil {
			return false
		}
		if f, err := os.OpenFile(t.path, os.O_WRONLY, 0); err == nil {
			// The truncation is already done; a failed fsync only means it
			// may not survive a power cut, and the content is unchanged.
			if err := f.Sync(); err != nil {
				slog.Debug("fsync after giving space back", "path", t.path, "err", err)
			}
			f.Close()
		}
	}
	return now.size >= t.size
}

// MemoryLimit is DuckDB's memory_limit while restore loads rows, unless
// the files' row groups need more (memoryLimit); DuckDB spills what does
// not fit to the work folder.
const MemoryLimit = "2GB"

// decodeError is DuckDB failing to read a verified copy.
type decodeError struct {
	Table, File string
	Err         error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("load table %s: DuckDB cannot read %s: %v", e.Table, e.File, e.Err)
}

func (e *decodeError) Unwrap() error { return e.Err }

// undecodable reports whether err, from reading a verified copy, is the
// file's fault rather than the machine's: not an interruption, not memory,
// not the disk, not a key conflict.
func undecodable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	c := dberr.Classify(err)
	for _, op := range []error{dberr.ErrOutOfMemory, dberr.ErrConstraint, syscall.ENOSPC, syscall.EROFS, fs.ErrPermission} {
		if errors.Is(c, op) {
			return false
		}
	}
	return true
}

// decompressCopies decompresses every page of every verified copy and
// returns a problem for each file that does not, and the most bytes one
// row group of any of them decompresses to. Files are checked on every
// core at once, the largest first: one at a time left a core idle while
// nothing else runs (at 200,000 matches, 241 MB in 57 files: 1.3 s of the
// restore, about half of it once both cores decompress).
func decompressCopies(ctx context.Context, files []verify.FileResult) ([]verify.Problem, int64) {
	started := time.Now()
	order := make([]int, 0, len(files))
	for i, f := range files {
		if f.Copy != "" {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return files[order[a]].Size > files[order[b]].Size })
	type outcome struct {
		n   int64
		err error
	}
	out := make([]outcome, len(files))
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(order)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next == len(order) || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				i := order[next]
				next++
				mu.Unlock()
				n, err := func() (int64, error) {
					r, err := os.Open(files[i].Copy)
					if err != nil {
						return 0, err
					}
					defer r.Close()
					return parquetfile.Decompress(ctx, r)
				}()
				out[i] = outcome{n, err}
			}
		}()
	}
	wg.Wait()
	var ps []verify.Problem
	var largest int64
	for i, f := range files {
		if f.Copy == "" {
			continue
		}
		if err := out[i].err; err != nil && ctx.Err() == nil {
			ps = append(ps, verify.Problem{Table: f.Table, File: f.File, Kind: verify.KindUnreadable,
				Detail: fmt.Sprintf("%s does not decompress: %v", f.File, err)})
		}
		largest = max(largest, out[i].n)
	}
	slog.Debug("decompressed every page of the verified copies", "files", len(order), "took", time.Since(started))
	return ps, largest
}

// memoryLimit is DuckDB's memory_limit for loading files whose largest
// row group decompresses to rowGroup bytes: MemoryLimit, or four times
// that row group when more. DuckDB reads a row group's values at once, so
// a table of a few huge values needs a few times their size (two rows of
// 1 GiB strings failed under 6 GB and loaded under 8 GB). The size is
// what the pages really decompressed to, not what a footer claims.
func memoryLimit(rowGroup int64) string {
	const base = 2 << 30 // MemoryLimit
	if 4*rowGroup <= base {
		return MemoryLimit
	}
	return fmt.Sprintf("%dMiB", (4*rowGroup+(1<<20)-1)>>20)
}

// copiedBytes is the size of every file of the snapshot, each counted
// once: verify copies them all.
func (r *restoreRun) copiedBytes() int64 {
	var n int64
	for _, t := range r.c.tables {
		n += t.size
	}
	return n
}

// loadedBytes is the size of the files of the tables DuckDB will load:
// the chosen ones and the parents --with-dependencies brings.
func (r *restoreRun) loadedBytes() int64 {
	var n int64
	for _, t := range r.c.tables {
		if r.parents[t.key] {
			n += t.size
		}
	}
	for _, t := range r.tables {
		if !r.parents[t.key] {
			n += t.size
		}
	}
	return n
}
