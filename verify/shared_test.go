package verify

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup/backuptest"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// openCounter counts how often each file is opened.
type openCounter struct {
	storage.Folder
	mu     sync.Mutex
	opened map[string]int
}

func (c *openCounter) Open(ctx context.Context, name string) (storage.File, error) {
	c.mu.Lock()
	c.opened[name]++
	c.mu.Unlock()
	return c.Folder.Open(ctx, name)
}

func (c *openCounter) reset() {
	c.mu.Lock()
	c.opened = map[string]int{}
	c.mu.Unlock()
}

// sharedFolder makes n snapshots of a database whose table log grows by
// 10 rows between snapshots and whose table fixed never changes, then
// rewrites them as incremental backups do: every snapshot's fixed is the
// first snapshot's file, and snapshot k's log is the files of snapshot
// k-1 plus one of its own. It returns the folder and the ids, oldest
// first.
func sharedFolder(t *testing.T, n int) (*local.Folder, []string) {
	t.Helper()
	folder, ids, _ := backuptest.GrowingSnapshots(t, "p", time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), n)
	for k := 1; k < n; k++ {
		testutil.ShareRows(t, folder.Dir, ids[0], ids[k], "fixed", nil)
		testutil.ShareRows(t, folder.Dir, ids[k-1], ids[k], "log", nil)
	}
	return folder, ids
}

func scanAll(t *testing.T, f storage.Folder) ([]snapshot.Info, []storage.Entry) {
	t.Helper()
	snaps, err := snapshot.Scan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snaps, entries
}

func TestFolderReadsEachSharedFileOnce(t *testing.T) {
	const n = 10
	folder, ids := sharedFolder(t, n)
	ctx := context.Background()
	snaps, entries := scanAll(t, folder)
	if len(snaps) != n {
		t.Fatalf("%d snapshots, want %d", len(snaps), n)
	}
	last := testutil.ReadManifest(t, folder.Dir, ids[n-1])
	if got := len(last.Tables["log"].Files); got != n {
		t.Fatalf("the last snapshot's log has %d files, want %d", got, n)
	}
	distinct := map[string]bool{}
	for _, s := range snaps {
		for _, name := range s.Manifest.FileNames() {
			distinct[name] = true
		}
	}
	// fixed: one file; log: one file per snapshot.
	if len(distinct) != n+1 {
		t.Fatalf("%d distinct files, want %d", len(distinct), n+1)
	}

	cf := &openCounter{Folder: folder, opened: map[string]int{}}
	for _, opt := range []Options{{}, {Deep: true}, {Quick: true}} {
		cf.reset()
		fr := Folder(ctx, cf, snaps, entries, FolderOptions{Options: opt})
		for name := range distinct {
			if cf.opened[name] != 1 {
				t.Errorf("%+v: %s opened %d times, want once", opt, name, cf.opened[name])
			}
		}
		for i, r := range fr.Results {
			// Snapshot k names fixed's one file and k+1 files of log.
			if !r.OK || len(r.Files) != i+2 {
				t.Errorf("%+v: snapshot %s: ok %v, %d files, problems %+v", opt, r.Snapshot, r.OK, len(r.Files), r.Problems)
			}
		}
		if fr.Coverage.Files != n+1 || fr.Coverage.ReadFiles != n+1 {
			t.Errorf("%+v: coverage %+v, want %d files read", opt, fr.Coverage, n+1)
		}
		if len(fr.Delta.Files) != n+1 {
			t.Errorf("%+v: the ledger delta records %d files, want %d", opt, len(fr.Delta.Files), n+1)
		}
	}

	// The ledger records each file once, and stands for it in every
	// snapshot naming it: a run within --max-age reads nothing.
	fr := Folder(ctx, folder, snaps, entries, FolderOptions{})
	cf.reset()
	again := Folder(ctx, cf, snaps, entries, FolderOptions{Ledger: fr.Delta, MaxAge: time.Hour})
	for name := range distinct {
		if cf.opened[name] != 0 {
			t.Errorf("with the ledger, %s was opened %d times", name, cf.opened[name])
		}
	}
	for _, r := range again.Results {
		if !r.OK {
			t.Errorf("snapshot %s from the ledger: %+v", r.Snapshot, r.Problems)
		}
		for _, f := range r.Files {
			if f.Source != "ledger" {
				t.Errorf("snapshot %s: %s source %q", r.Snapshot, f.File, f.Source)
			}
		}
	}

	// A budget of one byte reads one file, the rest is deferred; a file
	// shared by every snapshot counts once.
	cf.reset()
	budgeted := Folder(ctx, cf, snaps, entries, FolderOptions{Budget: Budget{Bytes: 1}})
	if budgeted.Coverage.ReadFiles != 1 || budgeted.Coverage.DeferredFiles != n {
		t.Errorf("budget: coverage %+v", budgeted.Coverage)
	}
}

