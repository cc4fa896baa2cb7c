package main

// The shared end-to-end harness of package main's tests: TestMain builds
// the real binary once, and every test runs it as a subprocess in its own
// temporary working folder. Keep exactly one TestMain in this package.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binPath is the statsnap binary built by TestMain.
var binPath string

// faultBin is the binary built with -tags faultinject, which has the
// fault-injection hook (fault_on.go), built the first time a test asks.
var faultBin = sync.OnceValues(func() (string, error) {
	path := binPath + "-faultinject"
	out, err := exec.Command("go", "build", "-tags", "faultinject", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build statsnap -tags faultinject: %v\n%s", err, out)
	}
	return path, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "statsnap-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Readable by all: fault tests run the binary as an unprivileged user.
	os.Chmod(dir, 0o755)
	binPath = filepath.Join(dir, "statsnap")
	// The plain build, as users get it: no fault-injection hook (faults_test.go
	// builds the binary that has one).
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build statsnap:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	Stdout, Stderr string
	Code           int
}

// cli runs the binary in dir with args and returns its output and exit code.
func cli(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return cliEnv(t, dir, nil, args...)
}

// cliEnv is cli with extra environment variables ("K=V").
func cliEnv(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	return runBinary(t, binPath, dir, env, args...)
}

// faultCLI runs the fault-injection build (see faultBin).
func faultCLI(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	bin, err := faultBin()
	if err != nil {
		t.Fatal(err)
	}
	return runBinary(t, bin, dir, env, args...)
}

func runBinary(t testing.TB, bin, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
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
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// mustCLI runs the binary and fails the test unless it exits 0.
func mustCLI(t testing.TB, dir string, args ...string) result {
	t.Helper()
	r := cli(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("statsnap %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// jsonOut decodes a --json run's stdout.
func jsonOut(t testing.TB, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
}

// samplePlayer creates data/players/{gamertag}/stats.duckdb under dir.
func samplePlayer(t testing.TB, dir, gamertag string, matches int) string {
	t.Helper()
	mustCLI(t, dir, "sample", "--gamertag", gamertag, "--matches", fmt.Sprint(matches))
	return filepath.Join(dir, "data", "players", gamertag, "stats.duckdb")
}

// copyFile copies one file, creating the destination's folders.
func copyFile(t testing.TB, from, to string) {
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
