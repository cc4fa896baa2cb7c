package prune

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup/backuptest"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/retention"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// sharedSnaps makes three real snapshots A, B, C of a database whose log
// grows and whose fixed never changes, rewritten as incremental backups
// write them: B's log is A's file plus one of B's, C's log is C's own file
// (a full copy) and C's fixed is A's file; B's fixed is A's file too.
func sharedSnaps(t *testing.T) (*local.Folder, [3]string) {
	t.Helper()
	f, list, _ := backuptest.GrowingSnapshots(t, "X", time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC), 3)
	ids := [3]string(list)
	testutil.ShareRows(t, f.Dir, ids[0], ids[1], "fixed", nil)
	testutil.ShareRows(t, f.Dir, ids[0], ids[1], "log", nil)
	testutil.ShareRows(t, f.Dir, ids[0], ids[2], "fixed", nil)
	return f, ids
}

func file(table, id string) string { return table + "_" + id + ".parquet" }

func part(table, id string, n int) string {
	return snapshot.PartFileName(file(table, id), n)
}

// scan lists the snapshots of f.
func scan(t *testing.T, f storage.Folder) []snapshot.Info {
	t.Helper()
	snaps, err := snapshot.Scan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

func verifyAll(t *testing.T, f *local.Folder) map[string]bool {
	t.Helper()
	ctx := context.Background()
	snaps := scan(t, f)
	entries, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, r := range verify.Folder(ctx, f, snaps, entries, verify.FolderOptions{}).Results {
		ok[r.Snapshot] = r.OK
		if !r.OK && r.Status != snapshot.StatusCorrupt {
			t.Errorf("snapshot %s (%s) does not verify: %+v", r.Snapshot, r.Status, r.Problems)
		}
	}
	return ok
}

func TestPruneDeletesOnlyFilesNothingElseNames(t *testing.T) {
	f, ids := sharedSnaps(t)
	a, b, c := ids[0], ids[1], ids[2]
	verifyAll(t, f)
	policy := retention.Policy{Last: 1}
	before := testutil.Names(t, f.Dir)
	dry, err := Run(context.Background(), f, Options{Policy: policy, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.Names(t, f.Dir); !slices.Equal(got, before) {
		t.Fatalf("dry run changed the folder")
	}
	plan := map[string]Removal{}
	for _, rm := range dry.Remove {
		plan[rm.Snapshot.ID] = rm
	}
	// A goes first: B still names its log, C and B its fixed, so A frees
	// only its manifest. B goes next: nothing names A's log any more, nor
	// B's own part; A's fixed stays for C.
	ra, rb := plan[a], plan[b]
	if len(ra.Delete) != 0 || !slices.Equal(sorted(ra.Shared), sorted([]string{file("fixed", a), file("log", a)})) {
		t.Errorf("removal of A: delete %v, shared %v", ra.Delete, ra.Shared)
	}
	if !slices.Equal(sorted(rb.Delete), sorted([]string{file("log", a), part("log", b, 1)})) || !slices.Equal(rb.Shared, []string{file("fixed", a)}) {
		t.Errorf("removal of B: delete %v, shared %v", rb.Delete, rb.Shared)
	}
	if ra.Size != ra.Snapshot.ManifestRaw {
		t.Errorf("A frees %d bytes, its manifest is %d", ra.Size, ra.Snapshot.ManifestRaw)
	}
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(f.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if want := rb.Snapshot.ManifestRaw + size(file("log", a)) + size(part("log", b, 1)); rb.Size != want {
		t.Errorf("B frees %d bytes, want %d", rb.Size, want)
	}
	if dry.Freed != ra.Size+rb.Size {
		t.Errorf("dry run frees %d, want %d", dry.Freed, ra.Size+rb.Size)
	}

	res, err := Run(context.Background(), f, Options{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed() != 2 || res.Freed != dry.Freed {
		t.Errorf("removed %d, freed %d (dry run said %d)", res.Removed(), res.Freed, dry.Freed)
	}
	want := []string{file("fixed", a), file("log", c), snapshot.ManifestName(c)}
	var got []string
	for _, n := range testutil.Names(t, f.Dir) {
		if !strings.HasPrefix(n, ".statsnap") {
			got = append(got, n)
		}
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("left %v, want %v", got, want)
	}
	ok := verifyAll(t, f)
	if len(ok) != 1 || !ok[c] {
		t.Errorf("after prune: %v (A's fixed must not read as a bare snapshot)", ok)
	}
}

func TestPruneRefusesToDeleteWhatAnUnreadableManifestMayName(t *testing.T) {
	f, ids := sharedSnaps(t)
	a, b, c := ids[0], ids[1], ids[2]
	// A damaged manifest of a snapshot after B may name B's files (and
	// A's): B's removal would delete some, so it is refused. A's removal
	// deletes nothing but its manifest and goes.
	late := "20250201_100000"
	if err := os.WriteFile(filepath.Join(f.Dir, snapshot.ManifestName(late)), []byte(`{"tables": {`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 1}})
	if err == nil || !strings.Contains(err.Error(), snapshot.ManifestName(late)) {
		t.Fatalf("want a refusal naming the damaged manifest, got %v", err)
	}
	for _, rm := range res.Remove {
		switch rm.Snapshot.ID {
		case a:
			if !rm.Removed {
				t.Errorf("A not removed: %v %v", rm.Refused, rm.Err)
			}
		case b:
			if rm.Removed || rm.Refused == nil {
				t.Errorf("B removed despite the damaged manifest")
			}
		}
	}
	ok := verifyAll(t, f)
	if !ok[b] || !ok[c] || ok[a] {
		t.Errorf("after prune: %v", ok)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestPruneKeepsWhatARefusedManifestNames(t *testing.T) {
	f, ids := sharedSnaps(t)
	a, b, c := ids[0], ids[1], ids[2]
	// A later manifest its parser refuses (it names a file outside the
	// folder) but whose JSON is whole: it also names B's part, which B's
	// removal therefore keeps, and nothing of A's.
	late := "20250201_100000"
	raw := `{"gamertag": "X", "backup_timestamp": "` + late + `", "tables": {"log": {"rows": 1, "file_size_bytes": 1, "file": "../outside.parquet",
		"files": [{"file": "` + part("log", b, 1) + `"}]}}}`
	if err := os.WriteFile(filepath.Join(f.Dir, snapshot.ManifestName(late)), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed() != 2 {
		t.Fatalf("removed %d", res.Removed())
	}
	for _, rm := range res.Remove {
		if rm.Snapshot.ID == b && !slices.Contains(rm.Shared, part("log", b, 1)) {
			t.Errorf("B's removal: delete %v, shared %v", rm.Delete, rm.Shared)
		}
	}
	names := testutil.Names(t, f.Dir)
	if !slices.Contains(names, part("log", b, 1)) || slices.Contains(names, file("log", a)) {
		t.Errorf("left %v", names)
	}
	snaps := scan(t, f)
	var got []string
	for _, s := range snaps {
		got = append(got, s.ID+":"+string(s.Status))
	}
	// The part it names is the refused manifest's, not a bare snapshot.
	if want := []string{c + ":complete", late + ":corrupt"}; !slices.Equal(got, want) {
		t.Errorf("scan %v, want %v", got, want)
	}
}
