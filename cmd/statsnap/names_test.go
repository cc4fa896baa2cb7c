package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFailedBackupLeavesNothing: a backup refused for its source (no such
// player, a file that is not DuckDB, a gamertag that is really a flag)
// creates no backup folder and no lock, and says so in one sentence, with
// "did you mean" when a player's name is close.
func TestFailedBackupLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "Chocobo Flör", 5)
	if err := os.WriteFile(filepath.Join(dir, "notdb.txt"), []byte("hello, not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"backup", "--gamertag", "Nobody"}, exitError, []string{"no database at"}},
		{[]string{"backup", "--gamertag", "Chocobo Flor"}, exitError, []string{`did you mean "Chocobo Flör"?`}},
		{[]string{"backup", "--gamertag", "chocobo flör"}, exitError, []string{`did you mean "Chocobo Flör"?`}},
		{[]string{"backup", "--gamertag", "--json"}, exitUsage, []string{"looks like a flag"}},
		{[]string{"backup", "--db", "notdb.txt"}, exitError, []string{"not a DuckDB database file", "check --db"}},
	} {
		r := cli(t, dir, c.args...)
		if r.Code != c.code || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want %d; stderr %q", c.args, r.Code, c.code, r.Stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%v: %q lacks %q", c.args, r.Stderr, w)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "backups")); !os.IsNotExist(err) {
			t.Fatalf("%v left a backup folder behind (%v)", c.args, err)
		}
	}
}

// TestDidYouMean: a snapshot id or a table name that is nearly right is
// named in the hint.
func TestDidYouMean(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "backup", "--gamertag", "p", "--time", "2026-02-01T14:30:25Z")
	var snaps struct {
		Snapshots []struct {
			Snapshot string `json:"snapshot"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--json"), &snaps)
	id := snaps.Snapshots[0].Snapshot
	near := id[:len(id)-1] + string("0123456789"[(int(id[len(id)-1]-'0')+1)%10])
	folder := filepath.Join(dir, "data", "backups", "p")
	r := cli(t, dir, "restore", "--db", filepath.Join(dir, "r.duckdb"), "--backup", folder, "--snapshot", near, "--dry-run")
	if r.Code != exitError || !strings.Contains(r.Stderr, `did you mean "`+id+`"?`) {
		t.Errorf("near snapshot id: exit %d %q", r.Code, r.Stderr)
	}
	r = cli(t, dir, "restore", "--db", filepath.Join(dir, "r.duckdb"), "--backup", folder, "--tables", "match_stat", "--dry-run")
	if r.Code != exitUsage || !strings.Contains(r.Stderr, `did you mean "match_stats"?`) {
		t.Errorf("near table name: exit %d %q", r.Code, r.Stderr)
	}
}
