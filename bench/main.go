// Command bench measures statsnap side by side with the reference tools on
// the same data, on the same machine, in one run, and writes BENCHMARKS.md.
//
//	go run ./bench                      # full run: --matches 20000 and 200000, 7 repetitions
//	go run ./bench -quick               # a small run (a few minutes)
//	go run ./bench -matches 20000 -reps 3 -out /tmp/B.md
//
// It builds statsnap (go build -o WORK/statsnap ./cmd/statsnap), creates
// each sample database once (kept under -work, keyed by the sample
// generator's source, so a rerun reuses it), then times statsnap and
// its reference as subprocesses, alternating them:
//
//   - statsnap backup            vs DuckDB EXPORT DATABASE (FORMAT parquet, zstd level 9)
//   - statsnap verify            vs b3sum over the same snapshot's Parquet files
//   - statsnap verify --deep     vs DuckDB decoding every column of the same files
//   - statsnap restore --replace vs DuckDB IMPORT DATABASE of the export
//
// The DuckDB side runs through duckdb-go in a subprocess too: this same
// program in its helper mode, bench -exec-sql SQL [-db PATH] [-readonly].
// Then, on the largest sample, incremental snapshots (bench/incremental.go):
// a backup with nothing changed and one after 1 % more matches, restore of
// such a snapshot, backup --full against the backup before incremental
// snapshots, and a year of weekly snapshots. Then, for each size, the
// object-store part (bench/objectstore.go): backup and verify on a bucket
// of MinIO on loopback, which the bench starts, against a local folder.
// Then the scale part: backup --all over many small players, and listing
// and pruning a folder of 1,000 snapshots.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	ctx      context.Context
	timeout  time.Duration
	root     string // the repository
	work     string // everything the bench writes besides the report
	statsnap string // the built binary
	self     string // this program, for the -exec-sql helper
	b3sum    string // empty when not installed
	b3note   string
	opts     options
	started  time.Time
	command  string

	machine  machineInfo
	sizes    []*sizeResult
	scale    *scaleResult
	incr     *incrementalResult
	objstore []*objectStoreResult
	notes    []string // problems worth reporting (a command missing, ...)
	startA   *series  // statsnap --help: process start-up
	startB   *series  // bench -exec-sql 'SELECT 1': process and DuckDB start-up
	finished bool

	Results   results
	rendering bool
}

type options struct {
	Matches       []int
	Reps          int
	Out           string
	Quick         bool
	Work          string
	ScalePlayers  int
	ScaleReps     int
	Snapshots     int
	SkipScale     bool
	SkipCompare   bool
	SkipIncr      bool
	SkipObjStore  bool
	Weeks         int
	WeeksMatches  int
	Today         string
	BuildRetries  int
	SampleWorkers int
	Profile       bool
}

