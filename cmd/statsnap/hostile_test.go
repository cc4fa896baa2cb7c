package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHugeManifest: a 1 GB manifest is refused without reading it.
func TestHugeManifest(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "data", "backups", "p")
	os.MkdirAll(folder, 0o755)
	f, err := os.Create(filepath.Join(folder, "backup_metadata_20260101_000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: a gigabyte on paper, nothing on disk.
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	r := mustCLI(t, dir, "snapshots", "--gamertag", "p")
	if !strings.Contains(r.Stdout, "corrupt") || !strings.Contains(r.Stdout, "MiB") {
		t.Errorf("snapshots: %q", r.Stdout)
	}
	r = cli(t, dir, "verify", "--backup", folder, "--json")
	if r.Code != exitIntegrity || !strings.Contains(r.Stdout, "manifest_corrupt") {
		t.Errorf("verify: exit %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("refusing a huge manifest took %v: it was read", d)
	}
}

// TestSymlinkedManifest: a manifest that is a symlink (to a file outside
// the folder) is never followed.
func TestSymlinkedManifest(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "data", "backups", "p")
	os.MkdirAll(folder, 0o755)
	outside := filepath.Join(dir, "secret.json")
	os.WriteFile(outside, []byte(`{"tables": {}}`), 0o600)
	os.Symlink(outside, filepath.Join(folder, "backup_metadata_20260101_000000.json"))
	r := mustCLI(t, dir, "snapshots", "--gamertag", "p", "--json")
	if strings.Contains(r.Stdout, "20260101_000000") {
		t.Errorf("a symlinked manifest was taken for a snapshot: %s", r.Stdout)
	}
}
