package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/mem"
)

// countingFolder counts the ledger's reads and writes of the folder it
// wraps, and can refuse every compare-and-swap with refuse.
type countingFolder struct {
	storage.Folder
	opens, reads, swaps, replaces atomic.Int64
	refuse                        error
}

func (c *countingFolder) Open(ctx context.Context, name string) (storage.File, error) {
	c.opens.Add(1)
	return c.Folder.Open(ctx, name)
}

func (c *countingFolder) ReadVersion(ctx context.Context, name string, limit int64) ([]byte, storage.Version, error) {
	c.reads.Add(1)
	sw, _ := storage.SwapperOf(c.Folder)
	return sw.ReadVersion(ctx, name, limit)
}

func (c *countingFolder) ReplaceIf(ctx context.Context, name string, data []byte, v storage.Version) error {
	c.swaps.Add(1)
	if c.refuse != nil {
		return c.refuse
	}
	sw, _ := storage.SwapperOf(c.Folder)
	return sw.ReplaceIf(ctx, name, data, v)
}

func (c *countingFolder) Replace(ctx context.Context, name string, data []byte) error {
	c.replaces.Add(1)
	rp, _ := storage.ReplacerOf(c.Folder)
	return rp.Replace(ctx, name, data)
}

func (c *countingFolder) counts() string {
	return fmt.Sprintf("opens %d, reads %d, swaps %d, replaces %d", c.opens.Load(), c.reads.Load(), c.swaps.Load(), c.replaces.Load())
}

func (c *countingFolder) reset() {
	c.opens.Store(0)
	c.reads.Store(0)
	c.swaps.Store(0)
	c.replaces.Store(0)
}