func main() {
	var (
		execSQL  sqlList
		render   string
		db       string
		readOnly bool
		syncDir  string
		matches  string
		o        options
	)
	flag.Var(&execSQL, "exec-sql", "helper mode: run this SQL through duckdb-go and exit (repeatable)")
	flag.StringVar(&db, "db", "", "helper mode: the database to open (default: in memory)")
	flag.BoolVar(&readOnly, "readonly", false, "helper mode: open -db read-only")
	flag.StringVar(&syncDir, "fsync", "", "helper mode: afterwards fsync every file and folder under this folder")
	flag.StringVar(&matches, "matches", "20000,200000", "sample sizes (statsnap sample --matches), comma-separated")
	flag.IntVar(&o.Reps, "reps", 7, "timed repetitions of each command (after one warm-up)")
	flag.StringVar(&o.Out, "out", "BENCHMARKS.md", "the report to write (with -quick: $WORK/BENCHMARKS-quick.md)")
	flag.BoolVar(&o.Quick, "quick", false, "a small run: -matches 2000 -reps 3, 10 scale players, 200 snapshots, 8 weeks, report in $WORK (explicit flags still win)")
	flag.StringVar(&o.Work, "work", filepath.Join(os.TempDir(), "statsnap-bench"), "work folder (samples are kept there between runs)")
	flag.IntVar(&o.ScalePlayers, "scale-players", 50, "players for the backup --all scale test")
	flag.IntVar(&o.ScaleReps, "scale-reps", 3, "repetitions of backup --all")
	flag.IntVar(&o.Snapshots, "snapshots", 1000, "snapshots in one folder for the listing and prune test")
	flag.BoolVar(&o.SkipScale, "skip-scale", false, "skip the scale part")
	flag.BoolVar(&o.SkipCompare, "skip-compare", false, "skip the side-by-side part (scale only)")
	flag.BoolVar(&o.SkipIncr, "skip-incremental", false, "skip the incremental snapshots part")
	flag.BoolVar(&o.SkipObjStore, "skip-objectstore", false, "skip the object-store part (statsnap on MinIO against a local folder)")
	flag.IntVar(&o.Weeks, "weeks", 52, "weekly snapshots (the first full, then 1 % more matches each week) in the incremental part")
	flag.IntVar(&o.WeeksMatches, "weeks-matches", 0, "the player's size at the start of the weekly snapshots (0: the largest -matches)")
	flag.StringVar(&o.Today, "today", "0980c40", "the statsnap commit before incremental snapshots, whose backup backup --full is held to")
	flag.IntVar(&o.BuildRetries, "build-retries", 5, "retries, a minute apart, when go build fails (others may be mid-edit)")
	flag.IntVar(&o.SampleWorkers, "sample-workers", 2, "sample databases generated at once")
	flag.BoolVar(&o.Profile, "profile", true, "profile each statsnap command once at the largest size (perf and STATSNAP_CPUPROFILE)")
	flag.StringVar(&render, "render", "", "write the report (-out) from a saved $WORK/results.json without measuring")
	flag.Parse()
	if len(execSQL) > 0 {
		helperMain(db, readOnly, execSQL, syncDir)
	}
	if render != "" {
		b := &bench{opts: o}
		if !filepath.IsAbs(b.opts.Out) {
			b.opts.Out = filepath.Join(mustGetwd(), b.opts.Out)
		}
		if err := b.render(render); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		if !set["matches"] {
			matches = "2000"
		}
		if !set["reps"] {
			o.Reps = 3
		}
		if !set["scale-players"] {
			o.ScalePlayers = 10
		}
		if !set["scale-reps"] {
			o.ScaleReps = 2
		}
		if !set["snapshots"] {
			o.Snapshots = 200
		}
		if !set["weeks"] {
			o.Weeks = 8
		}
		// A quick run is a smoke test: it must not replace the committed
		// report of a full one.
		if !set["out"] {
			o.Out = filepath.Join(o.Work, "BENCHMARKS-quick.md")
		}
	}
	for _, s := range strings.Split(matches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -matches %q: want positive integers separated by commas\n", matches)
			os.Exit(2)
		}
		o.Matches = append(o.Matches, n)
	}
	if o.Reps < 1 || o.ScaleReps < 1 {
		fmt.Fprintln(os.Stderr, "bench: -reps and -scale-reps must be at least 1")
		os.Exit(2)
	}
	if o.WeeksMatches == 0 {
		o.WeeksMatches = slices.Max(o.Matches)
	}
	if o.Weeks < 2 || o.WeeksMatches < 1 {
		fmt.Fprintln(os.Stderr, "bench: -weeks must be at least 2 and -weeks-matches at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{ctx: ctx, timeout: 45 * time.Minute, opts: o, started: time.Now()}
	b.command = "go run ./bench"
	if len(os.Args) > 1 {
		b.command += " " + strings.Join(os.Args[1:], " ")
	}
	if err := b.run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Since(b.started).Truncate(time.Second), fmt.Sprintf(format, a...))
}

