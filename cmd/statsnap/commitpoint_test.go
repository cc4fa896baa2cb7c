package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/snapshot"

	"github.com/openspartan/statsnap/internal/testutil"
)

// runFault runs the faultinject binary with STATSNAP_TEST_SIGNAL_AT set:
// the process signals itself at exactly that event (fault_on.go).
func runFault(t *testing.T, dir, at string, args ...string) result {
	t.Helper()
	bin, err := faultBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := command(bin, dir, []string{"STATSNAP_TEST_SIGNAL_AT=" + at}, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
}

// TestRestoreSignalAtCommit signals a restore (append mode, the one where
// a wrong "nothing was changed" duplicated highlight_events) just before
// its commit point, at it (past the last cancellation check) and after
// it, with SIGINT and SIGTERM. Before: exit 130, the target unchanged.
// At or after: the commit is not cancellable, the restore reports success
// (exit 0), and the rows are there exactly once.
func TestRestoreSignalAtCommit(t *testing.T) {
	fx := rsSetup(t, "Sig", 30)
	reference := filepath.Join(fx.dir, "reference.duckdb")
	mustCLI(t, fx.dir, "sample", "--gamertag", "Other", "--matches", "10", "--seed", "3")
	testutil.CopyFile(t, filepath.Join(fx.dir, "data", "players", "Other", "stats.duckdb"), reference)
	const q = "SELECT count(*) FROM highlight_events"
	base := countIn(t, reference, q)
	snap := countIn(t, fx.db, q)
	for _, sig := range []string{"INT", "TERM"} {
		for _, point := range []string{"before-commit", "at-commit", "after-commit"} {
			name := point + "/" + sig
			target := filepath.Join(fx.dir, "t-"+point+"-"+sig+".duckdb")
			testutil.CopyFile(t, reference, target)
			r := runFault(t, fx.dir, "restore:"+point+":"+sig, "restore", "--db", target, "--backup", fx.folder, "--force", "--tables", "highlight_events")
			got := countIn(t, target, q)
			if point == "before-commit" {
				if r.Code != exitInterrupted || !strings.Contains(r.Stderr, "nothing was changed") {
					t.Errorf("%s: exit %d, %q; want 130 and nothing changed", name, r.Code, r.Stderr)
				}
				if got != base {
					t.Errorf("%s: target has %d rows, had %d", name, got, base)
				}
				continue
			}
			if r.Code != 0 || strings.Contains(r.Stderr, "nothing was changed") {
				t.Errorf("%s: exit %d, %q; want success once committed", name, r.Code, r.Stderr)
			}
			if got != base+snap {
				t.Errorf("%s: target has %d rows, want %d (appended exactly once)", name, got, base+snap)
			}
		}
	}
}

// TestRestoreKilledAfterCommit kills (SIGKILL) a restore into an
// existing database right after DuckDB's COMMIT returned, before anything
// closes it: the restore is in the file itself, with no write-ahead log
// beside it. A commit appended to the WAL could instead be cut by a kill
// while being written, and DuckDB's replay of a cut WAL brings back the
// sequences' new values without the rows (TestCommitLeavesNoWAL).
func TestRestoreKilledAfterCommit(t *testing.T) {
	fx := rsSetup(t, "Kil", 30)
	target := filepath.Join(fx.dir, "target.duckdb")
	mustCLI(t, fx.dir, "sample", "--gamertag", "Other", "--matches", "10", "--seed", "3")
	testutil.CopyFile(t, filepath.Join(fx.dir, "data", "players", "Other", "stats.duckdb"), target)
	r := runFault(t, fx.dir, "restore:after-commit:KILL", "restore", "--db", target, "--backup", fx.folder, "--force", "--replace")
	if r.Code != -1 && r.Code != 137 {
		t.Fatalf("the kill hook did not fire: exit %d, %s", r.Code, r.Stderr)
	}
	if fi, err := os.Stat(target + ".wal"); err == nil {
		t.Errorf("the commit left a %d-byte write-ahead log beside the target", fi.Size())
	}
	rsCompare(t, fx.db, target, rsCmpOpts{})
}

// TestBackupSignalAtCommit does the same for backup's commit point, the
// manifest's publication: before it, exit 130 and no snapshot, no
// leftovers; at or after it, success and a complete snapshot that
// verifies.
func TestBackupSignalAtCommit(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 10)
	folder := filepath.Join(dir, "data", "backups", "p")
	for i, sig := range []string{"INT", "TERM"} {
		for j, point := range []string{"before-commit", "at-commit", "after-commit"} {
			name := point + "/" + sig
			at := "2030-01-0" + string(rune('1'+i)) + "T0" + string(rune('0'+j)) + ":00:00Z"
			r := runFault(t, dir, "backup:"+point+":"+sig, "backup", "--gamertag", "p", "--time", at)
			st := folderState(t, folder)
			var manifests int
			for n := range st {
				if snapshot.ManifestID(n) != "" {
					manifests++
				}
			}
			noLeftovers(t, folder)
			if point == "before-commit" {
				if r.Code != exitInterrupted || !strings.Contains(r.Stderr, "nothing was changed") {
					t.Errorf("%s: exit %d, %q; want 130 and nothing changed", name, r.Code, r.Stderr)
				}
				if manifests != i*2+j {
					t.Errorf("%s: %d manifests, want %d", name, manifests, i*2+j)
				}
				continue
			}
			if r.Code != 0 || strings.Contains(r.Stderr, "nothing was changed") {
				t.Errorf("%s: exit %d, %q; want success once committed", name, r.Code, r.Stderr)
			}
			mustCLI(t, dir, "verify", "--backup", folder)
		}
	}
}
