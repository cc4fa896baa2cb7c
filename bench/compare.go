package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// comparison is one statsnap command against its reference.
type comparison struct {
	Key      string // backup, verify, deep, restore
	Label    string
	Target   float64 // maximum ratio, 0 when there is none
	Statsnap *series
	Ref      *series
	Missing  string // why it was not measured
}

// Ratio is statsnap's median over the reference's median.
func (c *comparison) Ratio() (float64, bool) {
	if c.Statsnap == nil || c.Ref == nil || !c.Statsnap.ok() || !c.Ref.ok() || c.Ref.Median() <= 0 {
		return 0, false
	}
	return float64(c.Statsnap.Median()) / float64(c.Ref.Median()), true
}

type sizeResult struct {
	Matches     int
	Rows        int64
	Highlight   int64
	DBBytes     int64
	SnapBytes   int64
	ExportBytes int64
	Files       int
	Comps       []*comparison
	Profiles    []*profileResult
	// CappedExport is EXPORT DATABASE under SET memory_limit, run once at
	// the largest size: what bounding DuckDB's buffers costs.
	CappedExport *series
	// ExportSync is EXPORT DATABASE followed by an fsync of every file it
	// wrote: the durability statsnap's backup pays for.
	ExportSync *series
}

// targets of issue 7 (statsnap median over reference median).
const (
	targetBackup  = 1.10
	targetVerify  = 2.0
	targetRestore = 1.15
	rssLimit      = 1 << 30
)

