package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `version`, `version --json` and `--version` name the tool,
// the DuckDB that is really linked, Go and the platform.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	r := mustCLI(t, dir, "version", "--json")
	var doc struct {
		Version, Commit, DuckDBVersion, GoVersion, Platform string
	}
	jsonOut(t, r, &struct {
		Version       *string `json:"version"`
		Commit        *string `json:"commit"`
		DuckDBVersion *string `json:"duckdb_version"`
		GoVersion     *string `json:"go_version"`
		Platform      *string `json:"platform"`
	}{&doc.Version, &doc.Commit, &doc.DuckDBVersion, &doc.GoVersion, &doc.Platform})
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(doc.Version) {
		t.Errorf("version %q", doc.Version)
	}
	if doc.DuckDBVersion != "v1.5.6" {
		t.Errorf("duckdb_version %q, want the linked v1.5.6", doc.DuckDBVersion)
	}
	if doc.GoVersion != runtime.Version() || doc.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("go %q platform %q", doc.GoVersion, doc.Platform)
	}
	if doc.Commit == "" {
		t.Error("empty commit")
	}

	text := mustCLI(t, dir, "version")
	flag := mustCLI(t, dir, "--version")
	if text.Stdout != flag.Stdout {
		t.Errorf("--version differs from version:\n%s\n%s", flag.Stdout, text.Stdout)
	}
	for _, want := range []string{"statsnap " + doc.Version, doc.Commit, "v1.5.6", runtime.Version()} {
		if !strings.Contains(text.Stdout, want) {
			t.Errorf("version text lacks %q:\n%s", want, text.Stdout)
		}
	}
	if r := cli(t, dir, "version", "extra"); r.Code != exitUsage {
		t.Errorf("version extra: exit %d", r.Code)
	}
}

// TestVersionCommit: a binary built with VCS stamping inside this git
// checkout reports the checkout's HEAD. (The harness's binary may be built
// with GOFLAGS=-buildvcs=false and then honestly says "unknown".)
func TestVersionCommit(t *testing.T) {
	gitCmd := func(args ...string) *exec.Cmd {
		c := exec.Command("git", args...)
		c.Dir = pkgDir
		return c
	}
	head, err := gitCmd("rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	// The go command stamps a clone, not a linked worktree (whose .git is
	// a file); CI builds from a clone.
	top, _ := gitCmd("rev-parse", "--show-toplevel").Output()
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Skip("a git worktree: the go command does not stamp VCS information there")
	}
	bin := filepath.Join(t.TempDir(), "statsnap")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = pkgDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Commit string `json:"commit"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := strings.TrimSpace(string(head)); doc.Commit != want {
		t.Errorf("commit %q, want HEAD %q", doc.Commit, want)
	}
}
