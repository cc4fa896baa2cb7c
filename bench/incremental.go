package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/snapshot"
)

// Targets of issue 17 (incremental snapshots).
const (
	targetUnchangedTime  = 0.10 // backup with nothing changed / EXPORT DATABASE
	targetUnchangedBytes = 0.01 // its new bytes / a full snapshot
	targetAppendTime     = 0.20 // backup after 1 % new matches / EXPORT DATABASE
	targetAppendBytes    = 0.05 // its new bytes / a full snapshot
	targetWeeksBytes     = 2.0  // the folder after the weekly snapshots / one full snapshot
	targetIncrRestore    = 1.0  // restore --replace of an incremental snapshot / IMPORT DATABASE
	// A full backup must be no slower than the backup before incremental
	// snapshots; 5 % is the run-to-run spread of this machine.
	targetFullVsToday = 1.05
)

// chunkRows is the size from which backup holds a table in chunks
// (docs/incremental.md); below it a changed table is written whole.
const chunkRows = 16384

// incrementalResult is issue 17's speed and size cases, on one sample.
type incrementalResult struct {
	Matches   int   // the sample player's size
	Highlight int64 // its highlight_events rows, the largest table
	Added     int   // matches appended (sample --add) for the 1 % case
	FullBytes int64 // the folder after one full backup: a full snapshot
	FullFiles int

	// Nothing changed since the snapshot in the folder.
	Unchanged      *series
	UnchangedBytes int64 // bytes of the files the new snapshot wrote, manifest included
	UnchangedFiles int
	// 1 % new matches appended since the snapshot in the folder.
	Appended      *series
	AppendedBytes int64
	AppendedFiles int
	AppendedTable map[string]int64 // its new bytes by table
	// EXPORT DATABASE of the same sample, from the side-by-side part.
	Export *series

	// restore --replace of the 1 % snapshot (base files plus its own) and
	// IMPORT DATABASE of an export of the same database.
	Restore, Import *series

	// backup --full into the folder holding the snapshot, and the backup
	// of the statsnap before incremental snapshots (TodayCommit) into an
	// empty folder; TodayNote says why the latter is something else.
	FullBackup, Today *series
	TodayCommit       string
	TodayNote         string

	Weeks *weeksResult
	Errs  []string
	// Profiles of the incremental backups and the restore: where the
	// time of the cases whose targets are missed goes.
	Profiles []*profileResult
}

// weeksResult is a year of weekly snapshots of a growing player.
type weeksResult struct {
	Matches       int     // the player's size at the start
	Weeks         int     // weekly snapshots, the first one full
	Growth        float64 // share of matches added each week
	FinalMatches  int
	FirstBytes    int64            // the folder after the first (full) snapshot
	LastFullBytes int64            // a full snapshot of the last week's database
	TotalBytes    int64            // the folder after every week
	NewBytes      []int64          // bytes each weekly snapshot wrote
	ByTable       map[string]int64 // what they wrote, by table
	BackupTime    time.Duration    // all weekly backups together
	AddTime       time.Duration    // all sample --add runs together (not targeted)
	Err           string
}

// runIncremental measures the incremental cases on the sample of r, into
// b.incr (so that each checkpoint reports what is done).
func (b *bench) runIncremental(r *sizeResult) {
	res := &incrementalResult{Matches: r.Matches, Highlight: r.Highlight, Added: max(1, r.Matches/100)}
	if c := find(r, "backup"); c != nil {
		res.Export = c.Ref
	}
	b.incr = res
	if err := b.incremental(res); err != nil {
		res.Errs = append(res.Errs, err.Error())
		b.logf("incremental: %v", err)
	}
}