// casFolders are a local folder and one in memory, each wrapped to count.
func casFolders(t *testing.T) map[string]*countingFolder {
	t.Helper()
	lf, _ := ledgerFolder(t, "Chocoboflor")
	r, err := mem.NewStore().Root("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	mf, err := r.Folder(context.Background(), "Chocoboflor", true)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*countingFolder{"local": {Folder: lf}, "mem": {Folder: mf}}
}

// snapDelta is a run's checks of snapshot id (one file of it).
func snapDelta(id string, c byte) *Ledger {
	d := NewLedger("Chocoboflor")
	d.Record("match_stats_"+id+".parquet", ledgerTable(c, 100), ledgerWritten, ledgerNow, DepthHash, "")
	d.RecordSnapshot(id, ledgerNow, DepthHash, nil)
	return d
}

func loadOf(t *testing.T, f storage.Folder) *Ledger {
	t.Helper()
	l, err := LoadLedger(context.Background(), f, FolderName(f.Location()), nil)
	if err != nil {
		t.Fatalf("load the ledger: %v", err)
	}
	return l
}

// TestUpdateLedgerFromSavesWithOneWrite: a verify that read the ledger
// at its start saves with one compare-and-swap, no read and no parse,
// when nobody wrote it since; the ledger it consulted stays as it was.
func TestUpdateLedgerFromSavesWithOneWrite(t *testing.T) {
	ctx := context.Background()
	for name, f := range casFolders(t) {
		t.Run(name, func(t *testing.T) {
			first := snapDelta("20260201_100000", 'a')
			if err := UpdateLedger(ctx, f, nil, nil, first, ledgerNow); err != nil {
				t.Fatal(err)
			}
			base, err := PrefetchLedger(ctx, f, nil)(nil)
			if err != nil || len(base.Files) != 1 {
				t.Fatalf("prefetch: %v %v", base, err)
			}
			f.reset()
			if err := UpdateLedgerFrom(ctx, f, nil, nil, base, snapDelta("20260202_100000", 'b'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			if got := f.counts(); got != "opens 0, reads 0, swaps 1, replaces 0" {
				t.Fatalf("a save from a fresh base made %s; want one swap and nothing else", got)
			}
			if len(base.Files) != 1 || len(base.Snapshots) != 1 {
				t.Fatalf("the save changed the base ledger: %v", base.LedgerFiles())
			}
			if l := loadOf(t, f); len(l.Files) != 2 || len(l.Snapshots) != 2 {
				t.Fatalf("saved %v %v", l.LedgerFiles(), l.Snapshots)
			}
			// A base covering the run writes nothing.
			base, _ = PrefetchLedger(ctx, f, nil)(nil)
			f.reset()
			if err := UpdateLedgerFrom(ctx, f, nil, nil, base, snapDelta("20260202_100000", 'b'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			if got := f.counts(); got != "opens 0, reads 0, swaps 0, replaces 0" {
				t.Fatalf("a save with nothing new made %s", got)
			}
		})
	}
}

// TestUpdateLedgerFromKeepsRacingRecords: two verifies read the ledger at
// their starts and finish one after the other; the second's swap is
// refused, it reads the first's ledger, merges and saves: both
// snapshots' records are in the ledger. Before compare-and-swap the
// second write dropped the first's records.
func TestUpdateLedgerFromKeepsRacingRecords(t *testing.T) {
	ctx := context.Background()
	for _, start := range []string{"none", "stored", "untrusted"} {
		for name, f := range casFolders(t) {
			t.Run(start+"/"+name, func(t *testing.T) {
				switch start {
				case "stored":
					if err := UpdateLedger(ctx, f, nil, nil, snapDelta("20260101_100000", 'c'), ledgerNow); err != nil {
						t.Fatal(err)
					}
				case "untrusted":
					if err := f.Remove(ctx, LedgerName); err != nil {
						t.Fatal(err)
					}
					if err := f.WriteFile(ctx, LedgerName, []byte("{garbage")); err != nil {
						t.Fatal(err)
					}
				}
				a, errA := PrefetchLedger(ctx, f, nil)(nil)
				b, errB := PrefetchLedger(ctx, f, nil)(nil)
				if (start == "untrusted") != (errA != nil && errB != nil) {
					t.Fatalf("%s: prefetch said %v, %v", start, errA, errB)
				}
				f.reset()
				if err := UpdateLedgerFrom(ctx, f, nil, nil, a, snapDelta("20260201_100000", 'a'), ledgerNow); err != nil {
					t.Fatal(err)
				}
				if err := UpdateLedgerFrom(ctx, f, nil, nil, b, snapDelta("20260202_100000", 'b'), ledgerNow); err != nil {
					t.Fatal(err)
				}
				if got := f.counts(); got != "opens 0, reads 1, swaps 3, replaces 0" {
					t.Errorf("%s: the two saves made %s; want a swap each, one refused, then a read and a swap", start, got)
				}
				l := loadOf(t, f)
				for _, id := range []string{"20260201_100000", "20260202_100000"} {
					if _, ok := l.Snapshots[id]; !ok {
						t.Errorf("%s: the record of %s was lost: %v", start, id, l.Snapshots)
					}
				}
				if _, ok := l.Snapshots["20260101_100000"]; ok != (start == "stored") {
					t.Errorf("%s: the stored record is there: %v", start, ok)
				}
			})
		}
	}
}

// TestUpdateLedgerFromConcurrentSavers: savers on handles of their own,
// all from one version, at once: every record is kept.
func TestUpdateLedgerFromConcurrentSavers(t *testing.T) {
	ctx := context.Background()
	const savers = 6
	for name, f := range casFolders(t) {
		t.Run(name, func(t *testing.T) {
			if err := UpdateLedger(ctx, f, nil, nil, snapDelta("20260101_100000", 'c'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			bases := make([]*Ledger, savers)
			for i := range bases {
				bases[i], _ = PrefetchLedger(ctx, f, nil)(nil)
			}
			var wg sync.WaitGroup
			errs := make([]error, savers)
			for i := range savers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("202602%02d_100000", i+1)
					errs[i] = UpdateLedgerFrom(ctx, f, nil, nil, bases[i], snapDelta(id, byte('a'+i)), ledgerNow)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			l := loadOf(t, f)
			if len(l.Snapshots) != savers+1 || len(l.Files) != savers+1 {
				t.Fatalf("after %d concurrent saves: %v, files %v (%s)", savers, l.Snapshots, l.LedgerFiles(), f.counts())
			}
			t.Log(f.counts())
		})
	}
}

// TestUpdateLedgerFromWithoutSwaps: a store that cannot compare (an S3
// clone ignoring If-Match) makes the save read the ledger again and
// replace it plainly, as before compare-and-swap; a ledger that keeps
// changing ends the retries with an error after ledgerAttempts.
func TestUpdateLedgerFromWithoutSwaps(t *testing.T) {
	ctx := context.Background()
	for name, f := range casFolders(t) {
		t.Run(name, func(t *testing.T) {
			if err := UpdateLedger(ctx, f, nil, nil, snapDelta("20260201_100000", 'a'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			base, _ := PrefetchLedger(ctx, f, nil)(nil)
			// Another process saves after base was read.
			if err := UpdateLedger(ctx, f, nil, nil, snapDelta("20260202_100000", 'b'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			f.reset()
			f.refuse = fmt.Errorf("probe: %w", storage.ErrUnsupported)
			if err := UpdateLedgerFrom(ctx, f, nil, nil, base, snapDelta("20260203_100000", 'c'), ledgerNow); err != nil {
				t.Fatal(err)
			}
			if got := f.counts(); got != "opens 0, reads 1, swaps 1, replaces 1" {
				t.Errorf("a save without swaps made %s; want the refused swap, a fresh read and a replace", got)
			}
			if l := loadOf(t, f); len(l.Snapshots) != 3 {
				t.Fatalf("the fresh read's records were lost: %v", l.Snapshots)
			}
			f.reset()
			f.refuse = fmt.Errorf("412: %w", storage.ErrChanged)
			err := UpdateLedgerFrom(ctx, f, nil, nil, base, snapDelta("20260204_100000", 'd'), ledgerNow)
			if !errors.Is(err, storage.ErrChanged) || !strings.Contains(err.Error(), "tries") {
				t.Fatalf("a ledger that always changed: %v", err)
			}
			if n := f.swaps.Load(); n != ledgerAttempts {
				t.Fatalf("%d swaps tried, want %d", n, ledgerAttempts)
			}
			f.refuse = nil
		})
	}
}

// TestLocalSwapLeavesNoFiles: a local folder's compare-and-swap leaves
// only the ledger: no temporary, no lock file of its own.
func TestLocalSwapLeavesNoFiles(t *testing.T) {
	ctx := context.Background()
	f, dir := ledgerFolder(t, "Chocoboflor")
	for i := range 3 {
		base, _ := PrefetchLedger(ctx, f, nil)(nil)
		if err := UpdateLedgerFrom(ctx, f, nil, nil, base, snapDelta(fmt.Sprintf("2026020%d_100000", i+1), 'a'), ledgerNow.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if fmt.Sprint(names) != "["+LedgerName+"]" {
		t.Fatalf("the folder holds %q", names)
	}
	if _, err := os.Stat(filepath.Join(dir, storage.ReplaceLockName)); !os.IsNotExist(err) {
		t.Fatalf("the replace lock stayed: %v", err)
	}
}
