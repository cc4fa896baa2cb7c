package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completions runs the binary's completion entry point, as bash, zsh and
// fish call it on <Tab>, and returns the candidates it prints.
func completions(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	r := mustCLI(t, dir, append([]string{"__complete"}, args...)...)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

// TestCompletion: gamertags (players and backup folders), snapshot ids of
// the chosen folder and table names of the chosen snapshot complete
// dynamically, instead of falling back to file names; a completion script
// is generated for each shell.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "Chocobo Flör", 5)
	samplePlayer(t, dir, "JGtm", 5)
	mustCLI(t, dir, "backup", "--gamertag", "JGtm", "--time", "2026-02-01T14:30:25Z")
	mustCLI(t, dir, "backup", "--gamertag", "JGtm", "--time", "2026-03-01T14:30:25Z")
	mustCLI(t, dir, "backup", "--gamertag", "Chocobo Flör")

	if got := completions(t, dir, "backup", "--gamertag", ""); !slices.Equal(got, []string{"Chocobo Flör", "JGtm"}) {
		t.Errorf("gamertags: %q", got)
	}
	if got := completions(t, dir, "prune", "--gamertag", "Ch"); !slices.Equal(got, []string{"Chocobo Flör"}) {
		t.Errorf("gamertag prefix: %q", got)
	}
	var doc struct {
		Snapshots []struct {
			Gamertag string `json:"gamertag"`
			Snapshot string `json:"snapshot"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--gamertag", "JGtm", "--json"), &doc)
	var ids []string
	for _, s := range doc.Snapshots {
		ids = append(ids, s.Snapshot)
	}
	if got := completions(t, dir, "restore", "--gamertag", "JGtm", "--snapshot", ""); !slices.Equal(got, ids) || len(ids) != 2 {
		t.Errorf("snapshot ids: %q, want %q", got, ids)
	}
	folder := filepath.Join(dir, "data", "backups", "JGtm")
	if got := completions(t, dir, "verify", "--backup", folder, "--snapshot", ids[0][:7]); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("snapshot id prefix %q: %q", ids[0][:7], got)
	}
	got := completions(t, dir, "restore", "--backup", folder, "--tables", "match_stats,me")
	if !slices.Equal(got, []string{"match_stats,medals_earned", "match_stats,meta.db_info"}) {
		t.Errorf("tables: %q", got)
	}
	if got := completions(t, dir, "restore", "--backup", folder, "--tables", ""); len(got) != 15 {
		t.Errorf("every table: %d candidates %q", len(got), got)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := mustCLI(t, dir, "completion", sh); !strings.Contains(r.Stdout, "statsnap") {
			t.Errorf("completion %s: %q", sh, r.Stdout[:min(len(r.Stdout), 200)])
		}
	}
}