func TestFolderReportsADamagedSharedFileInEverySnapshot(t *testing.T) {
	const n = 4
	folder, ids := sharedFolder(t, n)
	ctx := context.Background()
	shared := "fixed_" + ids[0] + ".parquet"
	testutil.FlipByte(t, filepath.Join(folder.Dir, shared))
	snaps, entries := scanAll(t, folder)
	cf := &openCounter{Folder: folder, opened: map[string]int{}}
	fr := Folder(ctx, cf, snaps, entries, FolderOptions{})
	if cf.opened[shared] != 1 {
		t.Errorf("%s opened %d times", shared, cf.opened[shared])
	}
	onlyShared := func(r Result) bool {
		if r.OK || len(r.Problems) == 0 || r.Problems[0].Kind != KindHashMismatch {
			return false
		}
		for _, p := range r.Problems {
			if p.File != shared || p.Table != "fixed" {
				return false
			}
		}
		return true
	}
	for _, r := range fr.Results {
		if !onlyShared(r) {
			t.Errorf("snapshot %s: %+v", r.Snapshot, r.Problems)
		}
	}
	// One snapshot alone says the same.
	s, _ := snapshot.Find(snaps, ids[n-1])
	if r := Snapshot(ctx, folder, s, entries, Options{}); !onlyShared(r) {
		t.Errorf("Snapshot: %+v", r.Problems)
	}
}

func TestVerifyChecksEachPart(t *testing.T) {
	folder, ids := sharedFolder(t, 3)
	ctx := context.Background()
	id := ids[2]
	m := testutil.ReadManifest(t, folder.Dir, id)
	log := m.Tables["log"]

	// The rows of the parts add up, but one moved to another part: both
	// footers disagree with the manifest.
	moved := append([]snapshot.Part(nil), log.Files...)
	moved[0].Rows++
	moved[1].Rows--
	m2 := testutil.ReadManifest(t, folder.Dir, id)
	testutil.SetParts(m2, "log", moved)
	testutil.WriteManifest(t, folder.Dir, m2, nil)
	snaps, entries := scanAll(t, folder)
	s, _ := snapshot.Find(snaps, id)
	r := Snapshot(ctx, folder, s, entries, Options{})
	if kinds(r.Problems) != "rows_mismatch,rows_mismatch" || r.Problems[0].File != moved[0].File || r.Problems[1].File != moved[1].File {
		t.Errorf("moved row: %+v", r.Problems)
	}
	testutil.WriteManifest(t, folder.Dir, m, nil)

	// A part of another schema, recorded with its true hash and size:
	// only the schema check catches it.
	own := log.Files[len(log.Files)-1]
	path := filepath.Join(folder.Dir, own.File)
	db := testutil.OpenDB(t, ":memory:", true)
	if _, err := db.Exec("COPY (SELECT n::BIGINT AS n, s FROM read_parquet(" + sqlq.Literal(path) + ")) TO " +
		sqlq.Literal(path+".tmp") + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]snapshot.Part(nil), log.Files...)
	forged[len(forged)-1].FileSizeBytes = fi.Size()
	forged[len(forged)-1].BLAKE3 = testutil.FileBLAKE3(t, path)
	testutil.SetParts(m, "log", forged)
	testutil.WriteManifest(t, folder.Dir, m, nil)
	snaps, entries = scanAll(t, folder)
	s, _ = snapshot.Find(snaps, id)
	r = Snapshot(ctx, folder, s, entries, Options{})
	if kinds(r.Problems) != "schema_mismatch" || r.Problems[0].File != own.File {
		t.Errorf("part of another schema: %+v", r.Problems)
	}
	// The earlier snapshots do not name that file and still verify.
	for _, early := range ids[:2] {
		s, _ := snapshot.Find(snaps, early)
		if r := Snapshot(ctx, folder, s, entries, Options{}); !r.OK {
			t.Errorf("snapshot %s: %+v", early, r.Problems)
		}
	}
}