func (b *bench) incremental(res *incrementalResult) error {
	if !b.hasCommand("backup", "--full") {
		return errors.New("statsnap backup has no --full in this build: incremental snapshots are not there yet")
	}
	n := res.Matches
	gamertag := fmt.Sprintf("Bench%d", n)
	src, _, err := b.sampleDB(gamertag, n)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.work, "run", "incremental")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	t0 := time.Date(2026, 1, 4, 3, 0, 0, 0, time.UTC)
	t1 := t0.Add(7 * 24 * time.Hour)

	// One full snapshot, the "last week" every case starts from.
	b.logf("incremental, --matches %d: a full snapshot to start from", n)
	baseRoot := filepath.Join(dir, "base")
	if err := b.backupOnce(src, gamertag, baseRoot, t0); err != nil {
		return err
	}
	baseDir := filepath.Join(baseRoot, gamertag)
	base, err := listFolder(baseDir)
	if err != nil {
		return err
	}
	res.FullBytes, res.FullFiles = base.bytes(), len(base)

	// The same player a week later, with 1 % more matches.
	b.logf("incremental: sample --add %d", res.Added)
	grownData := filepath.Join(dir, "grown", "data")
	grown := filepath.Join(grownData, "players", gamertag, "stats.duckdb")
	if err := b.addMatches(src, grownData, gamertag, res.Added); err != nil {
		return err
	}

	// A backup into a copy of the folder holding the full snapshot:
	// Parquet files hard-linked (they are never written again), the rest
	// copied. newBytes is what the backup added to it.
	runRoot := filepath.Join(dir, "run")
	runDir := filepath.Join(runRoot, gamertag)
	incJob := func(name, db string, bytes *int64, files *int, tables *map[string]int64) job {
		return job{
			Name:    name,
			Prepare: func() error { return cloneFolder(baseDir, runDir) },
			Cmd: func() *exec.Cmd {
				return b.statsnapCmd("backup", "--db", db, "--gamertag", gamertag, "--output", runRoot,
					"--time", t1.Format(time.RFC3339), "--json")
			},
			Check: func(out []byte) error {
				if err := checkBackupJSON(out); err != nil {
					return err
				}
				after, err := listFolder(runDir)
				if err != nil {
					return err
				}
				added := after.minus(base)
				*bytes, *files = added.bytes(), len(added)
				if tables != nil {
					*tables = added.byTable()
				}
				return nil
			},
		}
	}
	b.logf("incremental: backup with nothing changed")
	var ub, ab int64
	var uf, af int
	unchanged := incJob("backup, nothing changed since the last snapshot", src, &res.UnchangedBytes, &res.UnchangedFiles, nil)
	res.Unchanged = b.repeat(named(unchanged, "statsnap "+unchanged.Name), b.opts.Reps)
	b.checkpoint()
	b.logf("incremental: backup after %d new matches", res.Added)
	appended := incJob(fmt.Sprintf("backup, %d matches appended since the last snapshot", res.Added), grown, &res.AppendedBytes, &res.AppendedFiles, &res.AppendedTable)
	res.Appended = b.repeat(named(appended, "statsnap "+appended.Name), b.opts.Reps)
	b.checkpoint()
	if b.opts.Profile {
		// Profiled runs write into the same folders; their byte counts
		// go to throwaway variables.
		unchanged = incJob(unchanged.Name, src, &ub, &uf, nil)
		appended = incJob(appended.Name, grown, &ab, &af, nil)
		res.Profiles = append(res.Profiles,
			b.profileOne(unchanged.Name, fmt.Sprintf("incremental-unchanged-%d", n), unchanged),
			b.profileOne(appended.Name, fmt.Sprintf("incremental-appended-%d", n), appended))
	}

	// restore --replace of that incremental snapshot (the last
	// repetition's folder) vs IMPORT DATABASE of the same database.
	if res.Appended.ok() {
		incDir := filepath.Join(dir, "inc", gamertag)
		if err := os.MkdirAll(filepath.Dir(incDir), 0o755); err != nil {
			return err
		}
		if err := os.Rename(runDir, incDir); err != nil {
			return err
		}
		exportDir := filepath.Join(dir, "grown-export")
		exp := b.duckCmd(grown, true, fmt.Sprintf("EXPORT DATABASE %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9)", sqlString(exportDir)))
		if _, _, err := runOnce(b.ctx, exp); err != nil {
			return err
		}
		restored := filepath.Join(dir, "restored.duckdb")
		imported := filepath.Join(dir, "imported.duckdb")
		restore := job{
			Name:    "statsnap restore --replace of the incremental snapshot",
			Prepare: func() error { return removeDB(restored) },
			Cmd: func() *exec.Cmd {
				return b.statsnapCmd("restore", "--db", restored, "--gamertag", gamertag, "--backup", incDir, "--replace", "--json")
			},
			Check: checkJSON,
		}
		imp := job{
			Name:    "DuckDB IMPORT DATABASE of the same database",
			Prepare: func() error { return removeDB(imported) },
			Cmd:     func() *exec.Cmd { return b.duckCmd(imported, false, "IMPORT DATABASE "+sqlString(exportDir)) },
		}
		b.logf("incremental: restore of the incremental snapshot vs IMPORT DATABASE")
		res.Restore, res.Import = b.pair(restore, imp, b.opts.Reps)
		if b.opts.Profile && res.Restore.ok() {
			res.Profiles = append(res.Profiles, b.profileOne("restore --replace of the incremental snapshot", fmt.Sprintf("incremental-restore-%d", n), restore))
		}
		_ = removeDB(restored)
		_ = removeDB(imported)
		b.checkpoint()
	}

	// backup --full vs the backup before incremental snapshots.
	full := job{
		Name:    "statsnap backup --full, into the folder holding the last snapshot",
		Prepare: func() error { return cloneFolder(baseDir, runDir) },
		Cmd: func() *exec.Cmd {
			return b.statsnapCmd("backup", "--full", "--db", src, "--gamertag", gamertag, "--output", runRoot,
				"--time", t1.Format(time.RFC3339), "--json")
		},
		Check: checkBackupJSON,
	}
	todayBin, note := b.buildToday()
	res.TodayCommit, res.TodayNote = b.opts.Today, note
	if todayBin == "" {
		todayBin = b.statsnap
	}
	todayOut := filepath.Join(dir, "today-out")
	today := job{
		Name:    "statsnap backup of commit " + b.opts.Today + ", into an empty folder",
		Prepare: func() error { return os.RemoveAll(todayOut) },
		Cmd: func() *exec.Cmd {
			c := exec.Command(todayBin, "backup", "--db", src, "--gamertag", gamertag, "--output", todayOut, "--json")
			c.Env = append(os.Environ(), "NO_COLOR=1")
			return c
		},
		Check: checkBackupJSON,
	}
	if note != "" {
		today.Name = "statsnap backup (this build), into an empty folder"
	}
	b.logf("incremental: backup --full vs %s", today.Name)
	res.FullBackup, res.Today = b.pair(full, today, b.opts.Reps)
	_ = os.RemoveAll(todayOut)
	b.checkpoint()

	res.Weeks = &weeksResult{Matches: b.opts.WeeksMatches, Weeks: b.opts.Weeks, Growth: 0.01}
	if err := b.weeksRun(res.Weeks); err != nil {
		res.Weeks.Err = err.Error()
		b.logf("weekly snapshots: %v", err)
	}
	return nil
}

