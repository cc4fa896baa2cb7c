package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// profileResult is where one statsnap command spends its CPU time.
type profileResult struct {
	Label   string
	Command string
	Perf    string // perf report summary file
	Pprof   string // pprof profile file
	PprofTo string // go tool pprof -top output file
	Shares  []share
	Top     []share // hottest symbols
	Samples int
	Err     string
}

type share struct {
	Name string
	Pct  float64
}

// profileAll profiles each statsnap command of the comparison once.
func (b *bench) profileAll(r *sizeResult, jobs map[string]job) []*profileResult {
	var out []*profileResult
	for _, key := range []string{"backup", "verify", "deep", "restore"} {
		j, ok := jobs[key]
		if !ok {
			continue
		}
		c := find(r, key)
		if c == nil || c.Statsnap == nil || !c.Statsnap.ok() {
			continue
		}
		out = append(out, b.profileOne(c.Label, fmt.Sprintf("%s-%d", key, r.Matches), j))
	}
	return out
}

// profileOne runs j once under perf (every thread: Go, DuckDB's C++ and
// the kernel) when perf is installed, and once under STATSNAP_CPUPROFILE
// for go tool pprof.
func (b *bench) profileOne(label, name string, j job) *profileResult {
	dir := filepath.Join(b.work, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &profileResult{Label: label, Err: err.Error()}
	}
	perf, _ := exec.LookPath("perf")
	pr := &profileResult{Label: label}
	base := filepath.Join(dir, name)
	b.logf("profile: statsnap %s (%s)", label, name)
	prep := j.Prepare
	if prep == nil {
		prep = func() error { return nil }
	}

	cmd := j.Cmd()
	pr.Command = b.cmdString(cmd)
	if err := prep(); err != nil {
		pr.Err = err.Error()
		return pr
	}
	pr.Pprof = base + ".pprof"
	cmd.Env = append(cmd.Env, "STATSNAP_CPUPROFILE="+pr.Pprof)
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	_, _, err := runOnce(ctx, cmd)
	cancel()
	if err == nil {
		top, terr := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", b.statsnap, pr.Pprof).CombinedOutput()
		if terr == nil {
			pr.PprofTo = base + ".pprof.txt"
			if err := os.WriteFile(pr.PprofTo, top, 0o644); err != nil {
				pr.Err = "write pprof report: " + err.Error()
			}
		}
	}
	if perf == "" {
		return pr
	}
	cmd = j.Cmd()
	if err := prep(); err != nil {
		pr.Err = err.Error()
		return pr
	}
	data := base + ".perf.data"
	args := append([]string{"record", "-e", "cpu-clock", "-F", "499", "-o", data, "--", cmd.Path}, cmd.Args[1:]...)
	pc := exec.Command(perf, args...)
	pc.Env = cmd.Env
	ctx, cancel = context.WithTimeout(b.ctx, b.timeout)
	_, _, err = runOnce(ctx, pc)
	cancel()
	defer os.Remove(data)
	if err != nil {
		pr.Err = "perf record: " + err.Error()
		return pr
	}
	rep, err := exec.Command(perf, "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym", "--percent-limit", "0.05").Output()
	if err != nil {
		pr.Err = "perf report: " + err.Error()
		return pr
	}
	pr.Perf = base + ".perf.txt"
	if err := os.WriteFile(pr.Perf, rep, 0o644); err != nil {
		pr.Err = "write perf report: " + err.Error()
		return pr
	}
	pr.Shares, pr.Top, pr.Samples = categorize(string(rep))
	return pr
}

// categorize sums perf's per-symbol shares into what a reader can act on.
func categorize(report string) (cats []share, top []share, samples int) {
	sum := map[string]float64{}
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "# Samples:") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				samples = parseCount(f[2])
			}
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) < 4 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		dso, kind := f[1], f[2]
		sym := strings.Join(f[3:], " ")
		cat := category(dso, kind, sym)
		sum[cat] += pct
		if len(top) < 12 {
			top = append(top, share{Name: shortSym(sym), Pct: pct})
		}
	}
	for k, v := range sum {
		cats = append(cats, share{k, v})
	}
	sort.Slice(cats, func(i, j int) bool { return cats[i].Pct > cats[j].Pct })
	return cats, top, samples
}

func parseCount(s string) int {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1000, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1000000, strings.TrimSuffix(s, "M")
	}
	v, _ := strconv.ParseFloat(s, 64)
	return int(v * float64(mult))
}

func category(dso, kind, sym string) string {
	switch {
	case kind == "[k]":
		return "kernel (I/O, fsync, page faults, scheduling)"
	case strings.Contains(sym, "zstd") || strings.Contains(sym, "ZSTD"):
		return "DuckDB: zstd"
	case strings.Contains(sym, "::"):
		return "DuckDB: other C++"
	case strings.HasPrefix(dso, "libc") || strings.HasPrefix(dso, "libstdc") || strings.HasPrefix(dso, "ld-linux") || strings.HasPrefix(dso, "libm"):
		return "C library (memcpy, malloc, ...)"
	case strings.Contains(sym, "zeebo/blake3"):
		return "Go: BLAKE3 (zeebo/blake3)"
	case strings.Contains(sym, "arrow-go") || strings.Contains(sym, "apache/thrift"):
		return "Go: arrow-go Parquet"
	case strings.HasPrefix(sym, "runtime.") || strings.HasPrefix(sym, "runtime/"):
		return "Go: runtime (GC, allocation, scheduler)"
	case strings.Contains(sym, "klauspost/compress"):
		return "Go: klauspost zstd"
	case strings.Contains(sym, "."):
		return "Go: other"
	}
	return "other"
}

func shortSym(s string) string {
	s = strings.ReplaceAll(s, "github.com/", "")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
