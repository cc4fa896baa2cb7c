package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// needRoot skips a fault test that needs mount(2) or setuid, saying why.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs or run as another user; run the suite as root (CI does)")
	}
}

func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs here (%v: %s); the full-disk test needs it", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// noLeftovers fails when a folder holds statsnap temporaries or journals.
func noLeftovers(t *testing.T, folder string) {
	t.Helper()
	entries, _ := os.ReadDir(folder)
	for _, e := range entries {
		if k, _ := snapshot.Classify(e.Name()); k == snapshot.KindTemp || k == snapshot.KindPending || k == snapshot.KindRemoving {
			t.Errorf("leftover %s in %s", e.Name(), folder)
		}
	}
}

// TestBackupDiskFull fills a small tmpfs: the backup fails with one
// sentence, the earlier snapshot stays byte for byte, nothing is left.
func TestBackupDiskFull(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 300)
	out := filepath.Join(dir, "small")
	mountTmpfs(t, out, "size=1200k")
	mustCLI(t, dir, "backup", "--gamertag", "p", "--output", out)
	folder := filepath.Join(out, "p")
	before := folderState(t, folder)
	// --full: unchanged data shares every file and needs no space.
	r := cli(t, dir, "backup", "--full", "--gamertag", "p", "--output", out)
	if r.Code != exitError || !strings.Contains(r.Stderr, "is full") || !strings.Contains(r.Stderr, "free space") {
		t.Fatalf("disk full: exit %d, %q", r.Code, r.Stderr)
	}
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
		t.Errorf("want one line, got %q", r.Stderr)
	}
	after := folderState(t, folder)
	if len(after) != len(before) {
		t.Errorf("the failed backup left files: before %v after %v", before, after)
	}
	if c := changedFiles(before, after); len(c) != 0 {
		t.Errorf("%s changed", c)
	}
	noLeftovers(t, folder)
}

// TestBackupReadOnlyOutput: a backup folder on a read-only file system is
// refused with one sentence; the snapshot there still lists.
func TestBackupReadOnlyOutput(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	out := filepath.Join(dir, "ro")
	mountTmpfs(t, out, "size=8m")
	mustCLI(t, dir, "backup", "--gamertag", "p", "--output", out)
	if b, err := exec.Command("mount", "-o", "remount,ro", out).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, b)
	}
	before := folderState(t, filepath.Join(out, "p"))
	r := cli(t, dir, "backup", "--gamertag", "p", "--output", out)
	if r.Code != exitError || !strings.Contains(r.Stderr, "read-only") || !strings.Contains(r.Stderr, "--output") {
		t.Fatalf("read-only output: exit %d, %q", r.Code, r.Stderr)
	}
	r = cli(t, dir, "backup", "--gamertag", "newplayer", "--output", out)
	if r.Code != exitError {
		t.Fatalf("read-only output, new player: exit %d, %q", r.Code, r.Stderr)
	}
	after := folderState(t, filepath.Join(out, "p"))
	if len(after) != len(before) || len(changedFiles(before, after)) != 0 {
		t.Errorf("folder changed: %v -> %v", before, after)
	}
	mustCLI(t, dir, "snapshots", "--output", out)
}

// TestBackupPermissionDenied runs the binary as nobody against a source it
// may not read.
func TestBackupPermissionDenied(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	src := samplePlayer(t, dir, "p", 5)
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()) && d != os.TempDir() {
			os.Chmod(d, 0o755)
		}
	}
	os.Chmod(src, 0o000)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o777)
	os.Chmod(out, 0o777)
	cmd := command(binPath, dir, []string{"HOME=" + out}, "backup", "--gamertag", "p", "--output", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitError || !strings.Contains(stderr.String(), "permission denied") {
		t.Fatalf("permission denied source: %v, %q", err, stderr.String())
	}
	noLeftovers(t, filepath.Join(out, "p"))
	if entries, _ := os.ReadDir(filepath.Join(out, "p")); len(entries) > 1 {
		t.Errorf("refused backup wrote files: %v", entries)
	}
}