// weeksRun takes w.Weeks weekly snapshots of a player: a full one, then
// one each week after w.Growth more matches.
func (b *bench) weeksRun(w *weeksResult) error {
	gamertag := fmt.Sprintf("Bench%d", w.Matches)
	src, _, err := b.sampleDB(gamertag, w.Matches)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.work, "run", "weeks")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	db := filepath.Join(data, "players", gamertag, "stats.duckdb")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return err
	}
	if err := copyFile(src, db); err != nil {
		return err
	}
	root := filepath.Join(dir, "backups")
	folder := filepath.Join(root, gamertag)
	t0 := time.Date(2026, 1, 4, 3, 0, 0, 0, time.UTC)
	b.logf("weekly snapshots of --matches %d: the first, full one", w.Matches)
	if err := b.backupOnce(db, gamertag, root, t0); err != nil {
		return err
	}
	before, err := listFolder(folder)
	if err != nil {
		return err
	}
	w.FirstBytes = before.bytes()
	w.ByTable = map[string]int64{}
	matches := w.Matches
	for i := 1; i < w.Weeks; i++ {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		add := max(1, int(float64(matches)*w.Growth+0.5))
		start := time.Now()
		if err := b.addMatches("", data, gamertag, add); err != nil {
			return fmt.Errorf("week %d: %w", i, err)
		}
		w.AddTime += time.Since(start)
		matches += add
		start = time.Now()
		if err := b.backupOnce(db, gamertag, root, t0.Add(time.Duration(i)*7*24*time.Hour)); err != nil {
			return fmt.Errorf("week %d: %w", i, err)
		}
		w.BackupTime += time.Since(start)
		after, err := listFolder(folder)
		if err != nil {
			return err
		}
		added := after.minus(before)
		w.NewBytes = append(w.NewBytes, added.bytes())
		for t, n := range added.byTable() {
			w.ByTable[t] += n
		}
		before = after
		if i%10 == 0 || i == w.Weeks-1 {
			b.logf("  week %d: %d matches, folder %s", i, matches, fmtBytes(after.bytes()))
		}
	}
	w.FinalMatches = matches
	w.TotalBytes = before.bytes()
	// What one full snapshot of the last week's database takes.
	fullRoot := filepath.Join(dir, "full")
	if err := b.backupOnce(db, gamertag, fullRoot, t0); err != nil {
		return err
	}
	last, err := listFolder(filepath.Join(fullRoot, gamertag))
	if err != nil {
		return err
	}
	w.LastFullBytes = last.bytes()
	b.checkpoint()
	return nil
}

