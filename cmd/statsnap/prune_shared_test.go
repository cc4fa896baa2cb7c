package main

// End-to-end tests of prune in a folder whose snapshots share files, as
// incremental backups make them: the binary is killed (SIGKILL) after
// every single change it makes to the folder, and each time every
// surviving snapshot must verify and the next prune must finish.

import (
	"context"
	"fmt"
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
)

// sharedPlayer makes four snapshots of player X in dir/data/backups/X,
// from a database whose log grows between them and whose fixed never
// changes, rewritten as incremental backups write them: B shares A's
// files (and adds a part of log), C is a full snapshot, D shares C's
// fixed and C's log (and adds a part). It returns the ids, oldest first.
func sharedPlayer(t *testing.T, dir string) []string {
	t.Helper()
	src := filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE log (n INTEGER NOT NULL, s VARCHAR)`,
		`INSERT INTO log SELECT range, 'row ' || range FROM range(60)`,
		`CREATE TABLE fixed AS SELECT range AS id, 'f' || range AS label FROM range(25)`)
	f, err := local.OpenFolder(filepath.Join(dir, "data", "backups", "X"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	for k := 0; k < 4; k++ {
		if k > 0 {
			testutil.WriteDB(t, src, fmt.Sprintf(`INSERT INTO log SELECT range, 'row ' || range FROM range(%d, %d)`, 60+5*(k-1), 60+5*k))
		}
		res, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "X", Folder: f, CompressionLevel: 3,
			Time: time.Date(2025, 1, 6+7*k, 10, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	testutil.ShareRows(t, f.Dir, ids[0], ids[1], "fixed", nil)
	testutil.ShareRows(t, f.Dir, ids[0], ids[1], "log", nil)
	testutil.ShareRows(t, f.Dir, ids[2], ids[3], "fixed", nil)
	testutil.ShareRows(t, f.Dir, ids[2], ids[3], "log", nil)
	return ids
}

// dataNames lists a folder's snapshot files: manifests and Parquet.
func dataNames(t *testing.T, folder string) []string {
	t.Helper()
	var out []string
	for _, n := range testutil.Names(t, folder) {
		if k, _ := snapshot.Classify(n); k == snapshot.KindManifest || k == snapshot.KindParquet {
			out = append(out, n)
		}
	}
	return out
}

// lockWait lets the in-process runs of these tests wait for the folder's
// lock: a lock is released by closing its descriptor, and a subprocess
// another test forks meanwhile holds a copy of it until it execs.
const lockWait = "1m"

type verifyAllDoc struct {
	OK        bool `json:"ok"`
	Snapshots []struct {
		Snapshot string `json:"snapshot"`
		Status   string `json:"status"`
		OK       bool   `json:"ok"`
		Problems []struct {
			Kind   string `json:"kind"`
			File   string `json:"file"`
			Detail string `json:"detail"`
		} `json:"problems"`
	} `json:"snapshots"`
}

// survivorsVerify checks that every snapshot of the folder that has a
// manifest verifies, and returns their ids.
func survivorsVerify(t *testing.T, dir, folder string) []string {
	t.Helper()
	r := cliEnv(t, dir, pruneEnv, "verify", "--backup", folder, "--all", "--json", "--lock-wait", lockWait)
	var doc verifyAllDoc
	jsonOut(t, r, &doc)
	var ok []string
	for _, s := range doc.Snapshots {
		if s.Status == "incomplete" {
			continue // a removal cut short: its manifest is gone
		}
		if !s.OK {
			t.Errorf("snapshot %s (%s) does not verify: %+v", s.Snapshot, s.Status, s.Problems)
			continue
		}
		ok = append(ok, s.Snapshot)
	}
	return ok
}

func TestPruneSharedFilesKilledAtEveryStep(t *testing.T) {
	t.Parallel()
	pristine := t.TempDir()
	ids := sharedPlayer(t, pristine)
	pf := func(dir string) string { return filepath.Join(dir, "data", "backups", "X") }
	args := []string{"prune", "--gamertag", "X", "--keep-last", "1", "--json", "--lock-wait", lockWait}

	// The uninterrupted prune, for what must be left: D's files (C's,
	// A's none) and no journal.
	whole := t.TempDir()
	testutil.CopyDir(t, pf(pristine), pf(whole))
	doc := pruneJSONRun(t, whole, "--gamertag", "X", "--keep-last", "1", "--lock-wait", lockWait)
	if removed := len(doc.Groups[0].Remove); removed != 3 {
		t.Fatalf("plan removes %d snapshots, want 3", removed)
	}
	want := dataNames(t, pf(whole))
	d := ids[3]
	for _, n := range want {
		if _, id := snapshot.Classify(n); id != d && id != ids[2] {
			t.Errorf("%s survived the prune", n)
		}
	}
	if got := survivorsVerify(t, whole, pf(whole)); !slices.Equal(got, []string{d}) {
		t.Fatalf("after the prune: %v", got)
	}
	// The listing: D alone, complete, its size counting the files it
	// shares with C (C's files carry C's id but are D's now, not bare).
	var list struct {
		Snapshots []struct {
			Snapshot  string `json:"snapshot"`
			Status    string `json:"status"`
			SizeBytes int64  `json:"size_bytes"`
			Last      *struct {
				OK bool `json:"ok"`
			} `json:"last_verification"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, whole, "snapshots", "--gamertag", "X", "--json", "--lock-wait", lockWait), &list)
	var size int64
	for _, n := range want {
		size += fileSize(t, filepath.Join(pf(whole), n))
	}
	if len(list.Snapshots) != 1 || list.Snapshots[0].Snapshot != d || list.Snapshots[0].Status != "complete" ||
		list.Snapshots[0].SizeBytes != size || list.Snapshots[0].Last == nil || !list.Snapshots[0].Last.OK {
		t.Errorf("snapshots after the prune: %+v, want %s complete, %d bytes, verified", list.Snapshots, d, size)
	}

	restored := false
	for n := 1; ; n++ {
		if n > 200 {
			t.Fatal("prune never finished")
		}
		dir := t.TempDir()
		testutil.CopyDir(t, pf(pristine), pf(dir))
		r := faultCLI(t, dir, append(slices.Clone(pruneEnv), fmt.Sprintf("STATSNAP_TEST_CRASH_AFTER=op-%d", n)), args...)
		if r.Code == 0 {
			// Fewer changes than n: this run was never killed, and every
			// earlier n killed it at each of its steps.
			if got := dataNames(t, pf(dir)); !slices.Equal(got, want) {
				t.Errorf("the prune that was not killed left %v, want %v", got, want)
			}
			t.Logf("the prune makes %d changes to the folder; it was killed after each", n-1)
			if n < 10 {
				t.Errorf("the prune made only %d changes", n-1)
			}
			break
		}
		if r.Code != -1 {
			t.Fatalf("op-%d: prune exited %d, not killed\n%s\n%s", n, r.Code, r.Stdout, r.Stderr)
		}
		// Every snapshot whose manifest is still there is whole, the kept
		// one first of all.
		got := survivorsVerify(t, dir, pf(dir))
		if !slices.Contains(got, d) {
			t.Fatalf("op-%d: the kept snapshot %s does not verify (%v)", n, d, got)
		}
		// A restore of the kept snapshot, whose tables are in parts, some
		// shared with the snapshots being removed, while a removal's
		// journal is still there.
		if !restored && hasJournal(t, pf(dir)) {
			restored = true
			out := filepath.Join(dir, "restored.duckdb")
			rr := cliEnv(t, dir, pruneEnv, "restore", "--db", out, "--gamertag", "X", "--backup", pf(dir), "--snapshot", d, "--lock-wait", lockWait)
			if rr.Code != 0 {
				t.Fatalf("op-%d: restore exit %d\n%s\n%s", n, rr.Code, rr.Stdout, rr.Stderr)
			}
			db := testutil.OpenDB(t, out, false)
			var rows, fixed int64
			var ordered bool
			if err := db.QueryRow(`SELECT count(*), bool_and(n = rn) FROM (SELECT n, row_number() OVER (ORDER BY rowid) - 1 AS rn FROM log)`).Scan(&rows, &ordered); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`SELECT count(*) FROM fixed`).Scan(&fixed); err != nil {
				t.Fatal(err)
			}
			if rows != 75 || !ordered || fixed != 25 {
				t.Errorf("op-%d: restored log has %d rows (in order: %v), fixed %d", n, rows, ordered, fixed)
			}
			db.Close()
		}
		// The next prune finishes what was cut short.
		again := pruneCLI(t, dir, args...)
		if again.Code != 0 {
			t.Fatalf("op-%d: the next prune exited %d\n%s\n%s", n, again.Code, again.Stdout, again.Stderr)
		}
		if got := dataNames(t, pf(dir)); !slices.Equal(got, want) {
			t.Errorf("op-%d: after the next prune: %v, want %v", n, got, want)
		}
		if hasJournal(t, pf(dir)) {
			t.Errorf("op-%d: a journal is left: %v", n, testutil.Names(t, pf(dir)))
		}
		if got := survivorsVerify(t, dir, pf(dir)); !slices.Equal(got, []string{d}) {
			t.Errorf("op-%d: after the next prune: %v", n, got)
		}
	}
	if !restored {
		t.Error("no kill left a removal journal to restore beside")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func hasJournal(t *testing.T, folder string) bool {
	for _, n := range testutil.Names(t, folder) {
		if strings.HasPrefix(n, ".statsnap-removing-") {
			return true
		}
	}
	return false
}

func TestPruneSharedDryRunShowsWhatIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ids := sharedPlayer(t, dir)
	folder := filepath.Join(dir, "data", "backups", "X")
	before := testutil.Names(t, folder)
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "1", "--dry-run", "--lock-wait", lockWait)
	if got := testutil.Names(t, folder); !slices.Equal(got, before) {
		t.Fatalf("the dry run changed the folder: %v", got)
	}
	type plan struct{ deletes, shared []string }
	got := map[string]plan{}
	var raw struct {
		Groups []struct {
			Remove []struct {
				Snapshot string   `json:"snapshot"`
				Deletes  []string `json:"deletes"`
				Shared   []string `json:"shared"`
			} `json:"remove"`
		} `json:"groups"`
	}
	r := pruneCLI(t, dir, "prune", "--gamertag", "X", "--keep-last", "1", "--dry-run", "--json", "--lock-wait", lockWait)
	jsonOut(t, r, &raw)
	for _, rm := range raw.Groups[0].Remove {
		got[rm.Snapshot] = plan{rm.Deletes, rm.Shared}
	}
	a, b, c := ids[0], ids[1], ids[2]
	fa := func(table, id string) string { return table + "_" + id + ".parquet" }
	// A: B still names both its files. B: nothing left names A's files
	// nor B's part. C: D names both of C's files.
	wantPlan := map[string]plan{
		a: {[]string{}, []string{fa("fixed", a), fa("log", a)}},
		b: {[]string{fa("fixed", a), fa("log", a), snapshot.PartFileName(fa("log", b), 1)}, []string{}},
		c: {[]string{}, []string{fa("fixed", c), fa("log", c)}},
	}
	for id, w := range wantPlan {
		g := got[id]
		slices.Sort(g.deletes)
		slices.Sort(g.shared)
		if !slices.Equal(g.deletes, w.deletes) || !slices.Equal(g.shared, w.shared) {
			t.Errorf("%s: deletes %v, shared %v; want %v, %v", id, g.deletes, g.shared, w.deletes, w.shared)
		}
	}
	if doc.Groups[0].FreedBytes <= 0 {
		t.Errorf("freed %d", doc.Groups[0].FreedBytes)
	}
	text := pruneCLI(t, dir, "prune", "--gamertag", "X", "--keep-last", "1", "--dry-run", "--lock-wait", lockWait)
	if !strings.Contains(text.Stdout, "keeps 2 files that other snapshots still name: ") {
		t.Errorf("the dry run does not say which files stay:\n%s", text.Stdout)
	}
}