func (b *bench) run() error {
	var err error
	if b.root, err = findRoot(); err != nil {
		return err
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.work, err = filepath.Abs(b.opts.Work); err != nil {
		return err
	}
	if !filepath.IsAbs(b.opts.Out) {
		b.opts.Out = filepath.Join(mustGetwd(), b.opts.Out)
	}
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}
	// Runs of earlier invocations are not reused; samples are, unless
	// the sample generator changed since.
	os.RemoveAll(filepath.Join(b.work, "run"))
	if old, err := os.ReadDir(filepath.Join(b.work, "samples")); err == nil {
		for _, e := range old {
			if e.Name() != b.sampleKey() {
				b.logf("removing samples of an older generator: %s", e.Name())
				os.RemoveAll(filepath.Join(b.work, "samples", e.Name()))
			}
		}
	}
	if err := b.build(); err != nil {
		return err
	}
	b.findB3sum()
	b.machine = b.describeMachine()
	b.logf("machine: %s, %d cores, %s; DuckDB %s; %s", b.machine.CPU, b.machine.Cores, fmtBytes(b.machine.Memory), b.machine.DuckDB, b.machine.Go)

	b.startA, b.startB = b.pair(
		job{Name: "statsnap --help", Cmd: func() *exec.Cmd { return b.statsnapCmd("--help") }},
		job{Name: "bench -exec-sql 'SELECT 1'", Cmd: func() *exec.Cmd { return b.duckCmd("", false, "SELECT 1") }},
		b.opts.Reps)
	if !b.opts.SkipCompare {
		for _, n := range b.opts.Matches {
			if err := b.ctx.Err(); err != nil {
				return err
			}
			r, err := b.compare(n)
			if err != nil {
				return fmt.Errorf("--matches %d: %w", n, err)
			}
			b.sizes = append(b.sizes, r)
			b.checkpoint()
		}
		if !b.opts.SkipIncr && len(b.sizes) > 0 {
			b.runIncremental(b.sizes[len(b.sizes)-1])
			b.checkpoint()
		}
	}
	if !b.opts.SkipObjStore {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		b.runObjectStore()
	}
	if !b.opts.SkipScale {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		b.scale = b.runScale()
	}
	b.finished = true
	b.machine.LoadEnd = loadavg()
	if err := b.writeReport(); err != nil {
		return err
	}
	b.logf("wrote %s (whole run: %s)", b.opts.Out, time.Since(b.started).Truncate(time.Second))
	return nil
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd
}

// findRoot finds the statsnap module from the working directory up.
func findRoot() (string, error) {
	dir := mustGetwd()
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/openspartan/statsnap\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the bench from the statsnap repository (go run ./bench)")
		}
		dir = parent
	}
}

// build builds statsnap the plain way, retrying while the tree does not
// compile (other engineers may be in the middle of an edit).
func (b *bench) build() error {
	b.statsnap = filepath.Join(b.work, "statsnap")
	for attempt := 0; ; attempt++ {
		b.logf("go build -o %s ./cmd/statsnap", b.statsnap)
		c := exec.CommandContext(b.ctx, "go", "build", "-o", b.statsnap, "./cmd/statsnap")
		c.Dir = b.root
		out, err := c.CombinedOutput()
		if err == nil {
			return nil
		}
		if attempt >= b.opts.BuildRetries || b.ctx.Err() != nil {
			return fmt.Errorf("go build ./cmd/statsnap: %v\n%s", err, out)
		}
		b.logf("build failed, retrying in a minute:\n%s", strings.TrimSpace(string(out)))
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(time.Minute):
		}
	}
}

// findB3sum looks for b3sum and installs it with apt-get when it can.
func (b *bench) findB3sum() {
	if p, err := exec.LookPath("b3sum"); err == nil {
		b.b3sum = p
		return
	}
	how := "install it with: sudo apt-get update && sudo apt-get install -y b3sum (or cargo install b3sum)"
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			b.logf("b3sum is missing: apt-get update && apt-get install -y b3sum")
			up := exec.CommandContext(b.ctx, "apt-get", "update")
			in := exec.CommandContext(b.ctx, "apt-get", "install", "-y", "b3sum")
			in.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if err := up.Run(); err == nil {
				if out, err := in.CombinedOutput(); err != nil {
					b.logf("apt-get install b3sum failed: %v\n%s", err, out)
				}
			}
			if p, err := exec.LookPath("b3sum"); err == nil {
				b.b3sum = p
				return
			}
		}
	}
	b.b3note = "b3sum is not installed, so verify was not compared with it; " + how
	b.notes = append(b.notes, b.b3note)
	b.logf("%s", b.b3note)
}

// statsnapCmd returns a statsnap command with the given arguments.
func (b *bench) statsnapCmd(args ...string) *exec.Cmd {
	c := exec.Command(b.statsnap, args...)
	c.Env = append(os.Environ(), "NO_COLOR=1")
	return c
}

// duckCmd returns the helper running stmts on db.
func (b *bench) duckCmd(db string, readOnly bool, stmts ...string) *exec.Cmd {
	args := []string{}
	if db != "" {
		args = append(args, "-db", db)
	}
	if readOnly {
		args = append(args, "-readonly")
	}
	for _, s := range stmts {
		args = append(args, "-exec-sql", s)
	}
	return exec.Command(b.self, args...)
}