func (b *bench) compare(n int) (*sizeResult, error) {
	gamertag := fmt.Sprintf("Bench%d", n)
	b.logf("--matches %d: sample", n)
	src, tables, err := b.sampleDB(gamertag, n)
	if err != nil {
		return nil, err
	}
	r := &sizeResult{Matches: n}
	for name, rows := range tables {
		r.Rows += rows
		if name == "highlight_events" {
			r.Highlight = rows
		}
	}
	if fi, err := os.Stat(src); err == nil {
		r.DBBytes = fi.Size()
	}
	dir := filepath.Join(b.work, "run", fmt.Sprint(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}

	// backup vs EXPORT DATABASE
	backupOut := filepath.Join(dir, "backup-out")
	exportOut := filepath.Join(dir, "export-out")
	backup := job{
		Name:    "statsnap backup",
		Prepare: func() error { return os.RemoveAll(backupOut) },
		Cmd: func() *exec.Cmd {
			return b.statsnapCmd("backup", "--db", src, "--gamertag", gamertag, "--output", backupOut, "--json")
		},
		Check: checkBackupJSON,
	}
	export := job{
		Name:    "DuckDB EXPORT DATABASE",
		Prepare: func() error { return os.RemoveAll(exportOut) },
		Cmd: func() *exec.Cmd {
			return b.duckCmd(src, true, fmt.Sprintf("EXPORT DATABASE %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9)", sqlString(exportOut)))
		},
	}
	exportSync := job{
		Name:    "DuckDB EXPORT DATABASE, then fsync of its files (context)",
		Prepare: func() error { return os.RemoveAll(exportOut) },
		Cmd: func() *exec.Cmd {
			c := b.duckCmd(src, true, fmt.Sprintf("EXPORT DATABASE %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9)", sqlString(exportOut)))
			c.Args = append(c.Args[:1], append([]string{"-fsync", exportOut}, c.Args[1:]...)...)
			return c
		},
	}
	// At the largest size, also EXPORT under a memory limit: what bounding
	// DuckDB's buffers (the memory target) would cost in time.
	capped := job{
		Name:    "DuckDB EXPORT DATABASE under SET memory_limit='512MB' (context)",
		Prepare: func() error { return os.RemoveAll(exportOut) },
		Cmd: func() *exec.Cmd {
			return b.duckCmd(src, true, "SET memory_limit='512MB'",
				fmt.Sprintf("EXPORT DATABASE %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9)", sqlString(exportOut)))
		},
	}
	group := []job{backup, export, exportSync}
	if n == slices.Max(b.opts.Matches) {
		group = append(group, capped)
	}
	jobs := map[string]job{"backup": backup}
	b.logf("--matches %d: backup vs EXPORT DATABASE (and its variants)", n)
	ss := b.group(group, b.opts.Reps)
	sa, sr := ss[0], ss[1]
	r.Comps = append(r.Comps, &comparison{Key: "backup", Label: "backup", Target: targetBackup, Statsnap: sa, Ref: sr})
	r.ExportSync = ss[2]
	if len(ss) > 3 {
		r.CappedExport = ss[3]
	}
	if !sa.ok() {
		return r, fmt.Errorf("statsnap backup: %s", sa.Err)
	}

	// The snapshot every later command reads, and the export IMPORT reads:
	// the last repetitions' outputs, moved aside.
	snapRoot := filepath.Join(dir, "snap")
	snapDir := filepath.Join(snapRoot, gamertag)
	exportDir := filepath.Join(dir, "export")
	if err := os.Rename(backupOut, snapRoot); err != nil {
		return r, err
	}
	files, size, err := parquetFiles(snapDir)
	if err != nil {
		return r, err
	}
	r.Files, r.SnapBytes = len(files), size
	haveExport := sr.ok()
	if haveExport {
		if err := os.Rename(exportOut, exportDir); err != nil {
			return r, err
		}
		_, r.ExportBytes, _ = parquetFiles(exportDir)
	}

	// verify vs b3sum
	verifyJob := job{
		Name:  "statsnap verify",
		Cmd:   func() *exec.Cmd { return b.statsnapCmd("verify", "--backup", snapDir, "--json") },
		Check: checkVerifyJSON,
	}
	jobs["verify"] = verifyJob
	c := &comparison{Key: "verify", Label: "verify", Target: targetVerify}
	switch {
	case !b.hasCommand("verify", ""):
		c.Missing = "statsnap verify is not available yet"
	case b.b3sum == "":
		c.Statsnap = b.repeat(verifyJob, b.opts.Reps)
		c.Missing = b.b3note
	default:
		b3 := job{
			Name: "b3sum",
			Cmd:  func() *exec.Cmd { return exec.Command(b.b3sum, files...) },
		}
		b.logf("--matches %d: verify vs b3sum", n)
		c.Statsnap, c.Ref = b.pair(verifyJob, b3, b.opts.Reps)
		c.Ref.Command = "b3sum " + strings.ReplaceAll(snapDir, b.work, "$WORK") + "/*.parquet"
	}
	r.Comps = append(r.Comps, c)

	// verify --deep vs DuckDB decoding every value
	deepJob := job{
		Name:  "statsnap verify --deep",
		Cmd:   func() *exec.Cmd { return b.statsnapCmd("verify", "--deep", "--backup", snapDir, "--json") },
		Check: checkVerifyJSON,
	}
	var stmts []string
	for _, f := range files {
		stmts = append(stmts, decodeAllSQL(f))
	}
	read := job{
		Name: "DuckDB read_parquet, every column",
		Cmd:  func() *exec.Cmd { return b.duckCmd("", false, stmts...) },
	}
	jobs["deep"] = deepJob
	c = &comparison{Key: "deep", Label: "verify --deep"}
	if !b.hasCommand("verify", "--deep") {
		c.Missing = "statsnap verify --deep is not available yet"
	} else {
		b.logf("--matches %d: verify --deep vs DuckDB reading every column", n)
		c.Statsnap, c.Ref = b.pair(deepJob, read, b.opts.Reps)
		c.Ref.Command = "bench -exec-sql " + sqlQuote(decodeAllSQL(strings.ReplaceAll(files[0], b.work, "$WORK"))) + " -exec-sql ...  # one statement per Parquet file, all in one process"
	}
	r.Comps = append(r.Comps, c)

	// restore --replace into a new file vs IMPORT DATABASE
	c = &comparison{Key: "restore", Label: "restore --replace", Target: targetRestore}
	restored := filepath.Join(dir, "restored.duckdb")
	imported := filepath.Join(dir, "imported.duckdb")
	switch {
	case !b.hasCommand("restore", "--replace"):
		c.Missing = "not available yet: statsnap restore is not in this build"
	case !haveExport:
		c.Missing = "EXPORT DATABASE failed, so there is nothing to IMPORT"
	default:
		restore := job{
			Name:    "statsnap restore --replace",
			Prepare: func() error { return removeDB(restored) },
			Cmd: func() *exec.Cmd {
				return b.statsnapCmd("restore", "--db", restored, "--gamertag", gamertag, "--backup", snapDir, "--replace", "--json")
			},
			Check: checkJSON,
		}
		imp := job{
			Name:    "DuckDB IMPORT DATABASE",
			Prepare: func() error { return removeDB(imported) },
			Cmd:     func() *exec.Cmd { return b.duckCmd(imported, false, "IMPORT DATABASE "+sqlString(exportDir)) },
		}
		jobs["restore"] = restore
		b.logf("--matches %d: restore vs IMPORT DATABASE", n)
		c.Statsnap, c.Ref = b.pair(restore, imp, b.opts.Reps)
	}
	r.Comps = append(r.Comps, c)
	if b.opts.Profile && n == slices.Max(b.opts.Matches) {
		r.Profiles = b.profileAll(r, jobs)
	}
	return r, nil
}

// decodeAllSQL makes DuckDB decode every value of every column of file:
// hash() reads each value (strings byte by byte, lists and structs
// element by element) and bit_xor folds it, so no column can be skipped
// and almost nothing but decoding is left.
func decodeAllSQL(file string) string {
	return fmt.Sprintf("SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM read_parquet(%s)", sqlString(file))
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func removeDB(path string) error {
	for _, p := range []string{path, path + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// parquetFiles lists the Parquet files under dir (sorted) and their size.
func parquetFiles(dir string) ([]string, int64, error) {
	var files []string
	var size int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".parquet") {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, p)
			size += fi.Size()
		}
		return nil
	})
	sort.Strings(files)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no Parquet files in %s", dir)
	}
	return files, size, err
}

func checkJSON(out []byte) error {
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("stdout is not one JSON document: %w", err)
	}
	return nil
}

func checkBackupJSON(out []byte) error {
	var v struct {
		Snapshots []json.RawMessage `json:"snapshots"`
		Failed    []json.RawMessage `json:"failed"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("backup --json: %w", err)
	}
	if len(v.Snapshots) != 1 || len(v.Failed) != 0 {
		return fmt.Errorf("backup --json: %d snapshots, %d failed", len(v.Snapshots), len(v.Failed))
	}
	return nil
}

func checkVerifyJSON(out []byte) error {
	var v struct {
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("verify --json: %w", err)
	}
	if !v.OK {
		return errors.New("verify says the snapshot is not intact")
	}
	return nil
}
