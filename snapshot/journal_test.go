package snapshot_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/snapshot"
)

// shortWrite writes half of what it is given, then fails, as a write cut
// short by a full disk does.
type shortWrite struct{ *local.Folder }

func (s shortWrite) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := s.Folder.WriteFile(ctx, name, data[:len(data)/2]); err != nil {
		return err
	}
	return errors.New("no space left on device")
}

// TestJournalWholeOrAbsent: a backup's journal exists whole or not at
// all. A run killed between creating it and writing it once left an empty
// journal that no later run could read, so the snapshot's leftovers
// stayed for good (seen in TestIncrementalBackupKilled).
func TestJournalWholeOrAbsent(t *testing.T) {
	ctx := context.Background()
	f, err := local.OpenFolder(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	id := "20260101_030000"
	part := "log_" + id + ".parquet"
	left := func() []string {
		t.Helper()
		es, err := f.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}

	// What a run killed while writing its journal leaves: the journal's
	// temporary, empty, and no file of the snapshot.
	tmp := filepath.Join(f.Dir, ".statsnap-tmp-journal-pending-"+id)
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cl, err := snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 || !slices.Contains(cl.Removed, filepath.Base(tmp)) {
		t.Errorf("after recovering a torn journal: left %v, removed %v", got, cl.Removed)
	}

	// A write cut short never shows a journal.
	if err := snapshot.WritePending(ctx, shortWrite{f}, id, []string{part}); err == nil {
		t.Fatal("a short write was not reported")
	}
	if got := left(); len(got) != 0 {
		t.Errorf("a failed journal write left %v", got)
	}

	// A dead run's temporary does not block the journal of the next run
	// of the same snapshot, and that journal is read back whole.
	if err := os.WriteFile(tmp, []byte(`{"snap`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.WritePending(ctx, f, id, []string{part}); err != nil {
		t.Fatal(err)
	}
	if got := left(); !slices.Equal(got, []string{snapshot.PendingName(id)}) {
		t.Errorf("after writing the journal: %v", got)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, part), []byte("PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	cl, err = snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 || len(cl.Skipped) != 0 {
		t.Errorf("recover of the written journal: left %v, %+v", got, cl)
	}
}
