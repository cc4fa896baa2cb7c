package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

type backupDoc struct {
	Snapshots []backupSnapJSON `json:"snapshots"`
}

// incBackup runs a backup at a given day of November 2026 and returns its
// JSON document.
func incBackup(t *testing.T, dir string, day int, extra ...string) backupSnapJSON {
	t.Helper()
	args := append([]string{"backup", "--gamertag", "Inc", "--json", "--time", fmt.Sprintf("2026-11-%02dT03:00:00Z", day)}, extra...)
	var doc backupDoc
	jsonOut(t, mustCLI(t, dir, args...), &doc)
	if len(doc.Snapshots) != 1 {
		t.Fatalf("backup: %+v", doc)
	}
	return doc.Snapshots[0]
}

// appendMatches appends n copies of existing matches' highlight events
// with new ids: what a week of play does to the biggest table.
func appendEvents(t *testing.T, src string, n int) {
	t.Helper()
	testutil.WriteDB(t, src, fmt.Sprintf(`INSERT INTO highlight_events SELECT * REPLACE (id + 100000000 + (SELECT max(id) FROM highlight_events) AS id) FROM highlight_events ORDER BY id LIMIT %d`, n))
}

// TestIncrementalSnapshots is a player's months: unchanged weeks cost no
// file, a week of appends writes about what it added, every snapshot
// verifies and restores exactly, prune keeps the files the survivors
// name, a shared file that rots is never shared again, and --full
// writes everything.
func TestIncrementalSnapshots(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "Inc", 3000)
	folder := filepath.Join(dir, "data", "backups", "Inc")

	first := incBackup(t, dir, 1)
	if first.Base != "" || first.SharedFiles != 0 || first.NewFiles < 16 {
		t.Fatalf("first backup: base %q, %d shared, %d new files", first.Base, first.SharedFiles, first.NewFiles)
	}
	if n := len(first.Tables["highlight_events"].Files); n < 2 {
		t.Errorf("highlight_events in %d files, want chunks", n)
	}

	same := incBackup(t, dir, 8)
	if same.Base != first.Snapshot || same.NewFiles != 0 || same.SharedFiles != first.NewFiles || same.NewBytes != 0 {
		t.Errorf("unchanged: base %q, %d new files (%d bytes), %d shared", same.Base, same.NewFiles, same.NewBytes, same.SharedFiles)
	}

	appendEvents(t, src, 2000)
	grown := incBackup(t, dir, 15)
	if grown.NewFiles == 0 || grown.NewFiles > 3 || grown.NewBytes*20 > first.NewBytes {
		t.Errorf("after 2,000 appended events: %d new files, %d bytes (a full snapshot is %d)", grown.NewFiles, grown.NewBytes, first.NewBytes)
	}
	for _, f := range grown.Tables["highlight_events"].Files {
		if !f.Shared && f.Rows > 2000+2048 {
			t.Errorf("appending rewrote %s with %d rows", f.File, f.Rows)
		}
	}

	// snapshots tells what each one wrote itself from what it names:
	// the difference is what it shares, as its backup said.
	var list struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--gamertag", "Inc", "--json"), &list)
	if len(list.Snapshots) != 3 {
		t.Fatalf("snapshots: %+v", list)
	}
	for i, b := range []backupSnapJSON{first, same, grown} {
		s := list.Snapshots[i]
		if s.Snapshot != b.Snapshot || s.SizeBytes-s.NewBytes != b.SharedBytes || s.NewBytes <= b.NewBytes {
			t.Errorf("snapshot %s: size %d, new %d; its backup wrote %d and shared %d", s.Snapshot, s.SizeBytes, s.NewBytes, b.NewBytes, b.SharedBytes)
		}
	}

	// Every snapshot verifies, and the newest restores exactly.
	mustCLI(t, dir, "verify", "--backup", folder, "--all")
	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--db", target, "--gamertag", "Inc", "--backup", folder)
	rsCompare(t, src, target, rsCmpOpts{})

	// Prune the two older snapshots: the files the newest shares stay.
	mustCLI(t, dir, "prune", "--gamertag", "Inc", "--keep-last", "1")
	mustCLI(t, dir, "verify", "--backup", folder)
	for _, tb := range grown.Tables {
		for _, f := range tb.Files {
			if _, err := os.Stat(filepath.Join(folder, f.File)); err != nil {
				t.Errorf("prune removed %s, which the surviving snapshot names", f.File)
			}
		}
	}
	for name := range folderState(t, folder) {
		if k, id := snapshot.Classify(name); k == snapshot.KindParquet && id != grown.Snapshot && !named(grown, name) {
			t.Errorf("prune left %s, which no snapshot names", name)
		}
	}

	// A shared file rots: the next backup hashes it (its time changed),
	// refuses it, says so, and writes those rows anew.
	victim := grown.Tables["match_stats"].File
	testutil.FlipByte(t, filepath.Join(folder, victim))
	r := mustCLI(t, dir, "backup", "--gamertag", "Inc", "--time", "2026-11-22T03:00:00Z")
	if !strings.Contains(r.Stderr, victim) || !strings.Contains(r.Stderr, "verify") {
		t.Errorf("the rotten file was not reported: %s", r.Stderr)
	}
	r = cli(t, dir, "verify", "--backup", folder, "--json")
	if r.Code != 0 {
		t.Errorf("the snapshot written after the rot does not verify: %s%s", r.Stdout, r.Stderr)
	}
	if r := cli(t, dir, "verify", "--backup", folder, "--snapshot", grown.Snapshot); r.Code != 3 {
		t.Errorf("verify of the snapshot naming the rotten file: exit %d", r.Code)
	}

	full := incBackup(t, dir, 29, "--full")
	if full.SharedFiles != 0 || full.Base != "" || full.NewFiles < 16 {
		t.Errorf("--full: base %q, %d shared, %d new", full.Base, full.SharedFiles, full.NewFiles)
	}
	mustCLI(t, dir, "verify", "--backup", folder, "--snapshot", full.Snapshot)
}