// TestConcurrentBackups: a second backup of a player being backed up says
// why it cannot start, or waits with --lock-wait; ids never collide.
func TestConcurrentBackups(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a backup that lasts a few seconds; skipped with -short")
	}
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 6000)
	first := command(binPath, dir, nil, "backup", "--gamertag", "p")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first one holds the lock (its journal appears).
	folder := filepath.Join(dir, "data", "backups", "p")
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(folder)
		found := false
		for _, e := range entries {
			if k, _ := snapshot.Classify(e.Name()); k == snapshot.KindPending {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first backup never started writing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := cli(t, dir, "backup", "--gamertag", "p")
	if r.Code != exitError || !strings.Contains(r.Stderr, "another statsnap process") || !strings.Contains(r.Stderr, "--lock-wait") {
		t.Errorf("concurrent backup: exit %d, %q", r.Code, r.Stderr)
	}
	waited := mustCLI(t, dir, "backup", "--gamertag", "p", "--lock-wait", "2m", "--json")
	if err := first.Wait(); err != nil {
		t.Fatalf("first backup: %v", err)
	}
	var doc backupJSONDoc
	jsonOut(t, waited, &doc)
	var list struct {
		Snapshots []struct{ Snapshot, Status string } `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--json"), &list)
	if len(list.Snapshots) != 2 || list.Snapshots[0].Snapshot == list.Snapshots[1].Snapshot {
		t.Fatalf("want two distinct complete snapshots, got %+v", list.Snapshots)
	}
	for _, s := range list.Snapshots {
		if s.Status != "complete" {
			t.Errorf("snapshot %s is %s", s.Snapshot, s.Status)
		}
	}
}

// TestRestoreDiskFull: the target's disk fills while restore writes its
// verified copy and the new database. An existing target stays byte for
// byte, a new one is never created, no work folder is left, and the
// message is one sentence.
func TestRestoreDiskFull(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 2000)
	mustCLI(t, dir, "backup", "--gamertag", "p")
	backups := filepath.Join(dir, "data", "backups", "p")
	snapBefore := folderState(t, backups)

	small := filepath.Join(dir, "small")
	mountTmpfs(t, small, "size=2m")
	target := filepath.Join(small, "stats.duckdb")
	r := cli(t, dir, "restore", "--gamertag", "p", "--backup", backups, "--db", target)
	if r.Code != exitError {
		t.Fatalf("new target on a full disk: exit %d, %q", r.Code, r.Stderr)
	}
	t.Logf("new target: %s", r.Stderr)
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
		t.Errorf("want one line, got %q", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "is full") || !strings.Contains(r.Stderr, "free space") {
		t.Errorf("the message does not say the disk is full and what to do: %q", r.Stderr)
	}
	entries, _ := os.ReadDir(small)
	for _, e := range entries {
		if e.Name() != "lost+found" {
			t.Errorf("the failed restore left %s in the target's folder", e.Name())
		}
	}

	// An existing small target on a disk with little more room than it
	// takes: replacing its tables needs room for the verified copy, so it
	// is refused and the target kept as it was.
	samplePlayer(t, dir, "tiny", 5)
	tinyDB := filepath.Join(dir, "data", "players", "tiny", "stats.duckdb")
	fi, err := os.Stat(tinyDB)
	if err != nil {
		t.Fatal(err)
	}
	small = filepath.Join(dir, "small2")
	mountTmpfs(t, small, fmt.Sprintf("size=%dk", fi.Size()/1024+512))
	target = filepath.Join(small, "stats.duckdb")
	testutil.CopyFile(t, tinyDB, target)
	sum := testutil.BLAKE3(vReadFile(t, target))
	r = cli(t, dir, "restore", "--gamertag", "p", "--backup", backups, "--db", target, "--replace", "--force")
	if r.Code != exitError {
		t.Fatalf("existing target on a full disk: exit %d, %q", r.Code, r.Stderr)
	}
	t.Logf("existing target: %s", r.Stderr)
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 || !strings.Contains(r.Stderr, "is full") {
		t.Errorf("want one sentence about the full disk, got %q", r.Stderr)
	}
	if got := testutil.BLAKE3(vReadFile(t, target)); got != sum {
		t.Error("the target changed")
	}
	entries, _ = os.ReadDir(small)
	for _, e := range entries {
		if e.Name() != "stats.duckdb" {
			t.Errorf("the failed restore left %s next to the target", e.Name())
		}
	}
	after := folderState(t, backups)
	if c := changedFiles(snapBefore, after); len(c) != 0 {
		t.Errorf("snapshot files %s changed", c)
	}
}

// TestBackupMacroExportFails: the export that reads macros' parameter
// defaults fails (the temporary folder is full). DuckDB aborts the
// transaction a statement fails in, so that export runs on a connection
// of its own: the backup still succeeds, says in one warning that the
// defaults are missing, and the snapshot holds the data and the macro.
func TestBackupMacroExportFails(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "players", "m", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteDB(t, db, `CREATE TABLE t AS SELECT range AS n FROM range(100)`,
		`CREATE MACRO add_default(a, b := 2) AS a + b`, `COMMENT ON TABLE t IS 'read after the macros'`)
	tmp := filepath.Join(dir, "tmp")
	mountTmpfs(t, tmp, "size=64k")
	fill, err := os.Create(filepath.Join(tmp, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = fill.Write(make([]byte, 4096))
	}
	fill.Close()
	r := cliEnv(t, dir, []string{"TMPDIR=" + tmp}, "backup", "--gamertag", "m", "--json")
	if r.Code != 0 {
		t.Fatalf("backup with a full temporary folder: exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "macro parameter defaults could not be read") {
		t.Errorf("no warning about the defaults: %q", r.Stderr)
	}
	mustCLI(t, dir, "verify", "--backup", filepath.Join(dir, "data", "backups", "m"))
	target := filepath.Join(dir, "restored.duckdb")
	mustCLI(t, dir, "restore", "--gamertag", "m", "--db", target)
	rdb := testutil.OpenDB(t, target, false)
	got := append(testutil.Strings(t, rdb, `SELECT count(*)::VARCHAR FROM t`), testutil.Strings(t, rdb, `SELECT add_default(1, 5)::VARCHAR`)...)
	if fmt.Sprint(got) != "[100 6]" {
		t.Errorf("restored: %v, want the rows and the macro (without its default)", got)
	}
}
