package prune

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/retention"
	"github.com/openspartan/statsnap/snapshot"
)

// These tests drive Run on a real folder with seed-style (legacy)
// manifests and real one-row Parquet files written by arrow-go, which
// need no DuckDB: what prune does with files does not depend on how the
// Parquet was written, and seed-made snapshots verify by presence and
// footer row count. The end-to-end tests in
// cmd/statsnap cover real backups.

// writeLegacy writes a seed-made snapshot: one file per table (named by
// files, table -> file name, created unless it is not a plain name) and a
// manifest without format_version.
func writeLegacy(t *testing.T, dir, id, datetime string, files map[string]string) {
	t.Helper()
	tables := map[string]any{}
	for table, file := range files {
		data := oneRowParquet(t)
		tables[table] = map[string]any{"rows": 1, "file_size_bytes": len(data), "file": file}
		if storage.CheckName(file) == nil {
			if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := map[string]any{
		"gamertag": "X", "backup_timestamp": id, "backup_datetime": datetime,
		"source_db": "data/players/X/stats.duckdb", "compression": "zstd", "compression_level": 9,
		"tables": tables, "total_size_bytes": 4 * len(files), "total_size_mb": 0.0,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshot.ManifestName(id)), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snap writes a two-table legacy snapshot taken at datetime (RFC 3339).
func snap(t *testing.T, dir, datetime string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, datetime)
	if err != nil {
		t.Fatal(err)
	}
	id := snapshot.FormatID(tm)
	writeLegacy(t, dir, id, datetime, map[string]string{
		"match_stats":   "match_stats_" + id + ".parquet",
		"medals_earned": "medals_earned_" + id + ".parquet",
	})
	return id
}

func touch(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func folder(t *testing.T) (*local.Folder, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := local.OpenFolder(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func ids(t *testing.T, f storage.Folder, status snapshot.Status) []string {
	t.Helper()
	list := scan(t, f)
	var out []string
	for _, s := range list {
		if s.Status == status {
			out = append(out, s.ID)
		}
	}
	return out
}

func TestRunKeepLastRemovesOnlyClaimedFiles(t *testing.T) {
	f, dir := folder(t)
	a := snap(t, dir, "2025-01-01T10:00:00Z")
	b := snap(t, dir, "2025-01-02T10:00:00Z")
	c := snap(t, dir, "2025-01-03T10:00:00Z")
	d := snap(t, dir, "2025-01-04T10:00:00Z")
	// Files no manifest claims: a user's note, a bare export, and a file
	// carrying the id of a snapshot that will be removed but that its
	// manifest does not list.
	touch(t, filepath.Join(dir, "notes.txt"), "mine")
	touch(t, filepath.Join(dir, "match_stats_20240101_000000.parquet"), "bare")
	touch(t, filepath.Join(dir, "extra_"+a+".parquet"), "unlisted")

	// The unlisted file makes a fail verification (unexpected_file): it is
	// broken, so only --remove-broken removes it, and its removal still
	// leaves the unlisted file alone.
	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 2}, RemoveBroken: true})
	if err != nil {
		t.Fatal(err)
	}
	var kept, removed, broken []string
	for _, k := range res.Keep {
		kept = append(kept, k.Snapshot.ID)
	}
	for _, r := range res.Remove {
		removed = append(removed, r.Snapshot.ID)
	}
	for _, br := range res.Broken {
		broken = append(broken, br.Snapshot.ID)
	}
	for _, r := range res.removals() {
		if !r.Removed || r.Err != nil {
			t.Errorf("%s: removed=%v err=%v", r.Snapshot.ID, r.Removed, r.Err)
		}
	}
	if !slices.Equal(kept, []string{d, c}) || !slices.Equal(removed, []string{b}) || !slices.Equal(broken, []string{a}) {
		t.Fatalf("kept %v removed %v broken %v", kept, removed, broken)
	}
	if res.Removed() != 2 {
		t.Errorf("Removed() = %d", res.Removed())
	}
	// Each removed snapshot frees its manifest and its two files, not the
	// unlisted file that shares a's id.
	var want int64
	for _, r := range res.removals() {
		want += r.Snapshot.ManifestRaw + 2*int64(len(oneRowParquet(t)))
	}
	if res.Freed != want {
		t.Errorf("freed %d, want %d", res.Freed, want)
	}
	got := testutil.Names(t, dir)
	wantFiles := []string{
		snapshot.ManifestName(c), snapshot.ManifestName(d),
		"extra_" + a + ".parquet",
		"match_stats_20240101_000000.parquet",
		"match_stats_" + c + ".parquet", "match_stats_" + d + ".parquet",
		"medals_earned_" + c + ".parquet", "medals_earned_" + d + ".parquet",
		"notes.txt",
	}
	slices.Sort(wantFiles)
	if !slices.Equal(got, wantFiles) {
		t.Fatalf("folder holds\n%v\nwant\n%v", got, wantFiles)
	}
	// The bare export and the unlisted file are reported, never counted.
	var skipped []string
	for _, s := range res.Skip {
		skipped = append(skipped, s.Snapshot.ID+":"+string(s.Snapshot.Status))
	}
	if !slices.Equal(skipped, []string{"20240101_000000:bare"}) {
		t.Errorf("skipped %v", skipped)
	}
}

func TestRunDryRunChangesNothing(t *testing.T) {
	f, dir := folder(t)
	for _, ts := range []string{"2025-01-01T10:00:00Z", "2025-02-01T10:00:00Z", "2025-03-01T10:00:00Z"} {
		snap(t, dir, ts)
	}
	// Leftovers a real run would clean: an interrupted removal and an old
	// temporary.
	victim := snap(t, dir, "2024-12-01T10:00:00Z")
	os.Remove(filepath.Join(dir, snapshot.ManifestName(victim)))
	touch(t, filepath.Join(dir, snapshot.RemovingName(victim)),
		`{"snapshot":"`+victim+`","files":["match_stats_`+victim+`.parquet"]}`)
	tmp := filepath.Join(dir, snapshot.TempName("", "old"))
	touch(t, tmp, "x")
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(tmp, old, old)

	before := testutil.Names(t, dir)
	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if after := testutil.Names(t, dir); !slices.Equal(before, after) {
		t.Fatalf("dry run changed the folder:\nbefore %v\nafter  %v", before, after)
	}
	if len(res.Keep) != 1 || len(res.Remove) != 2 || res.Removed() != 0 || len(res.Cleanup.Removed) != 0 {
		t.Fatalf("plan: keep %d remove %d removed %d cleaned %v", len(res.Keep), len(res.Remove), res.Removed(), res.Cleanup.Removed)
	}
	if res.Freed == 0 {
		t.Error("dry run should report the space a removal would free")
	}
	if len(res.Skip) != 1 || res.Skip[0].Snapshot.Status != snapshot.StatusIncomplete {
		t.Errorf("skip = %+v", res.Skip)
	}
}

func TestRunRefusesManifestNamingForeignFiles(t *testing.T) {
	f, dir := folder(t)
	keep := snap(t, dir, "2025-06-01T10:00:00Z")
	plain := snap(t, dir, "2025-01-01T10:00:00Z")
	// A planted seed-style manifest that claims the kept snapshot's file
	// and a file of no snapshot at all.
	touch(t, filepath.Join(dir, "report.parquet"), "user")
	writeLegacy(t, dir, "20250301_100000", "2025-03-01T10:00:00Z", map[string]string{
		"match_stats": "match_stats_" + keep + ".parquet",
	})
	writeLegacy(t, dir, "20250401_100000", "2025-04-01T10:00:00Z", map[string]string{
		"report": "report.parquet",
	})

	// The planted manifests fail verification (they name files of no
	// snapshot of theirs), so the policy never removes them; even
	// --remove-broken refuses to.
	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 1}, RemoveBroken: true})
	if err == nil || !strings.Contains(err.Error(), "refused to remove snapshot 20250301_100000") ||
		!strings.Contains(err.Error(), "refused to remove snapshot 20250401_100000") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Broken) != 2 {
		t.Errorf("broken: %+v", res.Broken)
	}
	for _, r := range res.removals() {
		switch r.Snapshot.ID {
		case plain:
			if !r.Removed {
				t.Errorf("%s should be removed despite the refusals: %v", plain, r.Err)
			}
		default:
			if r.Refused == nil || r.Removed {
				t.Errorf("%s: refused=%v removed=%v", r.Snapshot.ID, r.Refused, r.Removed)
			}
		}
	}
	for _, name := range []string{"match_stats_" + keep + ".parquet", "report.parquet",
		snapshot.ManifestName("20250301_100000"), snapshot.ManifestName("20250401_100000")} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s should survive: %v", name, err)
		}
	}
}

