package main

// End-to-end tests of statsnap prune: real snapshots made by the built
// binary (see harness_test.go) at chosen times with backup --time, pruned
// by the binary as a subprocess, then checked file by file.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// pruneEnv pins the zone the binary derives snapshot ids in, so that the
// tests know every id from the --time they pass.
var pruneEnv = []string{"TZ=UTC"}

func pruneCLI(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return cliEnv(t, dir, pruneEnv, args...)
}

func pruneMust(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := pruneCLI(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("statsnap %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// pruneFixture is a working folder with a sample player X.
func pruneFixture(t *testing.T, players ...string) string {
	t.Helper()
	t.Parallel()
	dir := t.TempDir()
	if len(players) == 0 {
		players = []string{"X"}
	}
	for _, p := range players {
		samplePlayer(t, dir, p, 5)
	}
	return dir
}

// pruneBackups makes one real backup of player per time and returns the
// snapshot ids in the same order. They are full backups, each with files
// of its own: these tests are about retention and the ledger; shared
// files have theirs (prune_shared_test.go, incremental_test.go).
func pruneBackups(t *testing.T, dir, player string, times ...string) []string {
	t.Helper()
	var ids []string
	for _, ts := range times {
		r := pruneMust(t, dir, "backup", "--full", "--gamertag", player, "--time", ts, "--json")
		var doc backupJSONDoc
		jsonOut(t, r, &doc)
		if len(doc.Snapshots) != 1 {
			t.Fatalf("backup at %s: %s", ts, r.Stdout)
		}
		ids = append(ids, doc.Snapshots[0].Snapshot)
	}
	return ids
}

type pruneDocT struct {
	DryRun bool   `json:"dry_run"`
	Policy string `json:"policy"`
	Groups []struct {
		Gamertag string `json:"gamertag"`
		Keep     []struct {
			Snapshot  string   `json:"snapshot"`
			Time      string   `json:"time"`
			Reasons   []string `json:"reasons"`
			SizeBytes int64    `json:"size_bytes"`
		} `json:"keep"`
		Remove []struct {
			Snapshot  string `json:"snapshot"`
			Time      string `json:"time"`
			SizeBytes int64  `json:"size_bytes"`
			Removed   bool   `json:"removed"`
			Error     string `json:"error"`
		} `json:"remove"`
		Broken []struct {
			Snapshot string `json:"snapshot"`
			Problems []struct {
				Kind string `json:"kind"`
			} `json:"problems"`
			Removed bool   `json:"removed"`
			Error   string `json:"error"`
		} `json:"broken"`
		NoneVerifies bool `json:"none_verifies"`
		Skipped      []struct {
			Snapshot string `json:"snapshot"`
			Status   string `json:"status"`
			Reason   string `json:"reason"`
		} `json:"skipped"`
		Cleaned    []string `json:"cleaned"`
		FreedBytes int64    `json:"freed_bytes"`
	} `json:"groups"`
	Failed []struct {
		Gamertag string `json:"gamertag"`
		Error    string `json:"error"`
	} `json:"failed"`
}

// decisions renders one group as "id: reason, reason" lines for kept
// snapshots and "id" lines for removed ones, so that a failure shows the
// whole plan.
func decisions(t *testing.T, doc pruneDocT, i int) (keep, remove []string) {
	t.Helper()
	if len(doc.Groups) <= i {
		t.Fatalf("no group %d in %+v", i, doc)
	}
	keep, remove = []string{}, []string{}
	for _, k := range doc.Groups[i].Keep {
		keep = append(keep, k.Snapshot+": "+strings.Join(k.Reasons, ", "))
	}
	for _, r := range doc.Groups[i].Remove {
		remove = append(remove, r.Snapshot)
	}
	return keep, remove
}

func pruneJSONRun(t *testing.T, dir string, args ...string) pruneDocT {
	t.Helper()
	r := pruneMust(t, dir, append([]string{"prune", "--json"}, args...)...)
	var doc pruneDocT
	jsonOut(t, r, &doc)
	return doc
}

// pruneListing is the player folder's files with their sizes and
// modification times: what --dry-run must leave exactly as it was.
func pruneListing(t *testing.T, folder string) []string {
	t.Helper()
	des, err := os.ReadDir(folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %d", de.Name(), fi.Size(), fi.ModTime().UnixNano()))
	}
	return out
}

// pruneStatuses lists `statsnap snapshots --json` as status -> ids.
func pruneStatuses(t *testing.T, dir, player string) map[string][]string {
	t.Helper()
	r := pruneMust(t, dir, "snapshots", "--gamertag", player, "--json")
	var doc struct {
		Snapshots []struct {
			Snapshot string `json:"snapshot"`
			Status   string `json:"status"`
		} `json:"snapshots"`
	}
	jsonOut(t, r, &doc)
	out := map[string][]string{}
	for _, s := range doc.Snapshots {
		out[s.Status] = append(out[s.Status], s.Snapshot)
	}
	return out
}

// pruneSnapshotFiles lists the files a snapshot's manifest claims, plus
// the manifest.
func pruneSnapshotFiles(t *testing.T, folder, id string) []string {
	t.Helper()
	files := []string{snapshot.ManifestName(id)}
	for _, tb := range testutil.ReadManifest(t, folder, id).Tables {
		files = append(files, tb.File)
	}
	slices.Sort(files)
	return files
}

// withoutIDs is names minus every file that carries one of ids in its
// name and belongs to a snapshot (manifest, Parquet file).
func withoutIDs(names []string, ids ...string) []string {
	var out []string
	for _, n := range names {
		k, id := snapshot.Classify(n)
		if (k == snapshot.KindManifest || k == snapshot.KindParquet) && slices.Contains(ids, id) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// withoutName returns a copy of names without name.
func withoutName(names []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
}

func wantEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// plantUnmanaged adds files no manifest claims: a user's note, a file
// named like a table file of a snapshot that does not exist, and a real
// bare export (backup --no-metadata). It returns their names.
func plantUnmanaged(t *testing.T, dir, player, exportTime string) []string {
	t.Helper()
	folder := filepath.Join(dir, "data", "backups", player)
	for name, content := range map[string]string{
		"notes.txt":                           "my own notes",
		"match_stats_20200101_000000.parquet": "not a snapshot of anything",
	} {
		if err := os.WriteFile(filepath.Join(folder, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pruneMust(t, dir, "backup", "--gamertag", player, "--no-metadata", "--time", exportTime)
	var out []string
	for _, n := range testutil.Names(t, folder) {
		if k, id := snapshot.Classify(n); n == "notes.txt" || (k == snapshot.KindParquet && (id == "20200101_000000" || id == snapshot.FormatID(mustTime(t, exportTime)))) {
			out = append(out, n)
		}
	}
	if len(out) < 3 {
		t.Fatalf("unmanaged files: %v", out)
	}
	return out
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func assertPresent(t *testing.T, folder string, names []string) {
	t.Helper()
	have := testutil.Names(t, folder)
	for _, n := range names {
		if !slices.Contains(have, n) {
			t.Errorf("%s was deleted; prune must never touch it", n)
		}
	}
}

func TestPruneKeepLast(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X",
		"2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z", "2025-03-03T10:00:00Z",
		"2025-03-04T10:00:00+01:00", "2025-03-05T10:00:00Z")
	// The bare export is the newest "snapshot" of all: it must not count.
	unmanaged := plantUnmanaged(t, dir, "X", "2025-03-06T10:00:00Z")
	before := testutil.Names(t, folder)

	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "2")
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "keep", keep, []string{ids[4] + ": last snapshot", ids[3] + ": last snapshot"})
	wantEqual(t, "remove", remove, []string{ids[2], ids[1], ids[0]})
	g := doc.Groups[0]
	if doc.DryRun || g.Gamertag != "X" || g.Keep[1].Time != "2025-03-04T10:00:00+01:00" {
		t.Errorf("dry_run=%v gamertag=%q time=%q", doc.DryRun, g.Gamertag, g.Keep[1].Time)
	}
	var freed int64
	for _, r := range g.Remove {
		if !r.Removed || r.Error != "" || r.SizeBytes <= 0 {
			t.Errorf("remove %+v", r)
		}
		freed += r.SizeBytes
	}
	if g.FreedBytes != freed {
		t.Errorf("freed_bytes %d, sum of removals %d", g.FreedBytes, freed)
	}
	var bare []string
	for _, s := range g.Skipped {
		bare = append(bare, s.Snapshot+":"+s.Status)
	}
	wantEqual(t, "skipped", bare, []string{"20250306_100000:bare", "20200101_000000:bare"})

	wantEqual(t, "folder after prune", testutil.Names(t, folder), withoutIDs(before, ids[:3]...))
	assertPresent(t, folder, unmanaged)
	st := pruneStatuses(t, dir, "X")
	wantEqual(t, "complete snapshots", st["complete"], []string{ids[3], ids[4]})
	wantEqual(t, "bare snapshots", st["bare"], []string{"20200101_000000", "20250306_100000"})

	// Pruning again with the same policy changes nothing.
	after := testutil.Names(t, folder)
	doc = pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "2")
	if _, remove := decisions(t, doc, 0); len(remove) != 0 {
		t.Errorf("second prune removes %v", remove)
	}
	wantEqual(t, "folder after second prune", testutil.Names(t, folder), after)
}

func TestPruneWeeklyMonthlyAndDryRun(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X",
		"2024-12-20T10:00:00Z", // 0: past the 6 months
		"2025-01-15T10:00:00Z", // 1: monthly, January
		"2025-02-10T10:00:00Z", // 2: monthly
		"2025-03-03T10:00:00Z", // 3: monthly
		"2025-04-20T10:00:00Z", // 4: monthly
		"2025-05-05T10:00:00Z", // 5: monthly
		"2025-06-02T10:00:00Z", // 6: W23, after 4 weeks were kept; June already kept
		"2025-06-09T10:00:00Z", // 7: W24
		"2025-06-16T10:00:00Z", // 8: W25
		"2025-06-23T10:00:00Z", // 9: Monday of W26, older than 10
		"2025-06-24T10:00:00Z", // 10: W26
		"2025-06-30T10:00:00Z", // 11: Monday of W27; newest of June
	)
	unmanaged := plantUnmanaged(t, dir, "X", "2025-07-01T10:00:00Z")
	policy := []string{"--gamertag", "X", "--keep-weekly", "4", "--keep-monthly", "6"}
	wantKeep := []string{
		ids[11] + ": weekly snapshot, monthly snapshot",
		ids[10] + ": weekly snapshot",
		ids[8] + ": weekly snapshot",
		ids[7] + ": weekly snapshot",
		ids[5] + ": monthly snapshot",
		ids[4] + ": monthly snapshot",
		ids[3] + ": monthly snapshot",
		ids[2] + ": monthly snapshot",
		ids[1] + ": monthly snapshot",
	}
	wantRemove := []string{ids[9], ids[6], ids[0]}

	// --dry-run: the same plan, and not one byte or timestamp changes.
	before := pruneListing(t, folder)
	doc := pruneJSONRun(t, dir, append(policy, "--dry-run")...)
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "dry-run keep", keep, wantKeep)
	wantEqual(t, "dry-run remove", remove, wantRemove)
	if !doc.DryRun || doc.Groups[0].FreedBytes <= 0 {
		t.Errorf("dry_run=%v freed=%d", doc.DryRun, doc.Groups[0].FreedBytes)
	}
	for _, r := range doc.Groups[0].Remove {
		if r.Removed {
			t.Errorf("dry run reports %s removed", r.Snapshot)
		}
	}
	wantEqual(t, "folder after --dry-run", pruneListing(t, folder), before)

	// The human dry run explains every decision and still changes nothing.
	r := pruneMust(t, dir, append([]string{"prune"}, append(policy, "--dry-run")...)...)
	for _, want := range []string{"keep 4 weekly, 6 monthly snapshots", "keep 9 snapshots", "weekly snapshot, monthly snapshot",
		"remove 3 snapshots", "would be removed", "FREES", "bare", "dry run: would remove 3 snapshots, freeing"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("human output lacks %q:\n%s", want, r.Stdout)
		}
	}
	wantEqual(t, "folder after human --dry-run", pruneListing(t, folder), before)

	names := testutil.Names(t, folder)
	doc = pruneJSONRun(t, dir, policy...)
	keep, remove = decisions(t, doc, 0)
	wantEqual(t, "keep", keep, wantKeep)
	wantEqual(t, "remove", remove, wantRemove)
	wantEqual(t, "folder after prune", testutil.Names(t, folder), withoutIDs(names, wantRemove...))
	assertPresent(t, folder, unmanaged)
	wantEqual(t, "complete snapshots", pruneStatuses(t, dir, "X")["complete"],
		[]string{ids[1], ids[2], ids[3], ids[4], ids[5], ids[7], ids[8], ids[10], ids[11]})
}

func TestPruneKeepWithin(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X",
		"2025-02-15T12:00:00Z",
		"2025-03-01T12:00:00Z", // exactly the newest minus 30d: not strictly newer, removed
		"2025-03-01T12:00:01Z",
		"2025-03-10T08:00:00Z",
		"2025-03-31T12:00:00Z",
	)
	before := pruneListing(t, folder)
	// 2025-03-31 minus 1m rolls over to 2025-03-03 (Go's AddDate, as restic).
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-within", "1m", "--dry-run")
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "keep within 1m", keep, []string{ids[4] + ": within 1m", ids[3] + ": within 1m"})
	wantEqual(t, "remove within 1m", remove, []string{ids[2], ids[1], ids[0]})
	wantEqual(t, "folder after --dry-run", pruneListing(t, folder), before)

	names := testutil.Names(t, folder)
	doc = pruneJSONRun(t, dir, "--gamertag", "X", "--keep-within", "30d")
	keep, remove = decisions(t, doc, 0)
	wantEqual(t, "keep within 30d", keep, []string{ids[4] + ": within 30d", ids[3] + ": within 30d", ids[2] + ": within 30d"})
	wantEqual(t, "remove within 30d", remove, []string{ids[1], ids[0]})
	wantEqual(t, "folder", testutil.Names(t, folder), withoutIDs(names, ids[0], ids[1]))
}

