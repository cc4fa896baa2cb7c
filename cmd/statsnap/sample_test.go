package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil"
)

// copyDB copies a closed DuckDB database: its file and, when there is
// one, its WAL, which holds committed transactions a checkpoint has not
// folded into the file yet (a CHECKPOINT does nothing while another
// connection has a transaction open). A stale WAL beside the target goes.
func copyDB(t *testing.T, from, to string) {
	t.Helper()
	for _, ext := range []string{"", ".wal"} {
		b, err := os.ReadFile(from + ext)
		if ext != "" && errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(to + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+ext, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func countMatches(t *testing.T, path string) int64 {
	t.Helper()
	conn, done := testutil.Conn(t, path, false)
	defer done()
	return testutil.Int64(t, conn, "SELECT count(*) FROM match_stats")
}

// TestSampleAdd: --add appends to the player's database and says what it
// did; wrong uses are usage errors, a missing player one sentence.
func TestSampleAdd(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "Chocobo Flör", 50)
	r := mustCLI(t, dir, "sample", "--gamertag", "Chocobo Flör", "--add", "20")
	if !strings.Contains(r.Stdout, "added 20 matches") || !strings.Contains(r.Stdout, "70 matches now") {
		t.Errorf("stdout %q", r.Stdout)
	}
	var doc struct {
		Matches int              `json:"matches"`
		Added   map[string]int64 `json:"added"`
		Tables  map[string]int64 `json:"tables"`
	}
	jsonOut(t, mustCLI(t, dir, "sample", "--json", "--gamertag", "Chocobo Flör", "--add", "5", "--seed", "4"), &doc)
	if doc.Matches != 75 || doc.Added["match_stats"] != 5 || doc.Tables["match_stats"] != 75 || doc.Added["highlight_events"] < 5*40 {
		t.Errorf("--json: %+v", doc)
	}
	if n := countMatches(t, src); n != 75 {
		t.Errorf("%d matches in the database, want 75", n)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--add", "0"}, exitUsage, "--add must be at least 1"},
		{[]string{"--add", "3", "--matches", "4"}, exitUsage, "do not go together"},
		{[]string{"--add", "x"}, exitUsage, ""},
	} {
		r := cli(t, dir, append([]string{"sample", "--gamertag", "Chocobo Flör"}, c.args...)...)
		if r.Code != c.code || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, r.Code, r.Stderr)
		}
	}
	r = cli(t, dir, "sample", "--gamertag", "nobody", "--add", "3")
	if r.Code != exitError || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 ||
		!strings.Contains(r.Stderr, "does not exist") || !strings.Contains(r.Stderr, "--matches N") {
		t.Errorf("missing player: exit %d, %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "players", "nobody")); err == nil {
		t.Error("a failed --add created the player's folder")
	}
}

// TestSampleAddLocked: a database another process holds is refused in one
// sentence naming the process, and its file is not touched.
func TestSampleAddLocked(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "held", 20)
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := holder.Ping(); err != nil {
		t.Fatal(err)
	}
	// DuckDB's lock is the process's: only another process meets it.
	r := binCLI(t, dir, nil, "sample", "--gamertag", "held", "--add", "5")
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if r.Code != exitError || len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("is open in process %d", os.Getpid())) ||
		!strings.Contains(lines[0], "close") || !strings.Contains(lines[0], "not changed") {
		t.Errorf("exit %d, want 1 and one sentence naming the holder, got:\n%s", r.Code, r.Stderr)
	}
	holder.Close()
	got, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the locked database's file changed")
	}
	for _, extra := range []string{".wal", ".tmp"} {
		if _, err := os.Lstat(src + extra); err == nil {
			t.Errorf("%s left beside the database", extra)
		}
	}
	mustCLI(t, dir, "sample", "--gamertag", "held", "--add", "5")
	if n := countMatches(t, src); n != 25 {
		t.Errorf("%d matches after the lock was released, want 25", n)
	}
}

// TestSampleAddInterrupted interrupts (SIGINT) and kills (SIGKILL) adds at
// several moments: the database afterwards is the one before, catalog and
// rows, or, for a run stopped after its commit, the one with every match
// added, exactly as a finished run leaves it.
func TestSampleAddInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("adds thousands of matches many times; skipped with -short")
	}
	dir := t.TempDir()
	src := samplePlayer(t, dir, "p", 2000)
	orig := filepath.Join(t.TempDir(), "orig.duckdb")
	copyDB(t, src, orig)
	start := time.Now()
	mustCLI(t, dir, "sample", "--gamertag", "p", "--add", "3000")
	full := time.Since(start)
	t.Logf("one add takes %v", full)
	if _, err := os.Stat(src + ".wal"); err == nil {
		t.Logf("the add left a WAL beside the database (its checkpoint was deferred)")
	}
	done := filepath.Join(t.TempDir(), "done.duckdb")
	copyDB(t, src, done)
	interrupted := 0
	for i, c := range []struct {
		sig   os.Signal
		delay time.Duration
	}{
		{os.Interrupt, full / 4}, {os.Interrupt, full / 2}, {os.Interrupt, full * 3 / 4},
		{syscall.SIGKILL, full / 4}, {syscall.SIGKILL, full / 2}, {syscall.SIGKILL, full * 3 / 4},
	} {
		// A run killed after its commit leaves its WAL, which belongs to
		// its own file: it must go with it.
		for _, extra := range []string{".wal", ".tmp"} {
			if err := os.RemoveAll(src + extra); err != nil {
				t.Fatal(err)
			}
		}
		copyDB(t, orig, src)
		cmd := command(binPath, dir, nil, "sample", "--gamertag", "p", "--add", "3000")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(c.delay)
		cmd.Process.Signal(c.sig)
		err := cmd.Wait()
		if err == nil {
			t.Logf("run %d (%v after %v) finished first", i, c.sig, c.delay)
			rsCompare(t, done, src, rsCmpOpts{})
			continue
		}
		if n := countMatches(t, src); n == 5000 {
			// Stopped after the commit (in the checkpoint): every match
			// is there, as in a run that finished.
			t.Logf("run %d (%v after %v) stopped after its commit", i, c.sig, c.delay)
			if c.sig == os.Interrupt {
				// statsnap handles SIGINT: past the commit it finishes.
				t.Errorf("run %d: interrupted after its commit, yet exit %d: %q", i, cmd.ProcessState.ExitCode(), stderr.String())
			}
			rsCompare(t, done, src, rsCmpOpts{})
			continue
		}
		interrupted++
		rsCompare(t, orig, src, rsCmpOpts{})
		if c.sig == os.Interrupt {
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() && (cmd.ProcessState.ExitCode() != exitInterrupted || !strings.Contains(stderr.String(), "interrupted")) {
				t.Errorf("run %d: exit %d, stderr %q", i, cmd.ProcessState.ExitCode(), stderr.String())
			}
		}
	}
	if interrupted == 0 {
		t.Fatal("no add was stopped mid-way; the test proved nothing")
	}
}
