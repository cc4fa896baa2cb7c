package main

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeMinIOWalkthrough runs the README's MinIO walk-through as
// written, in a copy of the module: the only changes are the port (a
// free one instead of 9000) and the two /tmp paths (this test's own
// folder), so that it can run beside other tests and servers. Issue 12
// asks for a walk-through "that works as written".
func TestReadmeMinIOWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds statsnap and runs MinIO")
	}
	if _, err := exec.LookPath("minio"); err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio")); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("minio is not installed (scripts/servers.sh install builds it); CI=true needs it")
			}
			t.Skip("minio is not installed; scripts/servers.sh install builds it")
		}
	}
	root, err := filepath.Abs("../..") // tests run in their package's folder
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := fencedBlockAfter(t, string(readme), "### Walk-through with MinIO on this machine")
	for _, want := range []string{"127.0.0.1:9000", "/tmp/minio-data", "/tmp/alice-restored.duckdb", "go build ./cmd/statsnap", "kill %1"} {
		if !strings.Contains(script, want) {
			t.Fatalf("the walk-through no longer holds %q; update this test with it:\n%s", want, script)
		}
	}

	tmp := t.TempDir()
	mod := filepath.Join(tmp, "statsnap")
	copyModule(t, root, mod)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	data := filepath.Join(tmp, "minio-data")
	restored := filepath.Join(tmp, "alice-restored.duckdb")
	script = strings.NewReplacer("127.0.0.1:9000", "127.0.0.1:"+port, "/tmp/minio-data", data, "/tmp/alice-restored.duckdb", restored).Replace(script)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// -e: a failing step fails the walk-through, as a reader would see it.
	c := exec.CommandContext(ctx, "bash", "-e", "-c", script)
	c.Dir = mod
	// Its own cache folder, so that the conditional-write probe's memo
	// does not come from an earlier run; Go's own folders stay where they
	// are, so go install and go build reuse what is built.
	goEnv, err := exec.Command("go", "env", "GOPATH", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	gv := strings.Fields(string(goEnv))
	if len(gv) != 3 {
		t.Fatalf("go env: %q", goEnv)
	}
	c.Env = childEnv("GOPATH="+gv[0], "GOCACHE="+gv[1], "GOMODCACHE="+gv[2], "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "NO_COLOR=1")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // MinIO dies with the group
	c.WaitDelay = 10 * time.Second                      // MinIO, if left running, holds the output pipe
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err = c.Start()
	if err == nil {
		defer syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		err = c.Wait()
	}
	if err != nil {
		t.Fatalf("the README's MinIO walk-through failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"intact", "Alice"} {
		if !strings.Contains(text, want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, text)
		}
	}
	// The restore is the point: the restored database has the sample's rows.
	src := filepath.Join(mod, "data", "players", "Alice", "stats.duckdb")
	for _, p := range []string{src, restored} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, text)
		}
	}
	if a, b := rowCount(t, src, "player_match_stats"), rowCount(t, restored, "player_match_stats"); a == 0 || a != b {
		t.Fatalf("player_match_stats: %d rows in the sample, %d restored", a, b)
	}
}

// fencedBlockAfter returns the first ```bash block after heading.
func fencedBlockAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no heading %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "```bash\n")
	if !ok {
		t.Fatalf("no ```bash block after %q", heading)
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatalf("the block after %q is not closed", heading)
	}
	return block + "\n"
}

// copyModule copies what building ./cmd/statsnap needs (go.mod, go.sum
// and every Go source outside tests and testdata) to dst.
func copyModule(t *testing.T, root, dst string) {
	t.Helper()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyOne(t, filepath.Join(root, f), filepath.Join(dst, f))
	}
	for _, dir := range []string{"cmd", "internal", "snapshot", "verify", "retention"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			copyOne(t, p, filepath.Join(dst, rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func copyOne(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