// backupOnce runs one backup, untimed.
func (b *bench) backupOnce(db, gamertag, root string, at time.Time) error {
	c := b.statsnapCmd("backup", "--db", db, "--gamertag", gamertag, "--output", root, "--time", at.Format(time.RFC3339), "--json")
	_, out, err := runOnce(b.ctx, c)
	if err != nil {
		return err
	}
	return checkBackupJSON(out)
}

// addMatches appends n matches to the player's database under data,
// after copying src there when src is not empty.
func (b *bench) addMatches(src, data, gamertag string, n int) error {
	if src != "" {
		db := filepath.Join(data, "players", gamertag, "stats.duckdb")
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			return err
		}
		if err := copyFile(src, db); err != nil {
			return err
		}
	}
	c := b.statsnapCmd("sample", "--data-dir", data, "--gamertag", gamertag, "--add", strconv.Itoa(n), "--json")
	_, _, err := runOnce(b.ctx, c)
	return err
}

// buildToday builds statsnap as it was at -today (the commit before
// incremental snapshots) from git archive, once per run. It returns the
// binary, or a note saying why there is none.
func (b *bench) buildToday() (string, string) {
	if b.opts.Today == "" {
		return "", "no -today commit was given, so this build's backup into an empty folder stands in for it"
	}
	bin := filepath.Join(b.work, "statsnap-"+b.opts.Today)
	if _, err := os.Stat(bin); err == nil {
		return bin, ""
	}
	src := filepath.Join(b.work, "src-"+b.opts.Today)
	_ = os.RemoveAll(src)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(src)
	tar := src + ".tar"
	defer os.Remove(tar)
	archive := exec.CommandContext(b.ctx, "git", "-C", b.root, "archive", "--format=tar", "-o", tar, b.opts.Today)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("git archive %s failed: %v %s", b.opts.Today, err, oneLine(string(out)))
	}
	if out, err := exec.CommandContext(b.ctx, "tar", "-x", "-f", tar, "-C", src).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("tar -x of commit %s failed: %v %s", b.opts.Today, err, oneLine(string(out)))
	}
	b.logf("go build -o %s ./cmd/statsnap (commit %s)", bin, b.opts.Today)
	build := exec.CommandContext(b.ctx, "go", "build", "-o", bin, "./cmd/statsnap")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("go build of commit %s failed: %v %s", b.opts.Today, err, oneLine(string(out)))
	}
	return bin, ""
}

// folderState is a folder's files and their sizes.
type folderState map[string]int64

func listFolder(dir string) (folderState, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := folderState{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		s[e.Name()] = fi.Size()
	}
	return s, nil
}

func (s folderState) bytes() int64 {
	var n int64
	for _, size := range s {
		n += size
	}
	return n
}

// minus is the files of s whose names base has not: what a backup wrote.
// The ledger, rewritten whole, counts when its size grew.
func (s folderState) minus(base folderState) folderState {
	out := folderState{}
	for name, size := range s {
		if old, ok := base[name]; !ok {
			out[name] = size
		} else if size > old {
			out[name] = size - old
		}
	}
	return out
}

// byTable sums the bytes of s by the table a file holds rows of (the
// name before the snapshot id); manifests and statsnap's own files are
// "manifest" and "ledger".
func (s folderState) byTable() map[string]int64 {
	out := map[string]int64{}
	for name, size := range s {
		kind, id := snapshot.Classify(name)
		switch {
		case kind == snapshot.KindManifest:
			out["manifest"] += size
		case id != "" && strings.Contains(name, "_"+id):
			out[name[:strings.LastIndex(name, "_"+id)]] += size
		default:
			out["ledger"] += size
		}
	}
	return out
}