func TestRunSkipsCorruptAndUnusableJournals(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "X")
	os.Mkdir(dir, 0o755)
	f, _ := local.OpenFolder(dir, false)
	outside := filepath.Join(parent, "outside.txt")
	touch(t, outside, "precious")

	newest := snap(t, dir, "2025-06-01T10:00:00Z")
	snap(t, dir, "2025-05-01T10:00:00Z")
	// Planted manifests naming a file outside the folder: unreadable, so
	// they neither count nor get removed.
	writeLegacy(t, dir, "20250101_100000", "2025-01-01T10:00:00Z", map[string]string{"t": "../outside.txt"})
	writeLegacy(t, dir, "20250102_100000", "2025-01-02T10:00:00Z", map[string]string{"t": outside})
	// The newest files of all belong to a crashed backup whose journal
	// cannot be trusted: they must not count as the newest snapshot.
	touch(t, filepath.Join(dir, "match_stats_20250701_100000.parquet"), "x")
	touch(t, filepath.Join(dir, snapshot.PendingName("20250701_100000")), `{"snapshot":"20250701_100000","files":["../outside.txt"]}`)
	// And one whose journal is fine: recovery rolls it back.
	touch(t, filepath.Join(dir, "match_stats_20250702_100000.parquet"), "x")
	touch(t, filepath.Join(dir, snapshot.PendingName("20250702_100000")), `{"snapshot":"20250702_100000","files":["match_stats_20250702_100000.parquet"]}`)

	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keep) != 1 || res.Keep[0].Snapshot.ID != newest {
		t.Fatalf("keep = %+v", res.Keep)
	}
	if len(res.Remove) != 1 || !res.Remove[0].Removed {
		t.Fatalf("remove = %+v", res.Remove)
	}
	var skipped []string
	for _, s := range res.Skip {
		skipped = append(skipped, s.Snapshot.ID+":"+string(s.Snapshot.Status))
	}
	want := []string{"20250701_100000:incomplete", "20250102_100000:corrupt", "20250101_100000:corrupt"}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if !slices.Contains(res.Cleanup.Removed, "match_stats_20250702_100000.parquet") || len(res.Cleanup.Skipped) != 1 {
		t.Errorf("cleanup = %+v", res.Cleanup)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "precious" {
		t.Errorf("outside file: %q %v", b, err)
	}
	for _, name := range []string{"match_stats_20250701_100000.parquet", snapshot.PendingName("20250701_100000"),
		snapshot.ManifestName("20250101_100000"), snapshot.ManifestName("20250102_100000")} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s should survive: %v", name, err)
		}
	}
}

