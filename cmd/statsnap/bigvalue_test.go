package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// duckSQL runs statements through the bench's DuckDB helper mode in a
// process of its own and returns what the last printed. Huge values are
// made and read there, never in this test process: Linux counts a
// parent's peak in the ru_maxrss of every child it starts later, which
// other tests hold to a bound.
func duckSQL(t *testing.T, db string, stmts ...string) string {
	t.Helper()
	bench := filepath.Join(filepath.Dir(binPath), "bench")
	if _, err := os.Stat(bench); err != nil {
		build := exec.Command("go", "build", "-o", bench, "../../bench")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build the bench helper: %v\n%s", err, out)
		}
	}
	args := []string{"-db", db}
	for _, q := range stmts {
		args = append(args, "-exec-sql", q)
	}
	out, err := exec.Command(bench, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", stmts, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestHugeValueRoundTrip (issue 15): a MAP holding one string of 300 MiB,
// which DuckDB writes as a Parquet page beyond arrow-go's 256 MiB limit,
// backs up, passes verify and verify --deep (the page decoded as a
// stream), and restores to the same value. Every step runs in a process
// of its own (duckSQL).
func TestHugeValueRoundTrip(t *testing.T) {
	const size = 300 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "data", "players", "big", "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
		t.Fatal(err)
	}
	duckSQL(t, src,
		fmt.Sprintf("CREATE TABLE big AS SELECT 1 AS id, map(['k'], [repeat('x', %d) || 'end']) AS m", size),
		"CREATE TABLE small AS SELECT range AS id FROM range(10)")
	must := func(args ...string) result {
		t.Helper()
		r := binCLI(t, dir, nil, args...)
		if r.Code != 0 {
			t.Fatalf("statsnap %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
		}
		return r
	}
	must("backup", "--gamertag", "big")
	folder := filepath.Join(dir, "data", "backups", "big")
	must("verify", "--backup", folder)
	if r := must("verify", "--deep", "--backup", folder); !strings.Contains(r.Stdout, "intact") {
		t.Errorf("verify --deep: %s", r.Stdout)
	}
	target := filepath.Join(dir, "restored.duckdb")
	must("restore", "--backup", folder, "--db", target)
	got := duckSQL(t, "", "ATTACH "+sqlq.Literal(target)+" AS r (READ_ONLY)",
		"SELECT length(m['k']), right(m['k'], 4) FROM r.big")
	if want := fmt.Sprintf("%d\txend", size+3); !strings.HasSuffix(got, want) {
		t.Errorf("the restored value: %q, want %q", got, want)
	}
}