// hasCommand reports whether statsnap has the subcommand and, given a
// flag, whether its help mentions it.
func (b *bench) hasCommand(sub string, flagName string) bool {
	out, err := b.statsnapCmd(sub, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "statsnap "+sub) {
		return false
	}
	return flagName == "" || strings.Contains(string(out), flagName)
}

// sampleDB creates (or reuses) statsnap's sample database with n
// matches under dataDir/players/gamertag. Samples are kept under a folder
// named by a hash of the sample generator's source: a rerun with the same
// generator reuses them, a changed generator gets new ones.
func (b *bench) sampleDB(gamertag string, n int) (string, map[string]int64, error) {
	dir := filepath.Join(b.work, "samples", b.sampleKey(), fmt.Sprintf("%s-%d", gamertag, n))
	db := filepath.Join(dir, "data", "players", gamertag, "stats.duckdb")
	summary := filepath.Join(dir, "sample.json")
	var sum struct {
		Tables map[string]int64 `json:"tables"`
	}
	if data, err := os.ReadFile(summary); err == nil && json.Unmarshal(data, &sum) == nil {
		if _, err := os.Stat(db); err == nil {
			return db, sum.Tables, nil
		}
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	c := b.statsnapCmd("sample", "--data-dir", filepath.Join(tmp, "data"), "--gamertag", gamertag, "--matches", strconv.Itoa(n), "--json")
	ctx, cancel := context.WithTimeout(b.ctx, 2*b.timeout)
	defer cancel()
	m, out, err := runOnce(ctx, c)
	if err != nil {
		return "", nil, err
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		return "", nil, fmt.Errorf("sample --json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "sample.json"), out, 0o644); err != nil {
		return "", nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", nil, err
	}
	b.logf("  sample %s --matches %d: %s", gamertag, n, fmtDur(m.Wall))
	return db, sum.Tables, nil
}

var sampleKeyCache string

func (b *bench) sampleKey() string {
	if sampleKeyCache != "" {
		return sampleKeyCache
	}
	h := sha256.New()
	files, _ := filepath.Glob(filepath.Join(b.root, "internal", "sample", "*.go"))
	sort.Strings(files)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, _ := os.ReadFile(f)
		_, _ = io.WriteString(h, filepath.Base(f)) // hash writes never fail
		_, _ = h.Write(data)
	}
	sampleKeyCache = hex.EncodeToString(h.Sum(nil))[:12]
	return sampleKeyCache
}

// shortExe names a program the way the report shows it.
func shortExe(path string) string {
	switch base := filepath.Base(path); base {
	case "statsnap", "b3sum":
		return base
	default:
		if strings.Contains(path, "go-build") || base == "bench" {
			return "bench"
		}
		return base
	}
}

type machineInfo struct {
	CPU       string
	Flags     string
	Cores     int
	Memory    int64
	Kernel    string
	Go        string
	DuckDB    string
	B3sum     string
	Commit    string
	Date      string
	LoadStart string
	LoadEnd   string
}

func (b *bench) describeMachine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: b.started.Format("2006-01-02 15:04 MST")}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "model name" && m.CPU == "" {
				m.CPU = v
			}
			if k == "flags" && m.Flags == "" {
				var simd []string
				for _, f := range strings.Fields(v) {
					if f == "avx2" || f == "avx512f" || f == "sse4_1" {
						simd = append(simd, f)
					}
				}
				m.Flags = strings.Join(simd, " ")
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.Memory = kb * 1024
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := b.duckCmd("", false, "SELECT library_version, source_id FROM pragma_version()").Output(); err == nil {
		m.DuckDB = strings.ReplaceAll(strings.TrimSpace(string(out)), "\t", " ")
	}
	if b.b3sum != "" {
		if out, err := exec.Command(b.b3sum, "--version").Output(); err == nil {
			m.B3sum = strings.TrimSpace(string(out))
		}
	}
	if out, err := exec.Command("git", "-C", b.root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", b.root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Commit += " + uncommitted changes"
		} else if st, err := exec.Command("git", "-C", b.root, "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Commit += " + untracked files"
		}
	}
	m.LoadStart = loadavg()
	return m
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
