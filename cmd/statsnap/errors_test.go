package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/testutil"
)

// oneJSONError checks that stdout is exactly one JSON document whose error
// member has the process's exit code, a kind, a message and a hint field,
// and returns the document.
func oneJSONError(t *testing.T, r result) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(r.Stdout)))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a JSON document (%v): %q\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document: %q", r.Stdout)
	}
	e, ok := doc["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error member: %q", r.Stdout)
	}
	if code, _ := e["exit_code"].(float64); int(code) != r.Code {
		t.Errorf("error.exit_code %v, process exit %d", e["exit_code"], r.Code)
	}
	if k, _ := e["kind"].(string); k == "" {
		t.Errorf("error.kind empty: %v", e)
	}
	if m, _ := e["message"].(string); m == "" {
		t.Errorf("error.message empty: %v", e)
	}
	if _, ok := e["hint"].(string); !ok {
		t.Errorf("error.hint missing: %v", e)
	}
	return doc
}

// TestJSONErrors: under --json every failure of every command prints one
// JSON document on stdout with SPEC's error member, whose exit_code is the
// process's, whatever failed (flags, an unknown command, a held lock, a
// wrong folder, a snapshot that does not verify).
func TestJSONErrors(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "exists.key"), []byte("x"), 0o600))
	empty := filepath.Join(dir, "data", "backups", "empty")
	must(os.MkdirAll(empty, 0o755))
	locked := filepath.Join(dir, "data", "backups", "locked")
	must(os.MkdirAll(locked, 0o755))
	fl := flock.New(filepath.Join(locked, storage.LockName))
	must(fl.Lock())
	defer fl.Unlock()

	// One real snapshot with a damaged table file: an integrity failure.
	if r := cli(t, dir, "sample", "--gamertag", "bad", "--matches", "2"); r.Code != 0 {
		t.Fatalf("sample: %s", r.Stderr)
	}
	if r := cli(t, dir, "backup", "--gamertag", "bad", "--time", "2026-02-01T10:00:00Z"); r.Code != 0 {
		t.Fatalf("backup: %s", r.Stderr)
	}
	bad := filepath.Join(dir, "data", "backups", "bad")
	testutil.FlipByte(t, filepath.Join(bad, "match_stats_20260201_100000.parquet"))

	for _, c := range []struct {
		name string
		args []string
		code int
		kind string
		also string // a member of the command's own document that must stay
	}{
		{"unknown command", []string{"--json", "frobnicate"}, exitUsage, kindUsage, ""},
		{"unknown flag before --json", []string{"players", "--bogus", "--json"}, exitUsage, kindUsage, ""},
		{"players: no data dir", []string{"players", "--json", "--data-dir", "nowhere"}, exitError, kindNotFound, ""},
		{"sample: no gamertag", []string{"sample", "--json"}, exitUsage, kindUsage, ""},
		{"sample: bad gamertag", []string{"sample", "--json", "--gamertag", "../x"}, exitUsage, kindUsage, ""},
		{"backup: nothing chosen", []string{"backup", "--json"}, exitUsage, kindUsage, ""},
		{"backup: bad level", []string{"backup", "--json", "--gamertag", "p", "--compression-level", "0"}, exitUsage, kindUsage, ""},
		{"backup: no database", []string{"backup", "--json", "--gamertag", "ghost"}, exitError, kindNotFound, "failed"},
		{"backup: folder locked", []string{"backup", "--json", "--db", filepath.Join(dir, "data", "players", "bad", "stats.duckdb"), "--gamertag", "locked"}, exitError, kindLocked, "failed"},
		{"backup: bad key", []string{"backup", "--json", "--gamertag", "bad", "--key-file", "missing.key"}, exitError, kindNotFound, ""},
		{"snapshots: no output", []string{"snapshots", "--json", "--output", "nowhere"}, exitError, kindNotFound, ""},
		{"verify: no --backup", []string{"verify", "--json"}, exitUsage, kindUsage, ""},
		{"verify: no folder", []string{"verify", "--json", "--backup", "nowhere"}, exitError, kindNotFound, ""},
		{"verify: wrong folder", []string{"verify", "--json", "--backup", empty}, exitError, kindError, ""},
		{"verify: locked", []string{"verify", "--json", "--backup", locked}, exitError, kindLocked, ""},
		{"verify: damaged", []string{"verify", "--json", "--backup", bad}, exitIntegrity, kindIntegrity, "snapshots"},
		{"restore: no --backup", []string{"restore", "--json"}, exitUsage, kindUsage, ""},
		{"restore: no folder", []string{"restore", "--json", "--gamertag", "x", "--backup", "nowhere"}, exitError, kindNotFound, ""},
		{"restore: wrong folder", []string{"restore", "--json", "--gamertag", "x", "--backup", empty}, exitError, kindNotFound, "snapshot"},
		{"restore: locked", []string{"restore", "--json", "--gamertag", "x", "--backup", locked}, exitError, kindLocked, ""},
		{"restore: damaged", []string{"restore", "--json", "--db", filepath.Join(dir, "new.duckdb"), "--backup", bad}, exitIntegrity, kindIntegrity, "problems"},
		{"restore --list: damaged", []string{"restore", "--json", "--list", "--backup", bad}, exitIntegrity, kindIntegrity, "tables"},
		{"prune: no policy", []string{"prune", "--json", "--gamertag", "x"}, exitUsage, kindUsage, ""},
		{"prune: no folder", []string{"prune", "--json", "--gamertag", "x", "--keep-last", "1"}, exitError, kindNotFound, "groups"},
		{"prune: locked", []string{"prune", "--json", "--gamertag", "locked", "--keep-last", "1"}, exitError, kindLocked, "failed"},
		{"key: no path", []string{"key", "generate", "--json"}, exitUsage, kindUsage, ""},
		{"key: file exists", []string{"key", "--json", "generate", "exists.key"}, exitError, kindError, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, dir, c.args...)
			if r.Code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, c.code, r.Stdout, r.Stderr)
			}
			doc := oneJSONError(t, r)
			if k := doc["error"].(map[string]any)["kind"]; k != c.kind {
				t.Errorf("kind %v, want %s", k, c.kind)
			}
			if _, ok := doc[c.also]; c.also != "" && !ok {
				t.Errorf("the command's own member %q is gone: %s", c.also, r.Stdout)
			}
		})
	}
}