func TestPruneKeepDailyInRecordedOffsets(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X",
		"2025-05-08T10:00:00Z",
		// 22:30 UTC on the 9th, but the 10th where it was taken: it is
		// its own day after the 23:30Z snapshot of the 9th.
		"2025-05-10T00:30:00+02:00",
		"2025-05-09T23:30:00Z",
		"2025-05-10T08:00:00Z",
		"2025-05-10T12:00:00Z",
		"2025-05-10T20:00:00Z",
	)
	names := testutil.Names(t, folder)
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-daily", "3")
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "keep", keep, []string{ids[5] + ": daily snapshot", ids[2] + ": daily snapshot", ids[1] + ": daily snapshot"})
	wantEqual(t, "remove", remove, []string{ids[4], ids[3], ids[0]})
	if got := doc.Groups[0].Keep[2].Time; got != "2025-05-10T00:30:00+02:00" {
		t.Errorf("time of %s = %q, want its recorded offset", ids[1], got)
	}
	wantEqual(t, "folder", testutil.Names(t, folder), withoutIDs(names, ids[0], ids[3], ids[4]))
}

func TestPruneAllPrunesEachPlayerSeparately(t *testing.T) {
	dir := pruneFixture(t, "X", "Y")
	x := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z", "2025-01-03T10:00:00Z")
	y := pruneBackups(t, dir, "Y", "2025-01-01T11:00:00Z", "2025-01-05T11:00:00Z")
	// Not a player: a hidden folder of the backup root is never touched.
	hidden := filepath.Join(dir, "data", "backups", ".trash")
	os.Mkdir(hidden, 0o755)

	// Y is busy (a backup holds its lock): X is pruned all the same, Y is
	// reported as failed, and the exit code says something went wrong.
	fl := flock.New(filepath.Join(dir, "data", "backups", "Y", ".statsnap.lock"))
	if err := fl.Lock(); err != nil {
		t.Fatal(err)
	}
	r := pruneCLI(t, dir, "prune", "--json", "--all", "--keep-last", "1")
	var doc pruneDocT
	jsonOut(t, r, &doc)
	if r.Code != 1 || len(doc.Groups) != 1 || doc.Groups[0].Gamertag != "X" ||
		len(doc.Failed) != 1 || doc.Failed[0].Gamertag != "Y" || !strings.Contains(r.Stderr, "cannot prune Y: another statsnap process") {
		t.Errorf("exit %d, groups %+v, failed %+v, stderr %s", r.Code, doc.Groups, doc.Failed, r.Stderr)
	}
	wantEqual(t, "X", pruneStatuses(t, dir, "X")["complete"], []string{x[2]})
	wantEqual(t, "Y while locked", pruneStatuses(t, dir, "Y")["complete"], y)
	fl.Unlock()

	r = pruneMust(t, dir, "prune", "--all", "--keep-last", "1")
	for _, want := range []string{"X (", "Y (", "total: removed 1 snapshot in 2 player folders, freed"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	wantEqual(t, "X", pruneStatuses(t, dir, "X")["complete"], []string{x[2]})
	wantEqual(t, "Y", pruneStatuses(t, dir, "Y")["complete"], []string{y[1]})
	if ents, _ := os.ReadDir(hidden); len(ents) != 0 {
		t.Errorf("prune --all wrote into a hidden folder: %v", ents)
	}
}

func TestPruneLeavesIncompleteSnapshots(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z", "2025-01-03T10:00:00Z", "2025-01-04T10:00:00Z")
	a, b, rolled, stuck := ids[0], ids[1], ids[2], ids[3]
	// The two newest become backups that crashed before their manifest:
	// one with a journal recovery can use, one with a torn journal.
	rolledFiles := pruneSnapshotFiles(t, folder, rolled)
	stuckFiles := pruneSnapshotFiles(t, folder, stuck)
	j, _ := json.Marshal(map[string]any{"snapshot": rolled, "files": rolledFiles})
	os.WriteFile(filepath.Join(folder, snapshot.PendingName(rolled)), j, 0o644)
	os.WriteFile(filepath.Join(folder, snapshot.PendingName(stuck)), []byte(`{"snapshot":"`+stuck+`","files":["match_st`), 0o644)
	os.Remove(filepath.Join(folder, snapshot.ManifestName(rolled)))
	os.Remove(filepath.Join(folder, snapshot.ManifestName(stuck)))
	wantEqual(t, "incomplete before", pruneStatuses(t, dir, "X")["incomplete"], []string{rolled, stuck})

	// A dry run reports both and touches neither.
	before := pruneListing(t, folder)
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "1", "--dry-run")
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "dry-run keep", keep, []string{b + ": last snapshot"})
	wantEqual(t, "dry-run remove", remove, []string{a})
	var skipped []string
	for _, s := range doc.Groups[0].Skipped {
		skipped = append(skipped, s.Snapshot+":"+s.Status)
	}
	wantEqual(t, "dry-run skipped", skipped, []string{stuck + ":incomplete", rolled + ":incomplete"})
	wantEqual(t, "folder after --dry-run", pruneListing(t, folder), before)

	// The real run: recovery rolls back the crashed backup its journal
	// describes (reported as cleaned, never as a removal by a rule); the
	// one with a torn journal neither counts (b, not it, is the newest
	// kept) nor loses a file.
	doc = pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "1")
	keep, remove = decisions(t, doc, 0)
	wantEqual(t, "keep", keep, []string{b + ": last snapshot"})
	wantEqual(t, "remove", remove, []string{a})
	cleaned := slices.Clone(doc.Groups[0].Cleaned)
	slices.Sort(cleaned)
	wantRolled := append(withoutName(rolledFiles, snapshot.ManifestName(rolled)), snapshot.PendingName(rolled))
	slices.Sort(wantRolled)
	wantEqual(t, "cleaned", cleaned, wantRolled)
	if len(doc.Groups[0].Skipped) != 1 || doc.Groups[0].Skipped[0].Snapshot != stuck {
		t.Errorf("skipped %+v", doc.Groups[0].Skipped)
	}
	assertPresent(t, folder, append(withoutName(stuckFiles, snapshot.ManifestName(stuck)), snapshot.PendingName(stuck)))
	st := pruneStatuses(t, dir, "X")
	wantEqual(t, "complete", st["complete"], []string{b})
	wantEqual(t, "incomplete", st["incomplete"], []string{stuck})
}

