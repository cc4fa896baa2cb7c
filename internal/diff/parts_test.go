package diff_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/diff"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/verify"
)

// A table held in two files, and one that names an earlier snapshot's
// file (as incremental backups write them): their copies are verified
// file by file and read in order.
func TestRowsAcrossPartsAndSharedFiles(t *testing.T) {
	f := newFixture(t)
	dir := f.folder.Location()
	testutil.SplitTable(t, dir, f.b.ID, "grows", 20, nil)
	testutil.ShareTable(t, dir, f.b.ID, f.a.ID, "same", nil)
	f.rescan(t)
	if n := len(f.b.Manifest.Tables["grows"].DataFiles()); n != 2 {
		t.Fatalf("grows has %d files", n)
	}

	r := diff.Compare(side(f.a), side(f.b))
	if got := byTable(r); got["grows"].RowsDelta != 3 {
		t.Errorf("grows: %+v", got["grows"])
	}
	if strings.Join(r.Unchanged, ",") != "extra.kept,same" {
		t.Errorf("unchanged = %v (same shares a's file)", r.Unchanged)
	}

	paths, _, err := diff.Check(context.Background(), f.folder, f.b, f.entries, []string{"grows"}, t.TempDir(), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths["grows"]) != 2 {
		t.Fatalf("copies of grows: %v", paths["grows"])
	}
	rows := rowsOf(t, f, "grows")
	if rows.AddedCount != 3 || rows.RemovedCount != 0 {
		t.Errorf("grows across two files: %+v", rows)
	}
	if rows = rowsOf(t, f, "same"); rows.AddedCount != 0 || rows.RemovedCount != 0 {
		t.Errorf("same, shared: %+v", rows)
	}

	// The second file damaged: refused, though the first is intact.
	testutil.FlipByte(t, filepath.Join(dir, f.b.Manifest.Tables["grows"].Files[1].File))
	_, _, err = diff.Check(context.Background(), f.folder, f.b, f.entries, []string{"grows"}, t.TempDir(), verify.Options{})
	var ie *diff.IntegrityError
	if !errors.As(err, &ie) || ie.Problems[0].File != f.b.Manifest.Tables["grows"].Files[1].File {
		t.Errorf("damaged second file: %v", err)
	}
}
