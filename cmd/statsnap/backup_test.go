package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

type backupJSONDoc struct {
	Snapshots []struct {
		Gamertag string `json:"gamertag"`
		Snapshot string `json:"snapshot"`
		Manifest string `json:"manifest"`
		Tables   map[string]struct {
			Rows   int64  `json:"rows"`
			File   string `json:"file"`
			BLAKE3 string `json:"blake3"`
		} `json:"tables"`
		TotalSizeBytes int64 `json:"total_size_bytes"`
	} `json:"snapshots"`
	Failed []struct {
		Gamertag string `json:"gamertag"`
		Error    string `json:"error"`
	} `json:"failed"`
}

func readManifest(t *testing.T, path string) (*snapshot.Parsed, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := snapshot.ParseManifest(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	return p, generic
}

// TestBackupManifest checks every field SPEC fixes, against the source
// database and against the bytes on disk.
func TestBackupManifest(t *testing.T) {
	dir := t.TempDir()
	gt := "Chocobo Flör"
	src := samplePlayer(t, dir, gt, 60)
	r := mustCLI(t, dir, "backup", "--gamertag", gt, "--json")
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	if len(doc.Snapshots) != 1 || len(doc.Failed) != 0 {
		t.Fatalf("want one snapshot and no failure, got %+v", doc)
	}
	s := doc.Snapshots[0]
	if s.Gamertag != gt || !snapshot.ValidID(s.Snapshot) {
		t.Fatalf("bad gamertag or id: %+v", s)
	}
	folder := filepath.Join(dir, "data", "backups", gt)
	if s.Manifest != filepath.Join("data", "backups", gt, "backup_metadata_"+s.Snapshot+".json") {
		t.Errorf("manifest path %q", s.Manifest)
	}
	p, generic := readManifest(t, filepath.Join(dir, s.Manifest))
	m := p.Manifest

	// The seed's fields keep their names and meaning.
	for _, k := range []string{"gamertag", "backup_timestamp", "backup_datetime", "source_db", "compression", "compression_level", "tables", "total_size_bytes", "total_size_mb"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("manifest lacks seed field %q", k)
		}
	}
	if m.Gamertag != gt || m.BackupTimestamp != s.Snapshot || m.Compression != "zstd" || m.CompressionLevel != 9 {
		t.Errorf("seed fields wrong: %+v", m)
	}
	if m.SourceDB != filepath.Join("data", "players", gt, "stats.duckdb") {
		t.Errorf("source_db %q", m.SourceDB)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$`).MatchString(m.BackupDatetime) {
		t.Errorf("backup_datetime %q lacks microseconds or offset", m.BackupDatetime)
	}
	if bt, _ := snapshot.ParseDatetime(m.BackupDatetime); snapshot.FormatID(bt) != s.Snapshot {
		t.Errorf("backup_datetime %s does not match id %s", m.BackupDatetime, s.Snapshot)
	}
	if m.FormatVersion != snapshot.FormatVersion || m.HashAlgorithm != "blake3" || m.ToolVersion == "" || m.DuckDBVersion != "v1.5.6" || m.StorageVersion == "" {
		t.Errorf("statsnap fields wrong: format %d hash %q tool %q duckdb %q storage %q", m.FormatVersion, m.HashAlgorithm, m.ToolVersion, m.DuckDBVersion, m.StorageVersion)
	}
	canon, err := p.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot.Checksum(canon); got != m.Checksum {
		t.Errorf("manifest checksum %s, recomputed %s", m.Checksum, got)
	}

	// Every base table of the source, empty ones included, with its rows.
	db := testutil.OpenDB(t, src, false)
	rows, err := db.Query(`SELECT schema_name, table_name, estimated_size FROM duckdb_tables() WHERE database_name = current_database()`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var total int64
	for rows.Next() {
		var sc, name string
		var est int64
		if err := rows.Scan(&sc, &name, &est); err != nil {
			t.Fatal(err)
		}
		key := name
		if sc != "main" {
			key = sc + "." + name
		}
		want[key] = true
	}
	rows.Close()
	if len(m.Tables) != len(want) || len(m.TableOrder) != len(want) {
		t.Fatalf("manifest has %d tables (order %d), source has %d", len(m.Tables), len(m.TableOrder), len(want))
	}
	sawEmpty := false
	for key, e := range m.Tables {
		if !want[key] {
			t.Errorf("manifest table %q is not in the source", key)
			continue
		}
		var n int64
		if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM "%s"."%s"`, e.Schema, e.Name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != e.Rows {
			t.Errorf("%s: manifest rows %d, source %d", key, e.Rows, n)
		}
		if n == 0 {
			sawEmpty = true
		}
		data, err := os.ReadFile(filepath.Join(folder, e.File))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if sum := testutil.BLAKE3(data); sum != e.BLAKE3 || s.Tables[key].BLAKE3 != e.BLAKE3 {
			t.Errorf("%s: blake3 manifest %s, json %s, independent %s", key, e.BLAKE3, s.Tables[key].BLAKE3, sum)
		}
		if int64(len(data)) != e.FileSizeBytes {
			t.Errorf("%s: size %d, manifest %d", key, len(data), e.FileSizeBytes)
		}
		if e.ArrowSchema == nil || len(e.ArrowSchema.Fields) == 0 || e.ArrowSchema.IPC == "" {
			t.Errorf("%s: no arrow schema", key)
		}
		if !strings.HasPrefix(e.CreateSQL, "CREATE TABLE") {
			t.Errorf("%s: create_sql %q", key, e.CreateSQL)
		}
		// DuckDB reads the file back with the same row count.
		var pn int64
		if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?)`, filepath.Join(folder, e.File)).Scan(&pn); err != nil || pn != e.Rows {
			t.Errorf("%s: read_parquet count %d (%v), want %d", key, pn, err, e.Rows)
		}
		total += e.FileSizeBytes
	}
	if !sawEmpty {
		t.Error("the sample's empty table is missing from the snapshot")
	}
	if total != m.TotalSizeBytes || total != s.TotalSizeBytes {
		t.Errorf("total_size_bytes %d (json %d), files add up to %d", m.TotalSizeBytes, s.TotalSizeBytes, total)
	}
	if len(m.Indexes) < 2 || len(m.Views) < 1 || len(m.Sequences) < 1 {
		t.Errorf("objects missing: %d indexes, %d views, %d sequences", len(m.Indexes), len(m.Views), len(m.Sequences))
	}
	// The sequence's recorded next value is what nextval would return.
	for _, sq := range m.Sequences {
		var last sql.NullInt64
		if err := db.QueryRow(`SELECT max(id) FROM highlight_events`).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if sq.Name == "highlight_events_id_seq" && sq.Next <= last.Int64 {
			t.Errorf("sequence %s next %d is not past max(id) %d", sq.Name, sq.Next, last.Int64)
		}
	}
	// Nothing but the snapshot and the lock is left in the folder.
	entries, _ := os.ReadDir(folder)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".statsnap") && e.Name() != ".statsnap.lock" && e.Name() != snapshot.LedgerName {
			t.Errorf("leftover %s", e.Name())
		}
	}
	if b3, err := exec.LookPath("b3sum"); err == nil {
		e := m.Tables["match_stats"]
		out, err := exec.Command(b3, filepath.Join(folder, e.File)).Output()
		if err != nil || !strings.HasPrefix(string(out), e.BLAKE3) {
			t.Errorf("b3sum says %q (%v), manifest %s", out, err, e.BLAKE3)
		}
	}
}

// TestBackupUsageErrors: bad flags and names are exit 2 and say why.
func TestBackupUsageErrors(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p1", 5)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"backup", "--gamertag", "p1", "--compression-level", "0"}, "between 1 and 22"},
		{[]string{"backup", "--gamertag", "p1", "--compression-level", "23"}, "between 1 and 22"},
		{[]string{"backup", "--gamertag", "../p1"}, "invalid gamertag"},
		{[]string{"backup", "--gamertag", "a/b"}, "invalid gamertag"},
		{[]string{"backup", "--gamertag", ".."}, "invalid gamertag"},
		{[]string{"backup"}, "choose what to back up"},
		{[]string{"backup", "--all", "--gamertag", "p1"}, "choose what to back up"},
		{[]string{"backup", "--gamertag", "p1", "--time", "yesterday"}, "RFC 3339"},
		{[]string{"backup", "--gamertag", "p1", "--bogus"}, "unknown flag"},
		{[]string{"backup", "--gamertag", "p1", "--compression-level", "x"}, "invalid argument"},
	}
	for _, c := range cases {
		r := cli(t, dir, c.args...)
		if r.Code != exitUsage || !strings.Contains(r.Stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, r.Code, r.Stderr, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "backups", "p1")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(dir, "data", "backups", "p1"))
		for _, e := range entries {
			if e.Name() != ".statsnap.lock" {
				t.Errorf("a refused backup wrote %s", e.Name())
			}
		}
	}
}

// TestBackupOperationalErrors: a missing or locked database is exit 1
// with one sentence naming the path or the process.
func TestBackupOperationalErrors(t *testing.T) {
	dir := t.TempDir()
	r := cli(t, dir, "backup", "--gamertag", "ghost")
	if r.Code != exitError || !strings.Contains(r.Stderr, filepath.Join("data", "players", "ghost", "stats.duckdb")) {
		t.Errorf("missing db: exit %d, %q", r.Code, r.Stderr)
	}
	src := samplePlayer(t, dir, "held", 5)
	// Another process holds the database open for writing, as the app does.
	db, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// DuckDB's lock is the process's: only another process meets it.
	r = binCLI(t, dir, nil, "backup", "--gamertag", "held")
	if r.Code != exitError || !strings.Contains(r.Stderr, fmt.Sprintf("process %d", os.Getpid())) || !strings.Contains(r.Stderr, "close") {
		t.Errorf("locked db: exit %d, %q", r.Code, r.Stderr)
	}
	if strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("want one line, got %q", r.Stderr)
	}
	db.Close()
	mustCLI(t, dir, "backup", "--gamertag", "held")
}

// TestBackupAllKeepsGoing: one broken player does not stop the others.
func TestBackupAllKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "alpha", 5)
	samplePlayer(t, dir, "gamma", 5)
	broken := filepath.Join(dir, "data", "players", "beta")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "stats.duckdb"), []byte("not a database"), 0o644)
	r := cli(t, dir, "backup", "--all", "--json")
	if r.Code != exitError {
		t.Fatalf("exit %d, want 1; %s", r.Code, r.Stderr)
	}
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	if len(doc.Snapshots) != 2 || len(doc.Failed) != 1 || doc.Failed[0].Gamertag != "beta" {
		t.Fatalf("want alpha and gamma backed up and beta failed, got %+v", doc)
	}
	if !strings.Contains(r.Stderr, "beta") {
		t.Errorf("stderr does not name the failed player: %q", r.Stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "data", "backups", "beta")); len(entries) > 1 {
		t.Errorf("failed backup left files: %v", entries)
	}
}

// TestBackupIDs: --time sets id and datetime; a taken id is refused with
// --time and waited out without it; --no-metadata makes a bare export.
func TestBackupIDs(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	r := mustCLI(t, dir, "backup", "--gamertag", "p", "--time", "2021-01-03T23:30:00+02:00", "--json")
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	at, _ := time.Parse(time.RFC3339, "2021-01-03T23:30:00+02:00")
	if doc.Snapshots[0].Snapshot != snapshot.FormatID(at) {
		t.Errorf("id %s, want %s", doc.Snapshots[0].Snapshot, snapshot.FormatID(at))
	}
	p, _ := readManifest(t, filepath.Join(dir, doc.Snapshots[0].Manifest))
	if p.BackupDatetime != "2021-01-03T23:30:00.000000+02:00" {
		t.Errorf("backup_datetime %q keeps neither the time nor its offset", p.BackupDatetime)
	}
	r = cli(t, dir, "backup", "--gamertag", "p", "--time", "2021-01-03T23:30:00+02:00")
	if r.Code != exitError || !strings.Contains(r.Stderr, "already holds snapshot") {
		t.Errorf("taken id: exit %d %q", r.Code, r.Stderr)
	}
	// Two backups at once: the lock serialises them, the ids differ.
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		var d backupJSONDoc
		jsonOut(t, mustCLI(t, dir, "backup", "--gamertag", "p", "--json"), &d)
		ids[d.Snapshots[0].Snapshot] = true
	}
	if len(ids) != 3 {
		t.Errorf("three quick backups got ids %v", ids)
	}
	mustCLI(t, dir, "backup", "--gamertag", "p", "--no-metadata", "--time", "2020-05-01T10:00:00Z")
	var list struct {
		Snapshots []struct{ Snapshot, Status string } `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--gamertag", "p", "--json"), &list)
	statuses := map[string]string{}
	for _, s := range list.Snapshots {
		statuses[s.Snapshot] = s.Status
	}
	bare := snapshot.FormatID(time.Date(2020, 5, 1, 10, 0, 0, 0, time.UTC))
	if statuses[bare] != "bare" || len(statuses) != 5 {
		t.Errorf("statuses %v, want 5 with %s bare", statuses, bare)
	}
}

