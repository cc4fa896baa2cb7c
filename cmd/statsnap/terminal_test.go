package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxRun runs the statsnap binary with args inside a detached tmux
// session, a real terminal of 120×40, records every byte it draws, and
// returns that stream and the final screen once the command has exited.
func tmuxRun(t *testing.T, dir string, env []string, args ...string) (stream, screen string) {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed; .ci/run installs it")
		}
		t.Skip("tmux is not installed: the terminal tests need a real terminal")
	}
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	session := "statsnap"
	run := t.TempDir() // one log per run: tmux appends
	log := filepath.Join(run, "terminal.log")
	done := filepath.Join(run, "terminal.done")
	quoted := make([]string, 0, len(args)+1)
	quoted = append(quoted, shellQuote(binPath))
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	script := fmt.Sprintf("cd %s && env %s %s; echo $? > %s; sleep 60",
		shellQuote(dir), strings.Join(append([]string{"TERM=xterm-256color"}, env...), " "), strings.Join(quoted, " "), shellQuote(done))
	tm := func(a ...string) *exec.Cmd { return exec.Command(tmux, append([]string{"-S", sock}, a...)...) }
	if out, err := tm("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "sh", "-c", "sleep 0.3; "+script).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = tm("kill-server").Run() })
	if out, err := tm("pipe-pane", "-t", session, "-o", "cat >> "+shellQuote(log)).CombinedOutput(); err != nil {
		t.Fatalf("tmux pipe-pane: %v\n%s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(done); err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := tm("capture-pane", "-p", "-t", session).CombinedOutput()
			t.Fatalf("the command did not finish within two minutes; the screen:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let tmux draw the last bytes
	out, err := tm("capture-pane", "-p", "-t", session).Output()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(log)
	return string(data), string(out)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestProgressOnATerminal: on a terminal, backup draws an overall bar with
// counts, rows and bytes plus one line per table in flight; when it is
// done no progress line is left standing, only the summary, with plurals.
// --quiet draws nothing and prints no summary; without a terminal there
// is no progress at all.
func TestProgressOnATerminal(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 3000)

	stream, screen := tmuxRun(t, dir, nil, "backup", "--gamertag", "p")
	if !regexp.MustCompile(`backup p\s+\d+/15 tables`).MatchString(stream) {
		t.Errorf("no overall progress bar was drawn:\n%q", stream)
	}
	if !strings.Contains(stream, "highlight_events") {
		t.Errorf("no line for the table in flight:\n%q", stream)
	}
	lines := nonEmptyLines(screen)
	if len(lines) == 0 || !regexp.MustCompile(`^p: snapshot \d{8}_\d{6}: 15 tables, [\d,]+ rows, `).MatchString(lines[0]) {
		t.Errorf("the screen does not start with the summary:\n%s", screen)
	}
	for _, l := range lines {
		if strings.Contains(l, "/15 tables") || regexp.MustCompile(`[⠁-⣿]`).MatchString(l) {
			t.Errorf("a progress line stayed on the screen: %q\n%s", l, screen)
		}
	}

	stream, screen = tmuxRun(t, dir, nil, "backup", "--gamertag", "p", "--quiet")
	if strings.Contains(stream, "tables [") || len(nonEmptyLines(screen)) != 0 {
		t.Errorf("--quiet drew something:\nstream %q\nscreen %q", stream, screen)
	}

	// verify and restore draw theirs too, and leave none behind.
	folder := filepath.Join(dir, "data", "backups", "p")
	stream, screen = tmuxRun(t, dir, nil, "verify", "--backup", folder)
	if !regexp.MustCompile(`verify p\s+\d+/\d+ files`).MatchString(stream) || !strings.Contains(screen, "verify: OK") {
		t.Errorf("verify drew no progress bar, or no verdict:\nstream %q\nscreen %s", stream, screen)
	}
	stream, screen = tmuxRun(t, dir, nil, "restore", "--db", filepath.Join(dir, "r.duckdb"), "--gamertag", "p", "--backup", folder)
	if !regexp.MustCompile(`restore\s+\d+/15 tables`).MatchString(stream) || !strings.Contains(screen, "restored snapshot") {
		t.Errorf("restore drew no progress bar, or no summary:\nstream %q\nscreen %s", stream, screen)
	}
	for _, l := range nonEmptyLines(screen) {
		if strings.Contains(l, "/15 tables") || regexp.MustCompile(`/\d+ files`).MatchString(l) {
			t.Errorf("a progress line stayed on the screen after restore: %q", l)
		}
	}

	// Not a terminal: no progress, the summary only.
	r := mustCLI(t, dir, "backup", "--gamertag", "p")
	if strings.Contains(r.Stderr, "tables [") || strings.Contains(r.Stdout, "tables [") {
		t.Errorf("progress without a terminal: %q %q", r.Stdout, r.Stderr)
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestColourOnATerminal: on a terminal verify colours its verdicts (OK in
// green, FAIL in red); NO_COLOR and --no-color turn colour off; off a
// terminal there is none.
func TestColourOnATerminal(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "backup", "--gamertag", "p")
	folder := filepath.Join(dir, "data", "backups", "p")

	stream, _ := tmuxRun(t, dir, nil, "verify", "--backup", folder)
	if !strings.Contains(stream, colourOK+"OK"+colourOff) || !strings.Contains(stream, colourOK+"ok     "+colourOff) {
		t.Errorf("no green verdict on a terminal:\n%q", stream)
	}
	if !regexp.MustCompile(`\s1 row\s`).MatchString(stream) {
		t.Errorf("a one-row table is not shown as \"1 row\":\n%q", stream)
	}
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{[]string{"NO_COLOR=1"}, nil},
		{nil, []string{"--no-color"}},
	} {
		stream, _ := tmuxRun(t, dir, c.env, append([]string{"verify", "--backup", folder}, c.args...)...)
		if strings.Contains(stream, colourOK) || !strings.Contains(stream, "verify: OK") {
			t.Errorf("%v %v: colour was not turned off:\n%q", c.env, c.args, stream)
		}
	}
	if r := mustCLI(t, dir, "verify", "--backup", folder); strings.Contains(r.Stdout+r.Stderr, "\033[") {
		t.Errorf("colour off a terminal: %q", r.Stdout)
	}

	// A damaged file is painted red.
	files, _ := filepath.Glob(filepath.Join(folder, "match_stats_*.parquet"))
	if err := os.WriteFile(files[0], []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	stream, _ = tmuxRun(t, dir, nil, "verify", "--backup", folder)
	if !strings.Contains(stream, colourFail+"FAILED"+colourOff) {
		t.Errorf("no red verdict for a damaged snapshot:\n%q", stream)
	}
}