func TestRunFinishesInterruptedRemoval(t *testing.T) {
	f, dir := folder(t)
	keep := snap(t, dir, "2025-06-01T10:00:00Z")
	victim := snap(t, dir, "2025-05-01T10:00:00Z")
	// What a prune killed right after deleting the manifest leaves.
	j, _ := json.Marshal(map[string]any{"snapshot": victim, "files": []string{
		"match_stats_" + victim + ".parquet", "medals_earned_" + victim + ".parquet", snapshot.ManifestName(victim)}})
	touch(t, filepath.Join(dir, snapshot.RemovingName(victim)), string(j))
	os.Remove(filepath.Join(dir, snapshot.ManifestName(victim)))
	if got := ids(t, f, snapshot.StatusIncomplete); !slices.Equal(got, []string{victim}) {
		t.Fatalf("incomplete before = %v", got)
	}

	res, err := Run(context.Background(), f, Options{Policy: retention.Policy{Last: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cleanup.Removed) != 3 {
		t.Errorf("cleanup removed %v", res.Cleanup.Removed)
	}
	got := testutil.Names(t, dir)
	want := []string{snapshot.ManifestName(keep), "match_stats_" + keep + ".parquet", "medals_earned_" + keep + ".parquet"}
	if !slices.Equal(got, want) {
		t.Fatalf("folder %v, want %v", got, want)
	}
}

func TestRunRejectsBadPolicies(t *testing.T) {
	f, _ := folder(t)
	if _, err := Run(context.Background(), f, Options{}); !errors.Is(err, ErrNoPolicy) {
		t.Errorf("empty policy: %v", err)
	}
	if _, err := Run(context.Background(), f, Options{Policy: retention.Policy{Daily: -1}}); err == nil {
		t.Error("negative count accepted")
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		p    retention.Policy
		want string
	}{
		{retention.Policy{Weekly: 8, Monthly: 12}, "keep 8 weekly, 12 monthly snapshots"},
		{retention.Policy{Last: 3, Within: retention.Duration{Days: 30}}, "keep 3 latest snapshots and all snapshots within 30d of the newest"},
		{retention.Policy{Within: retention.Duration{Years: 1, Months: 6}}, "keep all snapshots within 1y6m of the newest"},
		{retention.Policy{}, "keep everything (no policy)"},
	} {
		if got := Describe(c.p); got != c.want {
			t.Errorf("Describe(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}
