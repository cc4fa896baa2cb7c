package main

// The shared end-to-end harness of package main's tests. cli runs
// statsnap in-process, through run, in a test's own temporary working
// folder; the tests whose point is a separate process (signals, kill -9,
// running as another user, a hang that needs a deadline) run the real
// binary that TestMain builds once. Keep exactly one TestMain in this
// package.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binPath is the statsnap binary built by TestMain.
var binPath string

// pkgDir is this package's folder: in-process runs change the working
// folder, so builds name it explicitly.
var pkgDir string

// faultBin is the binary built with -tags faultinject, which has the
// fault-injection hook (fault_on.go), built the first time a test asks.
var faultBin = sync.OnceValues(func() (string, error) {
	path := binPath + "-faultinject"
	build := exec.Command("go", "build", "-tags", "faultinject", "-o", path, ".")
	build.Dir = pkgDir
	out, err := build.CombinedOutput()
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
	if pkgDir, err = os.Getwd(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
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
	if forkAll {
		return runBinary(t, binPath, dir, env, args...)
	}
	return inProcess(t, dir, env, args...)
}

// forkAll (STATSNAP_TEST_FORK=1) runs every cli call as a subprocess
// instead: to compare, or to rule out a difference between in-process and
// real runs.
var forkAll = os.Getenv("STATSNAP_TEST_FORK") == "1"

// inProcessMu serializes in-process runs: each changes the working folder
// and the environment, which the process shares.
var inProcessMu sync.Mutex

// inProcess runs statsnap's run in dir with env set, as the binary would.
func inProcess(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	inProcessMu.Lock()
	defer inProcessMu.Unlock()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMu.Lock()
		old, had := os.LookupEnv(k)
		if _, seen := inProcessEnv[k]; !seen {
			inProcessEnv[k] = envWas{old, had}
		}
		os.Setenv(k, v)
		envMu.Unlock()
		defer func() {
			envMu.Lock()
			defer envMu.Unlock()
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
			delete(inProcessEnv, k)
		}()
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// envMu guards inProcessEnv: the variables the in-process run under way
// has set in the process's environment, with what they were before. A
// parallel test that starts a binary meanwhile must not inherit them
// (one run's STATSNAP_KEY_FILE once reached another test's prune).
var (
	envMu        sync.Mutex
	inProcessEnv = map[string]envWas{}
)

type envWas struct {
	value string
	set   bool
}

// childEnv is the environment for a binary a test starts: the process's
// own, without what an in-process run has set, plus extra ("K=V").
func childEnv(extra ...string) []string {
	envMu.Lock()
	defer envMu.Unlock()
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if was, ok := inProcessEnv[k]; ok {
			if was.set {
				out = append(out, k+"="+was.value)
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// binCLI runs the real binary: for tests about the process itself.
func binCLI(t testing.TB, dir string, env []string, args ...string) result {
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
	r, _ := runBinaryFor(t, bin, dir, env, 0, args...)
	return r
}

// cliBounded runs the real binary like cli, but kills it after limit: a
// test of a hang must not hang the suite. It reports whether the run
// ended by itself.
func cliBounded(t testing.TB, dir string, limit time.Duration, args ...string) (result, bool) {
	t.Helper()
	return runBinaryFor(t, binPath, dir, nil, limit, args...)
}

// runBinaryFor runs bin, killed after limit unless limit is 0, and
// reports whether it ended by itself.
func runBinaryFor(t testing.TB, bin, dir string, env []string, limit time.Duration, args ...string) (result, bool) {
	t.Helper()
	r, ended, _ := runProcess(t, bin, dir, env, limit, args...)
	return r, ended
}

// runProcess is runBinaryFor that also returns the ended process's state
// (its rusage, say).
func runProcess(t testing.TB, bin, dir string, env []string, limit time.Duration, args ...string) (result, bool, *os.ProcessState) {
	t.Helper()
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(env...)
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
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}, ctx.Err() == nil, cmd.ProcessState
}

// command is bin (binPath, or the fault build) with args, to run in dir
// with childEnv(env...): for the tests that start, signal or wait for the
// process themselves.
func command(bin, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(env...)
	return cmd
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
