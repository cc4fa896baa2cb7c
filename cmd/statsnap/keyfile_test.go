package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
