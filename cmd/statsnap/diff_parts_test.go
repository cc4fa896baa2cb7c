package main

import (
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/testutil"
)

// diff over snapshots whose tables are held by several files, some
// shared with an earlier snapshot: every part is verified and read in
// order, and a damaged part is refused.
func TestDiffRowsAcrossParts(t *testing.T) {
	dir := t.TempDir()
	db := samplePlayer(t, dir, "P", 20)
	folder := filepath.Join(dir, "data", "backups", "P")
	const a, b = "20261101_030000", "20261108_030000"
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-01T03:00:00Z")
	testutil.WriteDB(t, db, `DELETE FROM highlight_events WHERE rowid IN (5, 150)`)
	mustCLI(t, dir, "backup", "--gamertag", "P", "--time", "2026-11-08T03:00:00Z")
	testutil.SplitTable(t, folder, b, "highlight_events", 100, nil)
	testutil.ShareTable(t, folder, b, a, "medals_earned", nil)

	var doc diffDoc
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--rows", "highlight_events", "--json"), &doc)
	if doc.Rows == nil || doc.Rows.RemovedCount != 2 || doc.Rows.AddedCount != 0 {
		t.Errorf("highlight_events across two files: %+v", doc.Rows)
	}
	var shared struct {
		Rows struct {
			AddedCount, RemovedCount int64
			Shared                   int `json:"shared_files_skipped"`
		}
	}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--rows", "medals_earned", "--json"), &shared)
	if shared.Rows.AddedCount != 0 || shared.Rows.RemovedCount != 0 {
		t.Errorf("medals_earned (shared file): %+v", shared.Rows)
	}
	jsonOut(t, mustCLI(t, dir, "diff", "--backup", folder, a, b, "--json"), &doc)
	for _, d := range doc.Tables {
		if d.Table == "medals_earned" {
			t.Errorf("medals_earned shares a's file, yet: %+v", d)
		}
	}

	m := testutil.ReadManifest(t, folder, b)
	testutil.FlipByte(t, filepath.Join(folder, m.Tables["highlight_events"].Files[1].File))
	if r := cli(t, dir, "diff", "--backup", folder, a, b, "--rows", "highlight_events"); r.Code != exitIntegrity {
		t.Errorf("damaged second part: exit %d\n%s", r.Code, r.Stderr)
	}
}