func TestPrunePlantedManifestsDeleteNothingElse(t *testing.T) {
	dir := pruneFixture(t)
	backups := filepath.Join(dir, "data", "backups")
	folder := filepath.Join(backups, "X")
	ids := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-06-01T10:00:00Z")
	old, newest := ids[0], ids[1]
	newestFiles := pruneSnapshotFiles(t, folder, newest)

	outsideRel := filepath.Join(backups, "outside.txt") // ../outside.txt seen from X
	outsideAbs := filepath.Join(dir, "outside.txt")
	for _, p := range []string{outsideRel, outsideAbs} {
		os.WriteFile(p, []byte("precious"), 0o644)
	}
	plant := func(id string, file string) {
		m := map[string]any{
			"gamertag": "X", "backup_timestamp": id, "backup_datetime": "2025-02-01T10:00:00",
			"source_db": "x", "compression": "zstd", "compression_level": 9,
			"tables":           map[string]any{"match_stats": map[string]any{"rows": 1, "file_size_bytes": 1, "file": file}},
			"total_size_bytes": 1, "total_size_mb": 0,
		}
		raw, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(folder, snapshot.ManifestName(id)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plant("20250201_100000", "../outside.txt")
	plant("20250202_100000", outsideAbs)
	// Seed-style (so it needs no hashes) and readable, but it claims a
	// file of the newest snapshot.
	plant("20250203_100000", "match_stats_"+newest+".parquet")

	// The planted manifest fails verification, so the policy never
	// removes it; --remove-broken asks to, and the removal is refused.
	r := pruneCLI(t, dir, "prune", "--json", "--gamertag", "X", "--keep-last", "1", "--remove-broken")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "refused to remove snapshot 20250203_100000") {
		t.Errorf("stderr does not explain the refusal:\n%s", r.Stderr)
	}
	var doc pruneDocT
	jsonOut(t, r, &doc)
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "keep", keep, []string{newest + ": last snapshot"})
	wantEqual(t, "remove", remove, []string{old})
	for _, rm := range doc.Groups[0].Remove {
		if rm.Snapshot == old && !rm.Removed {
			t.Errorf("%s not removed: %s", old, rm.Error)
		}
	}
	if b := doc.Groups[0].Broken; len(b) != 1 || b[0].Snapshot != "20250203_100000" || b[0].Removed || !strings.Contains(b[0].Error, "not a file of snapshot") {
		t.Errorf("planted snapshot: broken %+v", b)
	}
	var skipped []string
	for _, s := range doc.Groups[0].Skipped {
		skipped = append(skipped, s.Snapshot+":"+s.Status)
	}
	wantEqual(t, "skipped", skipped, []string{"20250202_100000:corrupt", "20250201_100000:corrupt"})

	for _, p := range []string{outsideRel, outsideAbs} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "precious" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	assertPresent(t, folder, append(newestFiles,
		snapshot.ManifestName("20250201_100000"), snapshot.ManifestName("20250202_100000"), snapshot.ManifestName("20250203_100000")))
	wantEqual(t, "complete", pruneStatuses(t, dir, "X")["complete"], []string{newest})
}