func named(s backupSnapJSON, file string) bool {
	for _, tb := range s.Tables {
		for _, f := range tb.Files {
			if f.File == file {
				return true
			}
		}
	}
	return false
}

// TestIncrementalBackupKilled: an incremental backup killed at any moment
// leaves every earlier snapshot complete and every file it shares in
// place; the next backup removes only what the killed one wrote.
func TestIncrementalBackupKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills backups at many moments; skipped with -short")
	}
	dir := t.TempDir()
	src := samplePlayer(t, dir, "Inc", 6000)
	folder := filepath.Join(dir, "data", "backups", "Inc")
	incBackup(t, dir, 1)
	appendEvents(t, src, 30000)
	// The kill right after the first new file is published, then kills at
	// moments across an incremental backup's run.
	r := faultCLI(t, dir, []string{"STATSNAP_TEST_CRASH_AFTER=publish-1"}, "backup", "--gamertag", "Inc", "--time", "2026-11-02T03:00:00Z")
	if r.Code != 137 && r.Code != -1 {
		t.Fatalf("the crash hook did not fire: exit %d %s", r.Code, r.Stderr)
	}
	start := time.Now()
	r = mustCLI(t, dir, "backup", "--gamertag", "Inc", "--time", "2026-11-03T03:00:00Z")
	took := time.Since(start)
	if !strings.Contains(r.Stderr, "leftover") {
		t.Errorf("the backup after the crash did not clean up: %s", r.Stderr)
	}
	mustCLI(t, dir, "verify", "--backup", folder, "--all")
	appendEvents(t, src, 30000)
	before := folderState(t, folder)
	killed := 1
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("2026-11-%02dT03:00:00Z", 10+i)
		cmd := command(binPath, dir, nil, "backup", "--gamertag", "Inc", "--time", id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(took * time.Duration(i) / 7)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if cmd.Wait() == nil {
			before = folderState(t, folder)
			continue
		}
		killed++
		after := folderState(t, folder)
		if c := changedFiles(before, after); len(c) != 0 {
			t.Fatalf("kill %d: %s changed or vanished", i, c)
		}
		// Whatever the kill left, every complete snapshot verifies.
		mustCLI(t, dir, "verify", "--backup", folder, "--all")
	}
	t.Logf("%d backups killed", killed)
	// The next backup cleans up and shares; everything verifies.
	mustCLI(t, dir, "backup", "--gamertag", "Inc", "--time", "2026-11-30T03:00:00Z")
	for name := range folderState(t, folder) {
		if k, _ := snapshot.Classify(name); k == snapshot.KindTemp || k == snapshot.KindPending {
			t.Errorf("leftover %s after the next backup", name)
		}
	}
	mustCLI(t, dir, "verify", "--backup", folder, "--all")
}