// topTables lists the largest entries of m, largest first, as
// "name size" (at most n of them).
func topTables(m map[string]int64, n int) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for i, k := range names {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, fmtBytes(m[k])))
	}
	return strings.Join(parts, ", ")
}

// cloneFolder makes dst a copy of src: Parquet files hard-linked (no
// statsnap command writes one again), every other file copied.
func cloneFolder(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if strings.HasSuffix(e.Name(), ".parquet") {
			if err := os.Link(from, to); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a file, keeping its modification time (the ledger
// trusts a check only while the file's time is the one it recorded).
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(to, fi.ModTime(), fi.ModTime())
}

// incrementalReport writes the incremental part of the report.
func (b *bench) incrementalReport(w *strings.Builder, r *incrementalResult) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Incremental snapshots (issue 17), `sample --matches %d`\n\n", r.Matches)
	for _, e := range r.Errs {
		p("- could not be measured: %s\n", oneLine(e))
	}
	if len(r.Errs) > 0 {
		p("\n")
	}
	if r.FullBytes == 0 {
		return
	}
	p("Every case starts from a folder holding one full snapshot of the player (%s in %d files) and backs up into a copy of it (Parquet files hard-linked, the rest copied, untimed), `--time` a week later. ", fmtBytes(r.FullBytes), r.FullFiles)
	p("New bytes are the files the new snapshot wrote, its manifest included, and what the ledger grew by. ")
	p("The 1 %% case backs up the same player after `statsnap sample --add %d` (new rows in every append-only table, the aggregate and mv_* tables refreshed, as the app syncs). ", r.Added)
	p("The EXPORT DATABASE time is the side-by-side part's, of the database before the matches were added.\n\n")
	if r.Highlight < chunkRows {
		p("At this size every table is below the %s rows from which a table is held in chunks, so any change rewrites the whole table: the targets are set for the 200,000-match player.\n\n", withCommas(chunkRows))
	}
	p("| case | statsnap median | reference | reference median | time ratio | target | new bytes | / full snapshot | target |\n|---|---|---|---|---|---|---|---|---|\n")
	timeCell := func(s, ref *series, target float64) (string, string, string) {
		if s == nil || !s.ok() {
			return "failed", "", ""
		}
		if ref == nil || !ref.ok() || ref.Median() <= 0 {
			return fmtDur(s.Median()), "–", "–"
		}
		return fmtDur(s.Median()), fmtDur(ref.Median()), verdict(float64(s.Median())/float64(ref.Median()), target, "%.2f")
	}
	byteCell := func(s *series, n int64, files int, target float64) (string, string) {
		if s == nil || !s.ok() {
			return "–", "–"
		}
		return fmt.Sprintf("%s in %d files", fmtBytes(n), files), verdict(100*float64(n)/float64(r.FullBytes), 100*target, "%.2f %%")
	}
	med, refMed, ratio := timeCell(r.Unchanged, r.Export, targetUnchangedTime)
	nb, share := byteCell(r.Unchanged, r.UnchangedBytes, r.UnchangedFiles, targetUnchangedBytes)
	p("| nothing changed | %s | `EXPORT DATABASE` | %s | %s | ≤ %.2f | %s | %s | ≤ %.0f %% |\n", med, refMed, ratio, targetUnchangedTime, nb, share, 100*targetUnchangedBytes)
	med, refMed, ratio = timeCell(r.Appended, r.Export, targetAppendTime)
	nb, share = byteCell(r.Appended, r.AppendedBytes, r.AppendedFiles, targetAppendBytes)
	p("| %d new matches (1 %%) | %s | `EXPORT DATABASE` | %s | %s | ≤ %.2f | %s | %s | ≤ %.0f %% |\n", r.Added, med, refMed, ratio, targetAppendTime, nb, share, 100*targetAppendBytes)
	if r.Restore != nil {
		med, refMed, ratio = timeCell(r.Restore, r.Import, targetIncrRestore)
		p("| `restore --replace` of the 1 %% snapshot | %s | `IMPORT DATABASE` of the same database | %s | %s | ≤ %.2f | | | |\n", med, refMed, ratio, targetIncrRestore)
	}
	if r.FullBackup != nil {
		med, refMed, ratio = timeCell(r.FullBackup, r.Today, targetFullVsToday)
		ref := fmt.Sprintf("`backup` of commit %s (before incremental snapshots)", r.TodayCommit)
		if r.TodayNote != "" {
			ref = "`backup` of this build into an empty folder"
		}
		p("| `backup --full` | %s | %s | %s | %s | ≤ %.2f (no slower) | | | |\n", med, ref, refMed, ratio, targetFullVsToday)
	}
	if wk := r.Weeks; wk != nil && wk.Err == "" && wk.FirstBytes > 0 && len(wk.NewBytes) == wk.Weeks-1 {
		p("| %d weekly snapshots, 1 %% more matches each (`--matches %d` to %d) | %s for all | | | | | %s in the folder | %s of the first full snapshot | ≤ %.0f× |\n",
			wk.Weeks, wk.Matches, wk.FinalMatches, fmtDur(wk.BackupTime), fmtBytes(wk.TotalBytes),
			verdict(float64(wk.TotalBytes)/float64(wk.FirstBytes), targetWeeksBytes, "%.2f×"), targetWeeksBytes)
	}
	p("\n")
	if len(r.AppendedTable) > 0 {
		p("What the 1 %% snapshot wrote, largest first: %s.\n\n", topTables(r.AppendedTable, 8))
	}
	if r.TodayNote != "" {
		p("%s.\n\n", strings.TrimSuffix(r.TodayNote, "."))
	}
	if wk := r.Weeks; wk != nil {
		if wk.Err != "" {
			p("The weekly snapshots could not be measured: %s\n\n", oneLine(wk.Err))
		} else if len(wk.NewBytes) > 0 {
			lo, hi, sum := wk.NewBytes[0], wk.NewBytes[0], int64(0)
			for _, n := range wk.NewBytes {
				lo, hi, sum = min(lo, n), max(hi, n), sum+n
			}
			p("Weekly snapshots: a full snapshot of `--matches %d` (%s), then %d weeks, each `sample --add` of 1 %% of the matches so far and an incremental backup. ", wk.Matches, fmtBytes(wk.FirstBytes), len(wk.NewBytes))
			p("Each week's snapshot wrote %s to %s (%s in all); one full snapshot of the last week's database (%d matches) is %s, so the folder holds %.2f× that. ",
				fmtBytes(lo), fmtBytes(hi), fmtBytes(sum), wk.FinalMatches, fmtBytes(wk.LastFullBytes), float64(wk.TotalBytes)/float64(max(1, wk.LastFullBytes)))
			p("The %d incremental backups took %s, the `sample --add` runs %s (neither is targeted). ", len(wk.NewBytes), fmtDur(wk.BackupTime), fmtDur(wk.AddTime))
			p("What the weekly snapshots wrote, by table, largest first: %s.\n\n", topTables(wk.ByTable, 8))
		}
	}
	p("| command | median | min–max | CPU (median) | peak RSS | runs |\n|---|---|---|---|---|---|\n")
	var cmds []string
	for _, s := range []*series{r.Unchanged, r.Appended, r.Export, r.Restore, r.Import, r.FullBackup, r.Today} {
		if s == nil {
			continue
		}
		if !s.ok() {
			p("| %s | failed: %s | | | | |\n", s.Name, oneLine(s.Err))
			continue
		}
		p("| %s | %s | %s–%s | %s | %s | %d |\n", s.Name, fmtDur(s.Median()), fmtDur(s.Min()), fmtDur(s.Max()), fmtDur(s.CPU()), fmtBytes(s.PeakRSS()), len(s.Runs))
		cmds = append(cmds, s.Command)
	}
	p("\nCommands:\n\n```\n%s\n```\n\n", strings.Join(cmds, "\n"))
	if len(r.Profiles) > 0 {
		p("Where the time goes: one extra run of each under `perf record` (every thread: Go, DuckDB's C++ and the kernel), shares of the samples by category.\n\n")
		profileList(w, r.Profiles)
	}
}

// named returns j under another name.
func named(j job, name string) job {
	j.Name = name
	return j
}

// verdict formats v and says whether it is within target.
func verdict(v, target float64, format string) string {
	s := fmt.Sprintf(format, v)
	if v <= target {
		return s + " (met)"
	}
	return "**" + s + "** (missed)"
}
