package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeyLifecycle: a generated key is private and never overwritten; a
// key others can read still works but is warned about; a keyed backup
// carries a MAC that verify checks.
func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "key", "generate", "k")
	fi, err := os.Stat(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o, want 600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "k"))
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(data) {
		t.Errorf("key file %q is not 64 hex digits", data)
	}
	if r := cli(t, dir, "key", "generate", "k"); r.Code != exitError {
		t.Errorf("overwrote a key: exit %d", r.Code)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "k")); string(again) != string(data) {
		t.Error("the key changed")
	}

	r := mustCLI(t, dir, "backup", "--gamertag", "p", "--key-file", "k", "--json")
	if strings.Contains(r.Stderr, "warning") {
		t.Errorf("private key warned about: %q", r.Stderr)
	}
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	p, _ := readManifest(t, filepath.Join(dir, doc.Snapshots[0].Manifest))
	if len(p.MAC) != 64 {
		t.Fatalf("keyed backup has no MAC: %q", p.MAC)
	}
	folder := filepath.Join(dir, "data", "backups", "p")
	mustCLI(t, dir, "verify", "--backup", folder, "--key-file", "k")

	os.Chmod(filepath.Join(dir, "k"), 0o644)
	r = cliEnv(t, dir, []string{"STATSNAP_KEY_FILE=k"}, "verify", "--backup", folder)
	if r.Code != 0 || !strings.Contains(r.Stderr, "readable by other users") || !strings.Contains(r.Stderr, "chmod 600") {
		t.Errorf("exposed key: exit %d, %q", r.Code, r.Stderr)
	}
	mustCLI(t, dir, "key", "generate", "other")
	r = cli(t, dir, "verify", "--backup", folder, "--key-file", "other", "--json")
	if r.Code != exitIntegrity || !strings.Contains(r.Stdout, "unauthenticated") {
		t.Errorf("wrong key: exit %d %s", r.Code, r.Stdout)
	}
}

// TestKeyGenerateParents: the README's ~/.config/statsnap/key works on a
// fresh machine: missing folders are created private (0700), and a second
// generate names the existing file instead of replacing it.
func TestKeyGenerateParents(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "home", ".config", "statsnap", "key")
	mustCLI(t, dir, "key", "generate", path)
	for _, d := range []string{filepath.Dir(path), filepath.Dir(filepath.Dir(path))} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %o, want 700", d, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key: %v %v", fi, err)
	}
	r := cli(t, dir, "key", "generate", path)
	if r.Code != exitError || !strings.Contains(r.Stderr, "already exists") || !strings.Contains(r.Stderr, "choose another path") {
		t.Errorf("second generate: exit %d, %q", r.Code, r.Stderr)
	}
}

// TestKeyedSnapshotWithoutKey: verifying a keyed snapshot without the key
// still passes (it is intact), but says, as a warning and in JSON, that a
// MAC is there and was not checked.
func TestKeyedSnapshotWithoutKey(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "key", "generate", "k")
	mustCLI(t, dir, "backup", "--gamertag", "p", "--key-file", "k")
	folder := filepath.Join(dir, "data", "backups", "p")

	r := mustCLI(t, dir, "verify", "--backup", folder)
	if !strings.Contains(r.Stdout, "warning:") || !strings.Contains(r.Stdout, "not checked") || !strings.Contains(r.Stdout, "--key-file") {
		t.Errorf("no warning that the MAC was not checked:\n%s", r.Stdout)
	}
	var doc struct {
		OK        bool `json:"ok"`
		Snapshots []struct {
			OK       bool   `json:"ok"`
			MAC      string `json:"mac"`
			Warnings []struct {
				Kind string `json:"kind"`
			} `json:"warnings"`
		} `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, dir, "verify", "--backup", folder, "--json"), &doc)
	s := doc.Snapshots[0]
	if !doc.OK || !s.OK || s.MAC != "not_checked" || len(s.Warnings) != 1 || s.Warnings[0].Kind != "unauthenticated" {
		t.Errorf("without a key: %+v", doc)
	}
	jsonOut(t, mustCLI(t, dir, "verify", "--backup", folder, "--json", "--key-file", "k"), &doc)
	if s := doc.Snapshots[0]; !doc.OK || s.MAC != "verified" || len(s.Warnings) != 0 {
		t.Errorf("with the key: %+v", doc)
	}
	// An unkeyed snapshot (the newest, which verify picks) has no MAC to
	// speak of, and no warning.
	mustCLI(t, dir, "backup", "--gamertag", "p", "--time", "2030-01-01T00:00:00Z")
	jsonOut(t, mustCLI(t, dir, "verify", "--backup", folder, "--json"), &doc)
	if s := doc.Snapshots[0]; s.MAC != "none" || len(s.Warnings) != 0 {
		t.Errorf("unkeyed: %+v", doc)
	}
}
