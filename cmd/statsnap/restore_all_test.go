package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreAll: the seed guide's new machine. Every player folder of a
// backup root is restored into an empty data folder; one player whose
// snapshot is damaged fails (exit 3, named in JSON) without stopping the
// other; --gamertag without --backup reads {--output}/{gamertag}.
func TestRestoreAll(t *testing.T) {
	old := t.TempDir()
	samplePlayer(t, old, "A", 5)
	samplePlayer(t, old, "B b", 5)
	mustCLI(t, old, "backup", "--all")
	root := filepath.Join(old, "data", "backups")

	fresh := t.TempDir()
	r := mustCLI(t, fresh, "restore", "--all", "--backup", root)
	for _, p := range []string{"A", "B b"} {
		if _, err := os.Stat(filepath.Join(fresh, "data", "players", p, "stats.duckdb")); err != nil {
			t.Errorf("%s was not restored: %v\n%s", p, err, r.Stdout)
		}
	}
	if !strings.Contains(r.Stdout, "restored 2 players from") {
		t.Errorf("no summary: %s", r.Stdout)
	}

	// --gamertag without --backup: {--output}/{gamertag}.
	fresh2 := t.TempDir()
	mustCLI(t, fresh2, "restore", "--gamertag", "A", "--output", root)
	if _, err := os.Stat(filepath.Join(fresh2, "data", "players", "A", "stats.duckdb")); err != nil {
		t.Errorf("restore --gamertag without --backup: %v", err)
	}

	// One damaged player: the other is still restored, and the exit
	// status and the JSON say who failed.
	files, _ := filepath.Glob(filepath.Join(root, "B b", "match_stats_*.parquet"))
	if err := os.WriteFile(files[0], []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh3 := t.TempDir()
	r = cli(t, fresh3, "restore", "--all", "--backup", root, "--json")
	var doc struct {
		Restores []struct {
			Snapshot string `json:"snapshot"`
			OK       bool   `json:"ok"`
		} `json:"restores"`
		Failed []struct {
			Gamertag string `json:"gamertag"`
		} `json:"failed"`
		Error struct {
			ExitCode int `json:"exit_code"`
		} `json:"error"`
	}
	jsonOut(t, r, &doc)
	if r.Code != exitIntegrity || doc.Error.ExitCode != exitIntegrity || len(doc.Failed) != 1 || doc.Failed[0].Gamertag != "B b" {
		t.Errorf("one damaged player: exit %d, %+v\n%s", r.Code, doc, r.Stderr)
	}
	if len(doc.Restores) != 2 || !doc.Restores[0].OK || doc.Restores[1].OK {
		t.Errorf("restores: %+v", doc.Restores)
	}
	if _, err := os.Stat(filepath.Join(fresh3, "data", "players", "A", "stats.duckdb")); err != nil {
		t.Errorf("A was not restored beside the damaged B: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fresh3, "data", "players", "B b", "stats.duckdb")); !os.IsNotExist(err) {
		t.Errorf("the damaged B left a database: %v", err)
	}
	if r := cli(t, fresh3, "restore", "--all", "--gamertag", "A"); r.Code != exitUsage {
		t.Errorf("--all --gamertag: exit %d", r.Code)
	}
}