// TestBackupDBNaming: --db goes to --gamertag, else the parent folder of
// a stats.duckdb, else the file's stem.
func TestBackupDBNaming(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "orig", 5)
	other := filepath.Join(dir, "elsewhere", "Spartan 117", "stats.duckdb")
	os.MkdirAll(filepath.Dir(other), 0o755)
	testutil.CopyFile(t, src, other)
	stem := filepath.Join(dir, "elsewhere", "my-export.duckdb")
	testutil.CopyFile(t, src, stem)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--db", other}, "Spartan 117"},
		{[]string{"backup", "--db", stem}, "my-export"},
		{[]string{"backup", "--db", stem, "--gamertag", "Named"}, "Named"},
	} {
		var d backupJSONDoc
		jsonOut(t, mustCLI(t, dir, append(c.args, "--json")...), &d)
		if d.Snapshots[0].Gamertag != c.want {
			t.Errorf("%v went to %q, want %q", c.args, d.Snapshots[0].Gamertag, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, d.Snapshots[0].Manifest)); err != nil {
			t.Error(err)
		}
	}
}

// folderState lists a folder's files with their contents' hashes.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		// The ledger is a cache of past checks that every run may replace
		// (and a kill may lose, costing only re-verification); it is not
		// part of any snapshot.
		if e.Name() == ".statsnap.lock" || e.Name() == snapshot.LedgerName {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = testutil.BLAKE3(data)[:16]
	}
	return out
}