// completeSnapshotsWhole checks that every complete snapshot statsnap
// lists still has every file its manifest names: no broken snapshot.
func completeSnapshotsWhole(t *testing.T, dir, folder string) {
	t.Helper()
	for _, id := range pruneStatuses(t, dir, "X")["complete"] {
		assertPresent(t, folder, pruneSnapshotFiles(t, folder, id))
	}
}

func TestPruneFinishesInterruptedRemoval(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z")
	unmanaged := plantUnmanaged(t, dir, "X", "2025-01-03T10:00:00Z")
	victim := ids[0]
	// What a prune killed right after deleting the manifest leaves: the
	// journal, and the files without their manifest.
	files := pruneSnapshotFiles(t, folder, victim)
	j, _ := json.Marshal(map[string]any{"snapshot": victim, "files": files})
	os.WriteFile(filepath.Join(folder, snapshot.RemovingName(victim)), j, 0o644)
	os.Remove(filepath.Join(folder, snapshot.ManifestName(victim)))

	st := pruneStatuses(t, dir, "X")
	wantEqual(t, "incomplete", st["incomplete"], []string{victim})
	completeSnapshotsWhole(t, dir, folder)

	// A policy that keeps everything still finishes the removal first.
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "10")
	cleaned := slices.Clone(doc.Groups[0].Cleaned)
	slices.Sort(cleaned)
	want := append(withoutName(files, snapshot.ManifestName(victim)), snapshot.RemovingName(victim))
	slices.Sort(want)
	wantEqual(t, "cleaned", cleaned, want)
	for _, n := range testutil.Names(t, folder) {
		if _, id := snapshot.Classify(n); id == victim {
			t.Errorf("%s survived the finished removal", n)
		}
	}
	assertPresent(t, folder, unmanaged)
	wantEqual(t, "complete", pruneStatuses(t, dir, "X")["complete"], []string{ids[1]})
}

