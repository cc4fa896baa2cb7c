package snapshot_test

// Tests of what a folder whose snapshots share files does on scan,
// removal and recovery, on real snapshots rewritten as incremental
// backups write them (an external package, to use internal/backup).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// shared makes snapshots A, B and C of a growing table log and a fixed
// table; B and C name A's fixed, B's log is A's file plus one of B's, C's
// log is B's files plus one of C's.
func shared(t *testing.T) (*local.Folder, string, string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE log (n INTEGER)`, `INSERT INTO log SELECT range FROM range(30)`,
		`CREATE TABLE fixed AS SELECT range AS id FROM range(5)`)
	f, err := local.OpenFolder(filepath.Join(dir, "backups", "X"), true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for k := 0; k < 3; k++ {
		if k > 0 {
			testutil.WriteDB(t, src, `INSERT INTO log SELECT range FROM range(7)`)
		}
		res, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: "X", Folder: f, CompressionLevel: 3,
			Time: time.Date(2025, 3, 1+k, 10, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
		if k > 0 {
			testutil.ShareRows(t, f.Dir, ids[0], res.ID, "fixed", nil)
			testutil.ShareRows(t, f.Dir, ids[k-1], res.ID, "log", nil)
		}
	}
	return f, ids[0], ids[1], ids[2]
}

func scan(t *testing.T, f *local.Folder) []snapshot.Info {
	t.Helper()
	snaps, err := snapshot.Scan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

// intact verifies every snapshot of f and returns the ids of those that
// verify.
func intact(t *testing.T, f *local.Folder) []string {
	t.Helper()
	ctx := context.Background()
	snaps := scan(t, f)
	entries, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ok []string
	for _, r := range verify.Folder(ctx, f, snaps, entries, verify.FolderOptions{}).Results {
		if r.OK {
			ok = append(ok, r.Snapshot)
		} else {
			t.Logf("snapshot %s (%s): %+v", r.Snapshot, r.Status, r.Problems)
		}
	}
	return ok
}

func find(t *testing.T, snaps []snapshot.Info, id string) snapshot.Info {
	t.Helper()
	s, err := snapshot.Find(snaps, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// names lists f but for its ledger, which backup writes.
func names(t *testing.T, f *local.Folder) []string {
	var out []string
	for _, n := range testutil.Names(t, f.Dir) {
		if !strings.HasPrefix(n, ".statsnap-ledger") {
			out = append(out, n)
		}
	}
	return out
}

func TestScanSharedFilesOfARemovedSnapshot(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	snaps := scan(t, f)
	// B's files are A's two plus its own part; C lists the same three
	// plus its own.
	if got := len(find(t, snaps, b).Files); got != 3 {
		t.Errorf("B has %d files", got)
	}
	if got := len(find(t, snaps, c).Files); got != 4 {
		t.Errorf("C has %d files", got)
	}
	if sa, sc := find(t, snaps, a), find(t, snaps, c); sc.Size() <= sa.Size() {
		t.Errorf("C's size %d counts the files it shares: want more than A's %d", sc.Size(), sa.Size())
	}

	// Every file of A is shared: removing A deletes its manifest only.
	removed, err := snapshot.Remove(ctx, f, find(t, snaps, a), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{snapshot.ManifestName(a)}) {
		t.Errorf("removing A deleted %v", removed)
	}
	snaps = scan(t, f)
	if len(snaps) != 2 || snaps[0].ID != b || snaps[1].ID != c {
		t.Fatalf("after removing A: %+v (A's files shared by B must not make a bare snapshot)", snaps)
	}
	if got := intact(t, f); !slices.Equal(got, []string{b, c}) {
		t.Errorf("intact after removing A: %v", got)
	}

	// A file carrying A's id that no manifest names is a bare snapshot
	// of its own, and only it is.
	stray := "other_" + a + ".parquet"
	testutil.CopyFile(t, filepath.Join(f.Dir, "fixed_"+a+".parquet"), filepath.Join(f.Dir, stray))
	snaps = scan(t, f)
	sa := find(t, snaps, a)
	if sa.Status != snapshot.StatusBare || len(sa.Files) != 1 || sa.Files[0].Name != stray {
		t.Errorf("stray file: %+v", sa)
	}

	// Removing B now frees only what C does not name: nothing but its
	// manifest. Removing C then frees everything left.
	if removed, err = snapshot.Remove(ctx, f, find(t, snaps, b), nil); err != nil || len(removed) != 1 {
		t.Errorf("removing B: %v, %v", removed, err)
	}
	if removed, err = snapshot.Remove(ctx, f, find(t, scan(t, f), c), nil); err != nil || len(removed) != 5 {
		t.Errorf("removing C: %v, %v", removed, err)
	}
	if got := names(t, f); !slices.Equal(got, []string{stray}) {
		t.Errorf("left %v", got)
	}
}

func writeJournal(t *testing.T, f *local.Folder, name, id string, files []string) {
	t.Helper()
	data, err := json.Marshal(map[string]any{"snapshot": id, "files": files})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverChecksARemovalAgainstTheManifestsNow(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	// A removal journal of B that lists every file B names, as if written
	// when nothing else named them, and B's manifest already gone: C
	// names all of them, so finishing the removal deletes none.
	bFiles := find(t, scan(t, f), b).Manifest.FileNames()
	writeJournal(t, f, snapshot.RemovingName(b), b, append(slices.Clone(bFiles), snapshot.ManifestName(b)))
	if err := os.Remove(filepath.Join(f.Dir, snapshot.ManifestName(b))); err != nil {
		t.Fatal(err)
	}
	cl, err := snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Removed, []string{snapshot.RemovingName(b)}) || len(cl.Skipped) != 0 {
		t.Errorf("recover: %+v", cl)
	}
	if got := intact(t, f); !slices.Equal(got, []string{a, c}) {
		t.Errorf("intact: %v", got)
	}
}

func TestRecoverKeepsWhatAnUnreadableManifestMayName(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	// C is removed and its removal cut short; a damaged manifest of a
	// later snapshot may name C's part: it stays, and so does the
	// journal, until the damaged manifest is dealt with.
	snaps := scan(t, f)
	own := find(t, snaps, c).Manifest.Tables["log"].Files[2].File
	writeJournal(t, f, snapshot.RemovingName(c), c, []string{own, snapshot.ManifestName(c)})
	damaged := snapshot.ManifestName("20250401_100000")
	if err := os.WriteFile(filepath.Join(f.Dir, damaged), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	cl, err := snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Removed, []string{snapshot.ManifestName(c)}) || len(cl.Skipped) != 1 || !strings.Contains(cl.Skipped[0], damaged) {
		t.Errorf("recover with a damaged manifest: %+v", cl)
	}
	if got := names(t, f); !slices.Contains(got, own) || !slices.Contains(got, snapshot.RemovingName(c)) {
		t.Errorf("left %v", got)
	}
	if s := find(t, scan(t, f), c); s.Status != snapshot.StatusIncomplete {
		t.Errorf("C is %s, want incomplete", s.Status)
	}
	if err := os.Remove(filepath.Join(f.Dir, damaged)); err != nil {
		t.Fatal(err)
	}
	cl, err = snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Removed, []string{own, snapshot.RemovingName(c)}) {
		t.Errorf("recover once repaired: %+v", cl)
	}
	if got := intact(t, f); !slices.Equal(got, []string{a, b}) {
		t.Errorf("intact: %v", got)
	}
}

func TestRecoverInterruptedBackupLeavesSharedFiles(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	// An incremental backup D was killed before its manifest: its journal
	// lists only the files it writes (its own part of log), never A's and
	// C's files its manifest was going to name.
	d := "20250305_100000"
	own := snapshot.PartFileName("log_"+d+".parquet", 1)
	testutil.CopyFile(t, filepath.Join(f.Dir, "log_"+a+".parquet"), filepath.Join(f.Dir, own))
	writeJournal(t, f, snapshot.PendingName(d), d, []string{own, snapshot.ManifestName(d)})
	before := names(t, f)
	cl, err := snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Removed, []string{own, snapshot.PendingName(d)}) {
		t.Errorf("recover: %+v", cl)
	}
	after := names(t, f)
	for _, n := range before {
		if n != own && n != snapshot.PendingName(d) && !slices.Contains(after, n) {
			t.Errorf("%s was removed", n)
		}
	}
	if got := intact(t, f); !slices.Equal(got, []string{a, b, c}) {
		t.Errorf("intact: %v", got)
	}

	// A backup journal claiming another snapshot's file is unusable:
	// nothing it lists goes.
	writeJournal(t, f, snapshot.PendingName(d), d, []string{"fixed_" + a + ".parquet"})
	cl, err = snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Removed) != 0 || len(cl.Skipped) != 1 {
		t.Errorf("recover with a hostile journal: %+v", cl)
	}
	if got := intact(t, f); !slices.Equal(got, []string{a, b, c}) {
		t.Errorf("intact: %v", got)
	}
}

func TestScanGivesARemovalItsLeftoversOfEarlierSnapshots(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	// B was removed (its files stayed, C named them), then C's removal
	// was cut short after its manifest went: its journal lists B's part,
	// which only C still named, and its own.
	bPart := snapshot.PartFileName("log_"+b+".parquet", 1)
	cPart := snapshot.PartFileName("log_"+c+".parquet", 1)
	writeJournal(t, f, snapshot.RemovingName(c), c, []string{bPart, cPart, snapshot.ManifestName(c)})
	for _, id := range []string{b, c} {
		if err := os.Remove(filepath.Join(f.Dir, snapshot.ManifestName(id))); err != nil {
			t.Fatal(err)
		}
	}
	snaps := scan(t, f)
	if len(snaps) != 2 || snaps[0].ID != a || snaps[1].ID != c || snaps[1].Status != snapshot.StatusIncomplete {
		t.Fatalf("scan: %+v (B's part is the removal's leftover, not a bare snapshot)", snaps)
	}
	if got := len(snaps[1].Files); got != 2 {
		t.Errorf("the removal has %d leftover files, want 2", got)
	}
	cl, err := snapshot.Recover(ctx, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cl.Removed, []string{bPart, cPart, snapshot.RemovingName(c)}) {
		t.Errorf("recover: %+v", cl)
	}
	if got := intact(t, f); !slices.Equal(got, []string{a}) {
		t.Errorf("intact: %v", got)
	}
}