func TestVerifyRefusesAPartOfALaterSnapshot(t *testing.T) {
	folder, ids := sharedFolder(t, 2)
	ctx := context.Background()
	snaps, entries := scanAll(t, folder)
	// A manifest may name files of its snapshot or earlier ones, never
	// later ones: verify must refuse one that does even if the parser let
	// it through.
	s, _ := snapshot.Find(snaps, ids[0])
	later := testutil.ReadManifest(t, folder.Dir, ids[1]).Tables["log"].Files[1]
	t0 := s.Manifest.Tables["log"]
	t0.Files = []snapshot.Part{{File: t0.File, Rows: t0.Rows - 10, FileSizeBytes: t0.FileSizeBytes, BLAKE3: t0.BLAKE3}, later}
	t0.Files[1].Rows = 10
	t0.FileSizeBytes += later.FileSizeBytes
	r := Snapshot(ctx, folder, s, entries, Options{})
	found := false
	for _, p := range r.Problems {
		if p.Kind == KindManifestCorrupt && p.File == later.File {
			found = true
		}
	}
	if !found {
		t.Errorf("a part of a later snapshot was accepted: %+v", r.Problems)
	}
}

func TestUnexpectedFileIsNotOneAnotherManifestNames(t *testing.T) {
	folder, ids := sharedFolder(t, 2)
	ctx := context.Background()
	// A file carrying the first snapshot's id that only the second names
	// (hand-made, but what "unexpected" must consider): not unexpected.
	m := testutil.ReadManifest(t, folder.Dir, ids[1])
	extra := "extra_" + ids[0] + ".parquet"
	testutil.CopyFile(t, filepath.Join(folder.Dir, m.Tables["fixed"].File), filepath.Join(folder.Dir, extra))
	p := m.Tables["fixed"].Files[0]
	p.File = extra
	testutil.SetParts(m, "fixed", []snapshot.Part{p})
	testutil.WriteManifest(t, folder.Dir, m, nil)
	snaps, entries := scanAll(t, folder)
	fr := Folder(ctx, folder, snaps, entries, FolderOptions{})
	for _, r := range fr.Results {
		if !r.OK {
			t.Errorf("snapshot %s: %+v", r.Snapshot, r.Problems)
		}
	}
	s, _ := snapshot.Find(snaps, ids[0])
	if r := Snapshot(ctx, folder, s, entries, Options{Named: snapshot.NamedFiles(snaps)}); !r.OK {
		t.Errorf("Snapshot with Named: %+v", r.Problems)
	}
	// Without knowing what other manifests name, it is unexpected.
	if r := Snapshot(ctx, folder, s, entries, Options{}); kinds(r.Problems) != "unexpected_file" || r.Problems[0].File != extra {
		t.Errorf("Snapshot without Named: %+v", r.Problems)
	}
	// A part name ({table}_{id}.{n}.parquet) nobody names is unexpected.
	stray := "log_" + ids[0] + ".7.parquet"
	testutil.CopyFile(t, filepath.Join(folder.Dir, extra), filepath.Join(folder.Dir, stray))
	snaps, entries = scanAll(t, folder)
	fr = Folder(ctx, folder, snaps, entries, FolderOptions{})
	if r := fr.Results[0]; kinds(r.Problems) != "unexpected_file" || r.Problems[0].File != stray || r.Problems[0].Table != "log" {
		t.Errorf("stray part: %+v", r.Problems)
	}
}
