package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli and docs/man from the commands")

// docsRoot is the repository's docs folder, seen from this package.
const docsRoot = "../../docs"

// generateDocs renders the CLI reference (Markdown) and the man pages of
// every command into dir/cli and dir/man.
func generateDocs(t *testing.T, dir string) {
	t.Helper()
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	root.DisableAutoGenTag = true
	for _, sub := range []string{"cli", "man"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Links between pages stay inside docs/cli.
	link := func(name string) string { return name }
	prep := func(string) string { return "" }
	if err := doc.GenMarkdownTreeCustom(root, filepath.Join(dir, "cli"), prep, link); err != nil {
		t.Fatal(err)
	}
	// A fixed date: the pages change when the commands do, not with the
	// calendar.
	date := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	header := &doc.GenManHeader{Title: "STATSNAP", Section: "1", Source: "statsnap", Manual: "statsnap manual", Date: &date}
	if err := doc.GenManTree(root, header, filepath.Join(dir, "man")); err != nil {
		t.Fatal(err)
	}
}

// TestDocsCurrent fails when docs/cli or docs/man no longer match the
// commands. Regenerate with: go test ./cmd/statsnap/ -run TestDocsCurrent -update
func TestDocsCurrent(t *testing.T) {
	tmp := t.TempDir()
	generateDocs(t, tmp)
	for _, sub := range []string{"cli", "man"} {
		want := filepath.Join(docsRoot, sub)
		if *updateDocs {
			if err := os.RemoveAll(want); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(tmp, sub), want); err != nil {
				// Another file system: copy instead.
				copyTree(t, filepath.Join(tmp, sub), want)
			}
			continue
		}
		got := readTree(t, filepath.Join(tmp, sub))
		have := readTree(t, want)
		for name, g := range got {
			if h, ok := have[name]; !ok {
				t.Errorf("docs/%s/%s is missing", sub, name)
			} else if !bytes.Equal(g, h) {
				t.Errorf("docs/%s/%s is stale", sub, name)
			}
		}
		for name := range have {
			if _, ok := got[name]; !ok {
				t.Errorf("docs/%s/%s documents a command that no longer exists", sub, name)
			}
		}
	}
	if t.Failed() {
		t.Log("regenerate with: go test ./cmd/statsnap/ -run TestDocsCurrent -update")
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = data
	}
	return out
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range readTree(t, from) {
		if err := os.WriteFile(filepath.Join(to, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHelpHasExamplesAndExitStatus: every runnable command's help shows
// examples and an EXIT STATUS block, as restic's do.
func TestHelpHasExamplesAndExitStatus(t *testing.T) {
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "statsnap completion") {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no examples", c.CommandPath())
		}
		if !strings.Contains(c.Long, "EXIT STATUS") {
			t.Errorf("%s: no EXIT STATUS block in its help", c.CommandPath())
		}
	}
	walk(root)
}

// TestSystemdUnits: the scheduling page's units are valid for systemd,
// checked by systemd-analyze where it is installed.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	script, err := filepath.Abs("../../scripts/statsnap-weekly.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"statsnap-weekly.service", "statsnap-weekly.timer"} {
		data, err := os.ReadFile(filepath.Join(docsRoot, "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		// The unit names the installed script; here it is the repository's.
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/statsnap-weekly"), []byte(script))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "statsnap-weekly.service"), filepath.Join(dir, "statsnap-weekly.timer")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestWeeklyScript runs the scheduling page's job, scripts/statsnap-weekly.sh,
// as cron or systemd would, against two sample players: it backs up,
// verifies within a budget and prunes, and exits 0. Run twice in one week,
// the prune keeps only the newer snapshot of each player (--keep-weekly),
// which the budgeted verify has checked.
func TestWeeklyScript(t *testing.T) {
	script, err := filepath.Abs("../../scripts/statsnap-weekly.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	samplePlayer(t, dir, "A", 5)
	samplePlayer(t, dir, "B b", 5)
	env := childEnv("STATSNAP="+binPath, "STATSNAP_DATA="+filepath.Join(dir, "data"),
		"STATSNAP_BACKUPS="+filepath.Join(dir, "backups"), "STATSNAP_BUDGET=100%")
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("sh", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if run == 1 {
			time.Sleep(1100 * time.Millisecond) // a new snapshot id
		}
	}
	var doc struct {
		Snapshots []struct {
			Gamertag string `json:"gamertag"`
			Status   string `json:"status"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "snapshots", "--output", filepath.Join(dir, "backups"), "--json"), &doc)
	per := map[string]int{}
	for _, s := range doc.Snapshots {
		per[s.Gamertag]++
	}
	if len(per) != 2 || per["A"] != 1 || per["B b"] != 1 {
		t.Errorf("after two weekly runs: %+v", doc.Snapshots)
	}
	for _, p := range []string{"A", "B b"} {
		if _, err := os.Stat(filepath.Join(dir, "backups", p, ".statsnap-ledger.json")); err != nil {
			t.Errorf("%s has no ledger: %v", p, err)
		}
	}
}