// changedFiles lists, sorted, the files of state before (see folderState)
// that state after lacks or holds with other contents.
func changedFiles(before, after map[string]string) []string {
	var out []string
	for name, sum := range before {
		if got, ok := after[name]; !ok || got != sum {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// TestBackupKilled kills backups at many moments: no manifest ever
// appears for an unfinished snapshot, earlier snapshots stay byte for
// byte, and the next backup removes exactly the leftovers.
func TestBackupKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a large backup at many moments; skipped with -short")
	}
	dir := t.TempDir()
	samplePlayer(t, dir, "big", 8000)
	mustCLI(t, dir, "backup", "--gamertag", "big", "--time", "2020-01-01T00:00:00Z")
	folder := filepath.Join(dir, "data", "backups", "big")
	start := time.Now()
	// Full backups: an incremental one of unchanged data writes no file
	// (TestIncrementalBackupKilled kills those).
	mustCLI(t, dir, "backup", "--full", "--gamertag", "big", "--time", "2020-01-02T00:00:00Z")
	full := time.Since(start)
	t.Logf("one backup takes %v", full)
	os.RemoveAll(folder)
	os.MkdirAll(folder, 0o755)
	mustCLI(t, dir, "backup", "--gamertag", "big", "--time", "2020-01-01T00:00:00Z")
	before := folderState(t, folder)
	killed := 0
	// The killed runs' temp folder: what one leaves there (DuckDB's spill
	// space) is removed by the next run of statsnap with that TMPDIR.
	tmp := t.TempDir()
	scratch := func() []string {
		des, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, de := range des {
			if strings.HasPrefix(de.Name(), "statsnap-") {
				out = append(out, de.Name())
			}
		}
		return out
	}
	leftScratch, prevScratch := false, map[string]bool{}
	for i := 1; i <= 8; i++ {
		delay := full * time.Duration(i) / 9
		cmd := command(binPath, dir, []string{"TMPDIR=" + tmp}, "backup", "--full", "--gamertag", "big", "--time", fmt.Sprintf("2020-02-%02dT00:00:00Z", i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		id := snapshot.FormatID(time.Date(2020, 2, i, 0, 0, 0, 0, time.UTC))
		after := folderState(t, folder)
		_, hasManifest := after["backup_metadata_"+id+".json"]
		if err == nil {
			if !hasManifest {
				t.Errorf("kill %d: backup finished but no manifest", i)
			}
			continue
		}
		killed++
		// Only the run just killed may have left scratch folders: the
		// previous killed run's were removed when this one started.
		left := scratch()
		for _, n := range left {
			if prevScratch[n] {
				t.Errorf("kill %d: the scratch folder %s of an earlier killed run stays", i, n)
			}
		}
		prevScratch = map[string]bool{}
		for _, n := range left {
			prevScratch[n], leftScratch = true, true
		}
		if hasManifest {
			// Killed after the manifest's rename: it must be complete.
			r := cli(t, dir, "snapshots", "--gamertag", "big", "--json")
			if !strings.Contains(r.Stdout, `"status": "complete"`) {
				t.Errorf("kill %d: manifest present but snapshot not complete: %s", i, r.Stdout)
			}
		}
		if c := changedFiles(before, after); len(c) != 0 {
			t.Fatalf("kill %d: existing %s changed or vanished", i, c)
		}
		// The next run cleans up exactly the leftovers of the killed one.
		mustCLI(t, dir, "backup", "--gamertag", "big", "--time", fmt.Sprintf("2020-03-%02dT00:00:00Z", i))
		next := folderState(t, folder)
		for name := range next {
			k, fid := snapshot.Classify(name)
			if k == snapshot.KindTemp || k == snapshot.KindPending {
				t.Errorf("kill %d: leftover %s after the next backup", i, name)
			}
			if fid == id && !hasManifest {
				t.Errorf("kill %d: file %s of the killed backup survived cleanup", i, name)
			}
		}
		if c := changedFiles(before, next); len(c) != 0 {
			t.Fatalf("kill %d: existing %s changed by cleanup", i, c)
		}
		before = next
	}
	if killed == 0 {
		t.Fatal("no backup was killed mid-way; the test proved nothing")
	}
	t.Logf("%d of 8 backups killed mid-way", killed)
	if !leftScratch {
		t.Error("no killed backup left a scratch folder: the checks of their removal prove nothing")
	}
	binCLI(t, dir, []string{"TMPDIR=" + tmp}, "backup", "--gamertag", "big", "--time", "2020-04-01T00:00:00Z")
	if left := scratch(); len(left) > 0 {
		t.Errorf("the next backup left the killed ones' scratch folders: %v", left)
	}
	// Every manifest present is intact.
	names := []string{}
	for n := range folderState(t, folder) {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if snapshot.ManifestID(n) != "" {
			readManifest(t, filepath.Join(folder, n))
		}
	}
}

// TestBackupInterrupted: Ctrl-C stops a backup cleanly, leaving nothing.
func TestBackupInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a large backup; skipped with -short")
	}
	dir := t.TempDir()
	samplePlayer(t, dir, "big", 8000)
	folder := filepath.Join(dir, "data", "backups", "big")
	for _, delay := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond} {
		cmd := command(binPath, dir, nil, "backup", "--gamertag", "big")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Count the delay from when the backup folder exists: the process
		// is past its start-up (signal handling is set up before any
		// folder is opened), however loaded the machine is.
		for i := 0; i < 600; i++ {
			if _, err := os.Stat(folder); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(delay)
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		state := folderState(t, folder)
		if err == nil {
			t.Logf("backup finished before the interrupt at %v", delay)
			continue
		}
		if len(state) != 0 {
			t.Errorf("interrupted at %v: left %v", delay, state)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// On a loaded machine the signal can land before the Go
			// runtime has installed statsnap's handler: the kernel's
			// default kills it, having written nothing (checked above).
			t.Logf("interrupted at %v before statsnap started handling signals", delay)
			continue
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("interrupted at %v: stderr %q", delay, stderr.String())
		}
		if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
			t.Errorf("interrupted at %v: exit %d, want %d", delay, code, exitInterrupted)
		}
	}
}
