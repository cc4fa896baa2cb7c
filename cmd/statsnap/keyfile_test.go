package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliBounded runs the binary like cli, but kills it after limit: a test of
// a hang must not hang the suite. It reports whether the run ended by
// itself.
func cliBounded(t *testing.T, dir string, limit time.Duration, args ...string) (result, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run statsnap %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}, ctx.Err() == nil
}

// TestKeyFileNotRegular: a FIFO or /dev/zero as --key-file is refused at
// once with one sentence (a FIFO used to hang every command, deaf to
// signals; /dev/zero was read without end).
func TestKeyFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "backup", "--gamertag", "p")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "data", "backups", "p")
	for _, k := range []string{fifo, "/dev/zero"} {
		for _, args := range [][]string{
			{"verify", "--backup", folder, "--key-file", k},
			{"backup", "--gamertag", "p", "--key-file", k},
			{"restore", "--db", filepath.Join(dir, "t.duckdb"), "--backup", folder, "--key-file", k},
		} {
			r, ended := cliBounded(t, dir, 2*time.Minute, args...)
			if !ended {
				t.Fatalf("%v hung", args)
			}
			if r.Code != exitError || !strings.Contains(r.Stderr, "not a regular file") {
				t.Errorf("%v: exit %d, %q", args, r.Code, r.Stderr)
			}
		}
	}
}