// TestPlainBuildHasNoFaultHook: the binary users build does not even
// contain the name of the fault-injection variable; the tests' build does.
func TestPlainBuildHasNoFaultHook(t *testing.T) {
	const name = "STATSNAP_TEST_CRASH_AFTER"
	plain, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte(name)) {
		t.Errorf("the plain build contains %s", name)
	}
	bin, err := faultBin()
	if err != nil {
		t.Fatal(err)
	}
	fault, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(fault, []byte(name)) {
		t.Errorf("the faultinject build lacks %s", name)
	}
}

func TestPruneKilledAfterManifestRemoved(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z", "2025-01-03T10:00:00Z")
	unmanaged := plantUnmanaged(t, dir, "X", "2025-01-04T10:00:00Z")
	oldestFiles := pruneSnapshotFiles(t, folder, ids[0])

	// The process SIGKILLs itself right after the first removal (the
	// oldest snapshot) deleted its manifest and synced the folder.
	r := faultCLI(t, dir, append(slices.Clone(pruneEnv), "STATSNAP_TEST_CRASH_AFTER=manifest-removed"),
		"prune", "--gamertag", "X", "--keep-last", "1")
	if r.Code != -1 { // -1: ended by a signal
		t.Fatalf("prune was not killed: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	names := testutil.Names(t, folder)
	if slices.Contains(names, snapshot.ManifestName(ids[0])) || !slices.Contains(names, snapshot.RemovingName(ids[0])) {
		t.Fatalf("not killed between manifest and files: %v", names)
	}
	assertPresent(t, folder, withoutName(oldestFiles, snapshot.ManifestName(ids[0])))

	// No broken snapshot: the half-removed one is incomplete, the others
	// are whole.
	st := pruneStatuses(t, dir, "X")
	wantEqual(t, "incomplete", st["incomplete"], []string{ids[0]})
	wantEqual(t, "complete", st["complete"], []string{ids[1], ids[2]})
	completeSnapshotsWhole(t, dir, folder)

	// The next prune finishes the job.
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "1")
	keep, remove := decisions(t, doc, 0)
	wantEqual(t, "keep", keep, []string{ids[2] + ": last snapshot"})
	wantEqual(t, "remove", remove, []string{ids[1]})
	if !slices.Contains(doc.Groups[0].Cleaned, snapshot.RemovingName(ids[0])) {
		t.Errorf("cleaned %v", doc.Groups[0].Cleaned)
	}
	for _, n := range testutil.Names(t, folder) {
		if k, id := snapshot.Classify(n); (id == ids[0] || id == ids[1]) && k != snapshot.KindOther {
			t.Errorf("%s survived", n)
		}
	}
	assertPresent(t, folder, unmanaged)
	st = pruneStatuses(t, dir, "X")
	wantEqual(t, "complete at the end", st["complete"], []string{ids[2]})
	if len(st["incomplete"]) != 0 {
		t.Errorf("incomplete at the end: %v", st["incomplete"])
	}
}

func TestPruneWaitsForTheLock(t *testing.T) {
	dir := pruneFixture(t)
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X", "2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z")

	// Another process (this test) holds the player's lock, as a running
	// backup would.
	fl := flock.New(filepath.Join(folder, ".statsnap.lock"))
	if err := fl.Lock(); err != nil {
		t.Fatal(err)
	}
	want := "cannot prune X: another statsnap process (backup or prune) is working on " +
		filepath.Join("data", "backups", "X") + "; wait for it or pass --lock-wait 5m"
	for _, extra := range [][]string{nil, {"--dry-run"}, {"--lock-wait", "300ms"}} {
		r := pruneCLI(t, dir, append([]string{"prune", "--gamertag", "X", "--keep-last", "1"}, extra...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", extra, r.Code, r.Stderr, want)
		}
	}
	r := pruneCLI(t, dir, "prune", "--json", "--gamertag", "X", "--keep-last", "1")
	var doc pruneDocT
	jsonOut(t, r, &doc)
	if r.Code != 1 || len(doc.Failed) != 1 || !strings.Contains(doc.Failed[0].Error, "another statsnap process") {
		t.Errorf("--json: exit %d, %+v", r.Code, doc)
	}
	wantEqual(t, "complete while locked", pruneStatuses(t, dir, "X")["complete"], ids)

	// With --lock-wait, prune waits for the lock to be released.
	go func() {
		time.Sleep(500 * time.Millisecond)
		fl.Unlock()
	}()
	start := time.Now()
	pruneMust(t, dir, "prune", "--gamertag", "X", "--keep-last", "1", "--lock-wait", "20s")
	if time.Since(start) < 400*time.Millisecond {
		t.Error("prune did not wait for the lock")
	}
	wantEqual(t, "complete after", pruneStatuses(t, dir, "X")["complete"], ids[1:])
}

func TestPruneUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "backups", "X"), 0o755)
	forms := `--keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N (N a whole number of at least 1) or --keep-within DURATION`
	durationForms := `want numbers with units y, m, d or h, combined like "1y6m", "14d" or "2d12h"`
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--gamertag", "X"}, []string{"prune needs a retention policy", forms}},
		{[]string{"--gamertag", "X", "--dry-run"}, []string{"prune needs a retention policy", forms}},
		{[]string{"--gamertag", "X", "--keep-last", "0"}, []string{"--keep-last must be a whole number of at least 1, got 0", forms}},
		{[]string{"--gamertag", "X", "--keep-weekly", "8", "--keep-monthly", "-1"}, []string{"--keep-monthly must be a whole number of at least 1, got -1"}},
		{[]string{"--gamertag", "X", "--keep-daily", "seven"}, []string{`invalid argument "seven" for "--keep-daily"`, "want a whole number of at least 1"}},
		{[]string{"--gamertag", "X", "--keep-yearly", "1.5"}, []string{"want a whole number of at least 1"}},
		{[]string{"--gamertag", "X", "--keep-within", "30"}, []string{`invalid duration "30"`, durationForms}},
		{[]string{"--gamertag", "X", "--keep-within", "1w"}, []string{`unknown unit 'w'`, durationForms}},
		{[]string{"--gamertag", "X", "--keep-within", "0d"}, []string{"duration is zero", durationForms}},
		{[]string{"--gamertag", "X", "--keep-within", "-5d"}, []string{"negative", durationForms}},
		{[]string{"--gamertag", "X", "--keep-within="}, []string{"empty", durationForms}},
		{[]string{"--keep-last", "1"}, []string{"--gamertag G or --all"}},
		{[]string{"--all", "--gamertag", "X", "--keep-last", "1"}, []string{"--gamertag G or --all"}},
		{[]string{"--gamertag", "../X", "--keep-last", "1"}, []string{"invalid gamertag"}},
		{[]string{"--gamertag", "X", "--keep-last", "1", "extra"}, []string{"extra"}},
		{[]string{"--gamertag", "X", "--keep-forever", "1"}, []string{"unknown flag"}},
	} {
		r := pruneCLI(t, dir, append([]string{"prune"}, c.args...)...)
		if r.Code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", c.args, r.Code, r.Stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, r.Stderr)
			}
		}
		if r.Stdout != "" {
			t.Errorf("%v: stdout %q", c.args, r.Stdout)
		}
	}
	// Usage errors come before any file is touched: not even a lock file.
	if ents, _ := os.ReadDir(filepath.Join(dir, "data", "backups", "X")); len(ents) != 0 {
		t.Errorf("usage errors created %v", ents)
	}
}

func TestPruneMissingFolders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := pruneCLI(t, dir, "prune", "--gamertag", "Nobody", "--keep-last", "1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "cannot prune Nobody: "+filepath.Join("data", "backups", "Nobody")+" does not exist") {
		t.Errorf("missing player: exit %d %q", r.Code, r.Stderr)
	}
	r = pruneCLI(t, dir, "prune", "--all", "--keep-last", "1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "check --output") {
		t.Errorf("missing backup root: exit %d %q", r.Code, r.Stderr)
	}
	os.MkdirAll(filepath.Join(dir, "data", "backups"), 0o755)
	r = pruneCLI(t, dir, "prune", "--all", "--keep-last", "1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "no player folders under") {
		t.Errorf("empty backup root: exit %d %q", r.Code, r.Stderr)
	}
}
