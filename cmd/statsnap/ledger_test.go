package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// These tests drive the verification ledger through the binary: prune
// counting only verified snapshots (the scenario of issue 13), verify
// --max-age against tampered ledgers, verify --budget covering a folder
// over several runs, whole-root verify and snapshots' last verification.

// corruptKeepingTimes flips one byte in the middle of a file and gives it
// back its modification time, as bit rot would: only reading it shows the
// change, so a check that trusted a ledger wrongly would miss it.
func corruptKeepingTimes(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	testutil.FlipByte(t, path)
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

type verifyDocT struct {
	OK        bool `json:"ok"`
	Snapshots []struct {
		Gamertag string `json:"gamertag"`
		Snapshot string `json:"snapshot"`
		OK       bool   `json:"ok"`
		Source   string `json:"source"`
		Problems []struct {
			File string `json:"file"`
			Kind string `json:"kind"`
		} `json:"problems"`
		Files []struct {
			File   string `json:"file"`
			Source string `json:"source"`
			Size   int64  `json:"size_bytes"`
		} `json:"files"`
	} `json:"snapshots"`
	Coverage *struct {
		Files       int    `json:"files"`
		Bytes       int64  `json:"bytes"`
		ReadBytes   int64  `json:"read_bytes"`
		NeverBytes  int64  `json:"never_checked_bytes"`
		NeverFiles  int    `json:"never_checked_files"`
		OldestCheck string `json:"oldest_check"`
	} `json:"coverage"`
	LedgerIgnored string `json:"ledger_ignored"`
	Players       []struct {
		Gamertag string `json:"gamertag"`
		OK       bool   `json:"ok"`
	} `json:"players"`
}

func verifyJSONRun(t *testing.T, dir string, want int, args ...string) verifyDocT {
	t.Helper()
	r := pruneCLI(t, dir, append([]string{"verify", "--json"}, args...)...)
	if r.Code != want {
		t.Fatalf("verify %v: exit %d, want %d\n%s\n%s", args, r.Code, want, r.Stdout, r.Stderr)
	}
	var doc verifyDocT
	jsonOut(t, r, &doc)
	return doc
}

// TestPruneKeepsTheIntactSnapshotOverACorruptNewerOne is issue 13's
// scenario end to end: a Parquet file of the newest snapshot is damaged,
// and prune --keep-last 1 must keep the older intact snapshot, report the
// damaged one as broken, and leave restore a snapshot that verifies.
func TestPruneKeepsTheIntactSnapshotOverACorruptNewerOne(t *testing.T) {
	dir := pruneFixture(t, "Chocoboflor")
	folder := filepath.Join(dir, "data", "backups", "Chocoboflor")
	ids := pruneBackups(t, dir, "Chocoboflor", "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z")
	older, newest := ids[0], ids[1]
	testutil.FlipByte(t, filepath.Join(folder, "match_stats_"+newest+".parquet"))

	// snapshots shows the last verification (backup's own check) and
	// that a file changed since.
	r := pruneMust(t, dir, "snapshots", "--gamertag", "Chocoboflor", "--json")
	var list struct {
		Snapshots []struct {
			Snapshot string `json:"snapshot"`
			Last     *struct {
				Depth string `json:"depth"`
				OK    bool   `json:"ok"`
			} `json:"last_verification"`
			Changed bool `json:"changed_since_verification"`
		} `json:"snapshots"`
	}
	jsonOut(t, r, &list)
	if len(list.Snapshots) != 2 || list.Snapshots[1].Last == nil || !list.Snapshots[1].Last.OK ||
		list.Snapshots[1].Last.Depth != "hash" || !list.Snapshots[1].Changed || list.Snapshots[0].Changed {
		t.Fatalf("snapshots before prune: %s", r.Stdout)
	}

	// Both the dry run and the real prune show the decision.
	for _, dry := range []bool{true, false} {
		args := []string{"--gamertag", "Chocoboflor", "--keep-last", "1"}
		if dry {
			args = append(args, "--dry-run")
		}
		doc := pruneJSONRun(t, dir, args...)
		keep, remove := decisions(t, doc, 0)
		wantEqual(t, "keep", keep, []string{older + ": last snapshot"})
		wantEqual(t, "remove", remove, []string{})
		b := doc.Groups[0].Broken
		if len(b) != 1 || b[0].Snapshot != newest || b[0].Removed || len(b[0].Problems) == 0 || b[0].Problems[0].Kind != "hash_mismatch" {
			t.Fatalf("dry=%v broken: %+v", dry, b)
		}
	}
	wantEqual(t, "complete", pruneStatuses(t, dir, "Chocoboflor")["complete"], []string{older, newest})
	// restore names the older snapshot as the newest that verifies, and
	// restores it.
	r = pruneCLI(t, dir, "restore", "--gamertag", "Chocoboflor", "--backup", folder, "--db", filepath.Join(dir, "restored.duckdb"))
	if r.Code != 3 || !strings.Contains(r.Stderr, older) {
		t.Fatalf("restore of the corrupt newest: exit %d\n%s", r.Code, r.Stderr)
	}
	pruneMust(t, dir, "restore", "--gamertag", "Chocoboflor", "--backup", folder, "--snapshot", older, "--db", filepath.Join(dir, "restored.duckdb"))

	// --remove-broken removes the corrupt snapshot, journaled like any
	// removal; the verified one stays.
	doc := pruneJSONRun(t, dir, "--gamertag", "Chocoboflor", "--keep-last", "1", "--remove-broken")
	if b := doc.Groups[0].Broken; len(b) != 1 || !b[0].Removed {
		t.Fatalf("--remove-broken: %+v", b)
	}
	wantEqual(t, "complete", pruneStatuses(t, dir, "Chocoboflor")["complete"], []string{older})

	// When none verifies, prune removes nothing and exits 3, even with
	// --remove-broken.
	testutil.FlipByte(t, filepath.Join(folder, "match_stats_"+older+".parquet"))
	before := listingWithoutLedger(t, folder)
	r = pruneCLI(t, dir, "prune", "--gamertag", "Chocoboflor", "--keep-last", "1", "--remove-broken")
	if r.Code != 3 || !strings.Contains(r.Stderr, "no snapshot of Chocoboflor verifies, so prune removed nothing") {
		t.Fatalf("prune with none verifying: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	wantEqual(t, "folder", listingWithoutLedger(t, folder), before)
	r = pruneCLI(t, dir, "prune", "--json", "--gamertag", "Chocoboflor", "--keep-last", "1")
	var none pruneDocT
	jsonOut(t, r, &none)
	if r.Code != 3 || !none.Groups[0].NoneVerifies {
		t.Fatalf("--json with none verifying: exit %d\n%s", r.Code, r.Stdout)
	}
}

// TestPruneVerifyMaxAge: with a fresh ledger prune reads nothing; with
// --verify-max-age 0 it reads every file, and so catches damage that
// left the file's size and time alone.
func TestPruneVerifyMaxAge(t *testing.T) {
	dir := pruneFixture(t, "X")
	folder := filepath.Join(dir, "data", "backups", "X")
	ids := pruneBackups(t, dir, "X", "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z")
	doc := pruneJSONRun(t, dir, "--gamertag", "X", "--keep-last", "2", "--dry-run")
	if len(doc.Groups[0].Keep) != 2 {
		t.Fatalf("keep: %+v", doc.Groups[0].Keep)
	}
	var how pruneHowDoc
	jsonOut(t, pruneMust(t, dir, "prune", "--json", "--gamertag", "X", "--keep-last", "2", "--dry-run"), &how)
	for _, k := range how.Groups[0].Keep {
		if k.Verification.How != "ledger" || k.Verification.ReadFiles != 0 {
			t.Errorf("fresh ledger: %s verified %+v", k.Snapshot, k.Verification)
		}
	}
	corruptKeepingTimes(t, filepath.Join(folder, "match_stats_"+ids[1]+".parquet"))
	jsonOut(t, pruneMust(t, dir, "prune", "--json", "--gamertag", "X", "--keep-last", "1", "--verify-max-age", "0", "--dry-run"), &how)
	if len(how.Groups[0].Broken) != 1 || how.Groups[0].Broken[0].Snapshot != ids[1] || how.Groups[0].Keep[0].Snapshot != ids[0] ||
		how.Groups[0].Keep[0].Verification.How != "checked now" {
		t.Fatalf("--verify-max-age 0: %+v", how.Groups[0])
	}
	if r := pruneCLI(t, dir, "prune", "--gamertag", "X", "--keep-last", "1", "--verify-max-age", "soon"); r.Code != 2 {
		t.Fatalf("bad --verify-max-age: exit %d", r.Code)
	}
}

type pruneHowDoc struct {
	Groups []struct {
		Keep []struct {
			Snapshot     string `json:"snapshot"`
			Verification struct {
				State     string `json:"state"`
				How       string `json:"how"`
				ReadFiles int    `json:"read_files"`
			} `json:"verification"`
		} `json:"keep"`
		Broken []struct {
			Snapshot string `json:"snapshot"`
		} `json:"broken"`
	} `json:"groups"`
}

// TestTamperedLedgerNeverSkipsACorruptFile: a file is damaged without
// changing its size or time, so only a ledger record could make verify
// --max-age skip it. An honest ledger does (that is what --max-age is
// for, and it proves this test can fail); an edited, truncated, swapped
// or forged one must not.
func TestTamperedLedgerNeverSkipsACorruptFile(t *testing.T) {
	dir := pruneFixture(t, "Chocoboflor", "JGtm")
	for _, p := range []string{"Chocoboflor", "JGtm"} {
		pruneBackups(t, dir, p, "2026-01-01T10:00:00Z")
	}
	keyFile := filepath.Join(dir, "key")
	pruneMust(t, dir, "key", "generate", keyFile)
	otherKey := filepath.Join(dir, "other-key")
	pruneMust(t, dir, "key", "generate", otherKey)
	folder := filepath.Join(dir, "data", "backups", "Chocoboflor")
	ledgerPath := filepath.Join(folder, snapshot.LedgerName)
	victim := filepath.Join(folder, "match_stats_20260101_100000.parquet")
	corruptKeepingTimes(t, victim)

	f, err := local.OpenFolder(folder, false)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Scan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	// honest is what a verify would have written had it run just before
	// the damage (which kept the files' times): every file of the
	// snapshot passed a hash check.
	checked := time.Now()
	honest := func(folderName string) *snapshot.Ledger {
		l := snapshot.NewLedger(folderName)
		for _, tb := range snaps[0].Manifest.Tables {
			fi, err := os.Stat(filepath.Join(folder, tb.File))
			if err != nil {
				t.Fatal(err)
			}
			l.Record(tb.File, tb, fi.ModTime(), checked, snapshot.DepthHash, "")
		}
		return l
	}
	write := func(data []byte) {
		if err := os.WriteFile(ledgerPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	marshal := func(l *snapshot.Ledger, keyPath string) []byte {
		var key []byte
		if keyPath != "" {
			if key, err = snapshot.LoadKey(keyPath); err != nil {
				t.Fatal(err)
			}
		}
		data, err := snapshot.MarshalLedger(l, key)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	args := []string{"--backup", folder, "--max-age", "7d"}

	// The controls: an honest ledger stands for the damaged file, with and
	// without a key.
	write(marshal(honest("Chocoboflor"), ""))
	if doc := verifyJSONRun(t, dir, 0, args...); doc.Snapshots[0].Source != "ledger" {
		t.Fatalf("honest ledger not used: %+v", doc.Snapshots[0])
	}
	// The backups were made without a key: --allow-unverified accepts
	// their missing MACs, and leaves every other problem a problem.
	keyArgs := append(slices.Clone(args), "--key-file", keyFile, "--allow-unverified")
	write(marshal(honest("Chocoboflor"), keyFile))
	if doc := verifyJSONRun(t, dir, 0, keyArgs...); doc.Snapshots[0].Source != "ledger" {
		t.Fatalf("honest keyed ledger not used: %+v", doc.Snapshots[0])
	}

	jgtm, err := os.ReadFile(filepath.Join(dir, "data", "backups", "JGtm", snapshot.LedgerName))
	if err != nil {
		t.Fatal(err)
	}
	good := marshal(honest("Chocoboflor"), "")
	cases := []struct {
		name string
		data []byte
		key  string
	}{
		{"edited", bytes.Replace(good, []byte(`"depth":"hash"`), []byte(`"depth":"deep"`), 1), ""},
		{"truncated", good[:len(good)-40], ""},
		{"swapped in from another player's folder", jgtm, ""},
		{"bound to another folder, though its records match", marshal(honest("JGtm"), ""), ""},
		{"forged without the key", marshal(honest("Chocoboflor"), ""), keyFile},
		{"forged with another key", marshal(honest("Chocoboflor"), otherKey), keyFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			write(c.data)
			a := args
			if c.key != "" {
				a = keyArgs
			}
			doc := verifyJSONRun(t, dir, 3, a...)
			if doc.LedgerIgnored == "" {
				t.Errorf("the ledger was not reported as ignored")
			}
			found := false
			for _, p := range doc.Snapshots[0].Problems {
				found = found || (p.Kind == "hash_mismatch" && p.File == filepath.Base(victim))
			}
			if !found {
				t.Fatalf("the damaged file was not found: %+v", doc.Snapshots[0].Problems)
			}
		})
	}
}

// TestVerifyBudgetQuarterCoversEveryFileInFourRuns: with a budget of a
// quarter of the data, four runs read every file, least recently checked
// first; the coverage says how much was never checked.
func TestVerifyBudgetQuarterCoversEveryFileInFourRuns(t *testing.T) {
	dir := pruneFixture(t, "X")
	folder := filepath.Join(dir, "data", "backups", "X")
	pruneBackups(t, dir, "X", "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z")
	// Start from no ledger: every file is "never checked".
	os.Remove(filepath.Join(folder, snapshot.LedgerName))

	read := map[string]bool{}
	var all []string
	var total int64
	for run := 1; run <= 4; run++ {
		doc := verifyJSONRun(t, dir, 0, "--backup", folder, "--budget", "25%")
		if len(doc.Snapshots) != 3 {
			t.Fatalf("run %d verified %d snapshots; --budget implies --all", run, len(doc.Snapshots))
		}
		var readNow int64
		reread := false
		all = all[:0]
		for _, s := range doc.Snapshots {
			for _, f := range s.Files {
				all = append(all, f.File)
				if f.Source == "read" {
					reread = reread || read[f.File]
					read[f.File] = true
					readNow += f.Size
				}
			}
		}
		// Least recently checked first: a run reads a file again only
		// once every file never checked has been read.
		if reread && len(read) != len(all) {
			t.Errorf("run %d read a file again while %d of %d were never read", run, len(all)-len(read), len(all))
		}
		c := doc.Coverage
		total = c.Bytes
		if readNow != c.ReadBytes || 4*c.ReadBytes < c.Bytes && run < 4 && c.NeverBytes > 0 {
			t.Errorf("run %d read %d bytes (coverage %+v), want at least a quarter of %d", run, readNow, c, c.Bytes)
		}
		wantNever := run < 4
		if (c.NeverBytes > 0) != wantNever {
			t.Errorf("run %d: never checked %d bytes", run, c.NeverBytes)
		}
		if c.OldestCheck == "" {
			t.Errorf("run %d: no oldest check in %+v", run, c)
		}
	}
	for _, f := range all {
		if !read[f] {
			t.Errorf("%s was not read in four runs", f)
		}
	}
	if total == 0 {
		t.Fatal("no data")
	}
	// Now every file was checked once; a fifth run starts again with the
	// files checked longest ago (the first run's).
	doc := verifyJSONRun(t, dir, 0, "--backup", folder, "--budget", "25%")
	if doc.Coverage.NeverBytes != 0 || doc.Coverage.NeverFiles != 0 {
		t.Errorf("after four runs: %+v", doc.Coverage)
	}
	// The text report says the same.
	r := pruneMust(t, dir, "verify", "--backup", folder, "--budget", "1B")
	if !strings.Contains(r.Stdout, "coverage: ") || !strings.Contains(r.Stdout, "never checked: 0 files") {
		t.Errorf("text coverage:\n%s", r.Stdout)
	}
}

// TestVerifyWholeRoot: a backup root given as --backup (or --all-players)
// verifies every player folder, with one exit code for all.
func TestVerifyWholeRoot(t *testing.T) {
	dir := pruneFixture(t, "A", "B")
	for _, p := range []string{"A", "B"} {
		pruneBackups(t, dir, p, "2026-01-01T10:00:00Z")
	}
	root := filepath.Join(dir, "data", "backups")
	doc := verifyJSONRun(t, dir, 0, "--backup", root)
	if len(doc.Players) != 2 || !doc.Players[0].OK || !doc.Players[1].OK || len(doc.Snapshots) != 2 || doc.Snapshots[1].Gamertag != "B" {
		t.Fatalf("root verify: %+v", doc)
	}
	testutil.FlipByte(t, filepath.Join(root, "B", "match_stats_20260101_100000.parquet"))
	for _, args := range [][]string{{"--backup", root}, {"--all-players"}} {
		doc = verifyJSONRun(t, dir, 3, args...)
		if doc.OK || !doc.Players[0].OK || doc.Players[1].OK {
			t.Fatalf("%v: %+v", args, doc.Players)
		}
	}
	r := pruneCLI(t, dir, "verify", "--backup", root)
	if r.Code != 3 || !strings.Contains(r.Stdout, "== A (") || !strings.Contains(r.Stdout, "FAILED: 1 of 2 player folders") {
		t.Fatalf("text: exit %d\n%s", r.Code, r.Stdout)
	}
	if r := pruneCLI(t, dir, "verify", "--backup", root, "--snapshot", "20260101_100000"); r.Code != 2 {
		t.Fatalf("--snapshot with a root: exit %d", r.Code)
	}
}

// listingWithoutLedger is pruneListing without the ledger, which records
// what a prune found even when it removes nothing.
func listingWithoutLedger(t *testing.T, folder string) []string {
	t.Helper()
	var out []string
	for _, l := range pruneListing(t, folder) {
		if !strings.HasPrefix(l, snapshot.LedgerName+" ") {
			out = append(out, l)
		}
	}
	return out
}

// TestRestoreRecordsItsChecks: restore hashes every file it restores,
// ledger or not, and records what it found in the ledger.
func TestRestoreRecordsItsChecks(t *testing.T) {
	dir := pruneFixture(t, "X")
	folder := filepath.Join(dir, "data", "backups", "X")
	id := pruneBackups(t, dir, "X", "2026-01-01T10:00:00Z")[0]
	ledgerPath := filepath.Join(folder, snapshot.LedgerName)
	os.Remove(ledgerPath)
	pruneMust(t, dir, "restore", "--gamertag", "X", "--backup", folder, "--db", filepath.Join(dir, "r1.duckdb"))
	f, err := local.OpenFolder(folder, false)
	if err != nil {
		t.Fatal(err)
	}
	l, err := snapshot.LoadLedger(context.Background(), f, "X", nil)
	if err != nil {
		t.Fatalf("restore wrote no ledger: %v", err)
	}
	if c, ok := l.Snapshots[id]; !ok || !c.OK || c.Depth != snapshot.DepthHash || len(l.Files) == 0 {
		t.Fatalf("ledger after restore: %+v", l.Snapshots)
	}
	// A fresh ledger does not make restore skip a damaged file.
	corruptKeepingTimes(t, filepath.Join(folder, "match_stats_"+id+".parquet"))
	r := pruneCLI(t, dir, "restore", "--gamertag", "X", "--backup", folder, "--db", filepath.Join(dir, "r2.duckdb"))
	if r.Code != 3 {
		t.Fatalf("restore of a damaged snapshot with a fresh ledger: exit %d\n%s", r.Code, r.Stderr)
	}
	if l, err = snapshot.LoadLedger(context.Background(), f, "X", nil); err != nil || l.Snapshots[id].OK {
		t.Fatalf("ledger after the refused restore: %+v %v", l, err)
	}
}

// TestSnapshotsChangedSinceCoarseClock: a file rewritten right after its
// check can carry a modification time earlier than the check's, because
// file systems stamp writes with a coarse clock; snapshots still reports
// it changed, by comparing with the time the check recorded.
func TestSnapshotsChangedSinceCoarseClock(t *testing.T) {
	dir := pruneFixture(t, "P")
	ids := pruneBackups(t, dir, "P", "2026-01-01T10:00:00Z")
	p := filepath.Join(dir, "data", "backups", "P", "match_stats_"+ids[0]+".parquet")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	testutil.FlipByte(t, p)
	earlier := fi.ModTime().Add(-time.Second)
	if err := os.Chtimes(p, earlier, earlier); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Snapshots []struct {
			Changed bool `json:"changed_since_verification"`
		} `json:"snapshots"`
	}
	r := pruneMust(t, dir, "snapshots", "--gamertag", "P", "--json")
	jsonOut(t, r, &list)
	if len(list.Snapshots) != 1 || !list.Snapshots[0].Changed {
		t.Fatalf("a file rewritten with an earlier time is not reported changed: %s", r.Stdout)
	}
}