// TestObjectStoreIncremental: on every server, sharing is a name in a
// manifest, and verify, restore and prune honour it as on disk.
func TestObjectStoreIncremental(t *testing.T) {
	for _, server := range blobtest.Names {
		t.Run(server, func(t *testing.T) {
			s := newStore(t, server)
			dir := t.TempDir()
			src := samplePlayer(t, dir, "Inc", 40)
			s.must(t, dir, "backup", "--gamertag", "Inc", "--output", s.root, "--time", "2026-11-01T03:00:00Z")
			appendEvents(t, src, 50)
			var doc backupDoc
			jsonOut(t, s.must(t, dir, "backup", "--gamertag", "Inc", "--output", s.root, "--time", "2026-11-08T03:00:00Z", "--json"), &doc)
			if b := doc.Snapshots[0]; b.Base == "" || b.SharedFiles == 0 || b.NewFiles == 0 {
				t.Fatalf("second backup: base %q, %d shared, %d new", b.Base, b.SharedFiles, b.NewFiles)
			}
			s.must(t, dir, "verify", "--all", "--backup", s.folder("Inc"))
			s.must(t, dir, "prune", "--gamertag", "Inc", "--output", s.root, "--keep-last", "1")
			s.must(t, dir, "verify", "--all", "--backup", s.folder("Inc"))
			fresh := t.TempDir()
			s.must(t, fresh, "restore", "--backup", s.folder("Inc"), "--gamertag", "Inc")
			rsCompare(t, src, filepath.Join(fresh, "data", "players", "Inc", "stats.duckdb"), rsCmpOpts{})
			s.noStaging(t)
		})
	}
}

// polarsSum reads a table's files, in order, with nodejs-polars and
// returns its height and the sum of one integer column.
const polarsSum = `
const pl = require("nodejs-polars");
const [col, ...files] = process.argv.slice(1);
const df = pl.concat(files.map((f) => pl.readParquet(f)));
console.log(JSON.stringify({rows: df.height, sum: Number(df.getColumn(col).sum())}));
`

// TestPolarsReadsAnIncrementalSnapshot: a Polars user reads a table of an
// incremental snapshot (chunks, some shared with an earlier snapshot)
// from the files its manifest lists, without statsnap, and gets the
// database's rows.
func TestPolarsReadsAnIncrementalSnapshot(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		err = exec.Command(node, "-e", `require("nodejs-polars")`).Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI installs nodejs-polars (.ci/run), but node cannot load it: %v", err)
		}
		t.Skipf("node with nodejs-polars not available: %v", err)
	}
	dir := t.TempDir()
	src := samplePlayer(t, dir, "Inc", 3000)
	incBackup(t, dir, 1)
	appendEvents(t, src, 2500)
	grown := incBackup(t, dir, 8)
	ev := grown.Tables["highlight_events"]
	shared := 0
	for _, f := range ev.Files {
		if f.Shared {
			shared++
		}
	}
	if len(ev.Files) < 3 || shared == 0 {
		t.Fatalf("highlight_events: %d files, %d shared; the test needs both", len(ev.Files), shared)
	}
	var doc struct {
		Tables []struct {
			Files []struct{ Path string }
		}
	}
	jsonOut(t, mustCLI(t, dir, "files", "--backup", filepath.Join(dir, "data", "backups", "Inc"), "--json", "highlight_events"), &doc)
	args := []string{"-e", polarsSum, "id"}
	for _, f := range doc.Tables[0].Files {
		args = append(args, f.Path)
	}
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nodejs-polars: %v\n%s", err, out)
	}
	var got struct{ Rows, Sum int64 }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	db := testutil.OpenDB(t, src, false)
	var rows, sum int64
	if err := db.QueryRow("SELECT count(*), sum(id) FROM highlight_events").Scan(&rows, &sum); err != nil {
		t.Fatal(err)
	}
	if got.Rows != rows || got.Sum != sum {
		t.Errorf("Polars read %d rows summing to %d; the database holds %d rows summing to %d", got.Rows, got.Sum, rows, sum)
	}
}
