package backup_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
)

// TestWideTablesAtOnceOverMemoryLimit: two tables of wide rows copied side
// by side, each needing more than the backup's limit. The recovery must
// not fail the same way (it used to retry on the aborted connection,
// whose ROLLBACK itself ran out of memory beside the other copy): each is
// copied again alone on a fresh connection, and the backup succeeds with
// every row.
func TestWideTablesAtOnceOverMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE wide1 AS SELECT range AS id, repeat(md5(range::VARCHAR), 64) AS s FROM range(60000)`,
		`CREATE TABLE wide2 AS SELECT range AS id, repeat(md5((range+7)::VARCHAR), 64) AS s, uuid() AS u FROM range(60000)`,
		`CREATE TABLE narrow AS SELECT range AS id FROM range(1000)`)
	for _, jobs := range []int{2, 3} {
		folder, err := local.OpenFolder(filepath.Join(dir, "backups", string(rune('0'+jobs))), true)
		if err != nil {
			t.Fatal(err)
		}
		res, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "tester", Folder: folder,
			CompressionLevel: 3, MemoryLimit: "16MB", Jobs: jobs})
		if err != nil {
			t.Fatalf("jobs %d: backup of two wide tables at once under 16MB: %v", jobs, err)
		}
		for k, want := range map[string]int64{"wide1": 60000, "wide2": 60000, "narrow": 1000} {
			if got := res.Manifest.Tables[k].Rows; got != want {
				t.Errorf("jobs %d: %s has %d rows, want %d", jobs, k, got, want)
			}
		}
	}
}

// TestFingerprintsAtOnceOverMemoryLimit: two tables whose values do not
// fit the scan's memory limit, fingerprinted side by side. Each scan is
// done again alone under DuckDB's default limit; the fingerprints it gives
// are the real ones: the next backup, with nothing changed, shares every
// file and writes none.
func TestFingerprintsAtOnceOverMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE big1 AS SELECT range AS id, repeat('x', 24000000) || range AS s FROM range(2)`,
		`CREATE TABLE big2 AS SELECT range AS id, repeat('y', 24000000) || range AS s FROM range(2)`,
		`CREATE TABLE narrow AS SELECT range AS id FROM range(1000)`)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	opt := backup.Options{Source: src, Gamertag: "tester", Folder: folder, CompressionLevel: 3, MemoryLimit: "16MB", Jobs: 2}
	first, err := backup.Backup(context.Background(), opt)
	if err != nil {
		t.Fatalf("backup of two tables of 24 MB values under 16MB: %v", err)
	}
	for k, want := range map[string]int64{"big1": 2, "big2": 2, "narrow": 1000} {
		if got := first.Manifest.Tables[k]; got == nil || got.Rows != want || got.Fingerprint == "" {
			t.Errorf("%s: %+v, want %d rows and a fingerprint", k, got, want)
		}
	}
	second, err := backup.Backup(context.Background(), opt)
	if err != nil {
		t.Fatalf("second backup: %v", err)
	}
	if second.NewFiles != 0 || second.SharedFiles != first.NewFiles {
		t.Errorf("nothing changed, yet the second backup wrote %d files and shared %d of %d", second.NewFiles, second.SharedFiles, first.NewFiles)
	}
}
