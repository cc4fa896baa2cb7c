package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// results is everything a report is made of; the bench saves it as
// $WORK/results.json, and -render turns it into a report again (for a
// change of wording without measuring again).
type results struct {
	Command  string
	Reps     int
	Finished bool
	Elapsed  time.Duration
	Machine  machineInfo
	Sizes    []*sizeResult
	Scale    *scaleResult
	Incr     *incrementalResult
	ObjStore []*objectStoreResult
	Notes    []string
	StartA   *series
	StartB   *series
}

// render writes the report of saved results.
func (b *bench) render(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &b.Results); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b.rendering = true
	if b.root, err = findRoot(); err != nil {
		return err
	}
	return b.writeReport()
}

// resultsFile names the raw results in $WORK: a quick run keeps its own,
// so that it never replaces those of the full run behind BENCHMARKS.md.
func resultsFile(quick bool) string {
	if quick {
		return "results-quick.json"
	}
	return "results.json"
}

// writeReport writes the report with whatever has been measured so far
// (it is rewritten after each part, so an interrupted run leaves the
// parts it finished).
// checkpoint writes the report so far, so that an interrupted run keeps
// what it measured; a failed write is said and the run goes on.
func (b *bench) checkpoint() {
	if err := b.writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: write report:", err)
	}
}

func (b *bench) writeReport() error {
	if !b.rendering {
		b.Results = results{Command: b.command, Reps: b.opts.Reps, Finished: b.finished, Elapsed: time.Since(b.started),
			Machine: b.machine, Sizes: b.sizes, Scale: b.scale, Incr: b.incr, ObjStore: b.objstore, Notes: b.notes, StartA: b.startA, StartB: b.startB}
		data, err := json.MarshalIndent(b.Results, "", " ")
		if err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
		if err := os.WriteFile(filepath.Join(b.work, resultsFile(b.opts.Quick)), data, 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	b.command, b.opts.Reps, b.finished, b.machine = b.Results.Command, b.Results.Reps, b.Results.Finished, b.Results.Machine
	b.sizes, b.scale, b.notes, b.startA, b.startB = b.Results.Sizes, b.Results.Scale, b.Results.Notes, b.Results.StartA, b.Results.StartB
	b.incr, b.objstore = b.Results.Incr, b.Results.ObjStore
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	p("# Benchmarks\n\n")
	p("Produced by one run of\n\n    %s\n\n", b.command)
	state := fmt.Sprintf("The whole run took %s.", b.Results.Elapsed.Truncate(time.Second))
	if !b.finished {
		state = "**Partial report**: the run was still going or was interrupted; what follows is what it had finished."
	}
	p("on %s. %s Regenerate with the same command from the repository root (`-quick` for a small run, `-h` for the options).\n\n", b.machine.Date, state)

	m := b.machine
	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPU | %s (%s) |\n", m.CPU, orDash(m.Flags))
	p("| Cores | %d |\n", m.Cores)
	p("| Memory | %s |\n", fmtBytes(m.Memory))
	p("| Kernel | Linux %s |\n", m.Kernel)
	p("| Go | %s |\n", m.Go)
	p("| DuckDB | %s (duckdb-go, the library statsnap links) |\n", orDash(m.DuckDB))
	p("| b3sum | %s |\n", orDash(m.B3sum))
	p("| statsnap | commit %s |\n", orDash(m.Commit))
	p("| Load average (1, 5, 15 min) | %s at the start, %s at the end |\n", m.LoadStart, orDash(m.LoadEnd))
	for _, s := range []*series{b.startA, b.startB} {
		if s != nil && s.ok() {
			p("| Process start-up: `%s` | %s (min–max %s–%s) |\n", s.Name, fmtDur(s.Median()), fmtDur(s.Min()), fmtDur(s.Max()))
		}
	}
	p("\n")

	p("## How it is measured\n\n")
	p("- Every command runs as its own process, statsnap and reference alike. The DuckDB side runs through duckdb-go (the same DuckDB build statsnap links) in the bench binary's helper mode, `bench -exec-sql SQL`, so both sides pay process start, DuckDB start-up and teardown. DuckDB uses its default thread count (one per core) on both sides.\n")
	p("- Each comparison (statsnap and its reference; for backup also two EXPORT variants, for context) gets one untimed warm-up of each command, then %d timed repetitions, the order reversed every other time (A B, B A, ...), so a change in the machine's load hits both sides. Times are wall clock around start and wait; the table gives the median and the spread (min–max). Ratios are statsnap's median over the reference's median.\n", b.opts.Reps)
	p("- Caches are not dropped (that needs root and would disturb the other users of this shared machine): after the warm-up the inputs are in the page cache for both sides, so these are warm-cache numbers. Outputs are deleted before each repetition, untimed.\n")
	p("- Peak resident memory is the OS's figure for each process (wait4's rusage `ru_maxrss`), the largest over the repetitions. CPU is user+sys of the process and its threads (median).\n")
	p("- Reference for `verify --deep`: DuckDB decodes every value of every column of the same Parquet files: one `SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM read_parquet(file)` per file in one process; `hash()` must read each value (strings byte by byte, lists and structs element by element), so no column can be skipped.\n")
	p("- statsnap does more than its reference in each pair, and that is the point of the ratios: backup also counts rows, fsyncs every file and the folder, hashes each file with BLAKE3 and reads its footer back, and writes the manifest; verify also checks the manifest checksum, every footer's row count and Arrow schema; restore verifies the snapshot's bytes before it writes.\n\n")

	if len(b.sizes) > 0 {
		b.headline(&w)
		for _, r := range b.sizes {
			b.sizeDetail(&w, r)
		}
		b.growth(&w)
	}
	if b.incr != nil {
		b.incrementalReport(&w, b.incr)
	}
	if len(b.objstore) > 0 {
		b.objectStoreReport(&w)
	}
	if b.scale != nil {
		b.scaleReport(&w, b.scale)
	}
	if len(b.notes) > 0 {
		p("## Notes from the run\n\n")
		for _, n := range b.notes {
			p("- %s\n", n)
		}
		p("\n")
	}
	if data, err := os.ReadFile(filepath.Join(b.root, "bench", "ANALYSIS.md")); err == nil {
		p("%s\n", strings.TrimSpace(string(data)))
	}
	tmp := b.opts.Out + ".tmp"
	if err := os.WriteFile(tmp, []byte(w.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, b.opts.Out)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func sizeLabel(r *sizeResult) string {
	return fmt.Sprintf("--matches %d", r.Matches)
}

func (b *bench) headline(w *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Ratios against the targets (statsnap median / reference median)\n\n")
	p("| statsnap / reference |")
	for _, r := range b.sizes {
		p(" %s (%s rows) |", sizeLabel(r), millions(r.Rows))
	}
	p(" target |\n|---|")
	for range b.sizes {
		p("---|")
	}
	p("---|\n")
	rows := []struct{ key, label string }{
		{"backup", "`backup` / DuckDB `EXPORT DATABASE`"},
		{"verify", "`verify` / `b3sum`"},
		{"deep", "`verify --deep` / DuckDB reading every column"},
		{"restore", "`restore --replace` / DuckDB `IMPORT DATABASE`"},
	}
	for _, row := range rows {
		p("| %s |", row.label)
		var target float64
		for _, r := range b.sizes {
			c := find(r, row.key)
			if c == nil {
				p(" – |")
				continue
			}
			target = c.Target
			p(" %s |", ratioCell(c))
		}
		if target > 0 {
			p(" ≤ %.2f |\n", target)
		} else {
			p(" none (context) |\n")
		}
	}
	if b.sizes[0].ExportSync != nil {
		p("| `backup` / `EXPORT DATABASE` then fsync of its files |")
		for _, r := range b.sizes {
			c := find(r, "backup")
			if c == nil || c.Statsnap == nil || !c.Statsnap.ok() || r.ExportSync == nil || !r.ExportSync.ok() {
				p(" – |")
				continue
			}
			p(" %.2f |", float64(c.Statsnap.Median())/float64(r.ExportSync.Median()))
		}
		p(" none (context: statsnap fsyncs, EXPORT does not) |\n")
	}
	last := b.sizes[len(b.sizes)-1]
	for _, key := range []string{"backup", "verify", "deep", "restore"} {
		c := find(last, key)
		if c == nil || c.Statsnap == nil || len(c.Statsnap.Runs) == 0 {
			continue
		}
		rss := c.Statsnap.PeakRSS()
		target := "none (context)"
		mark := ""
		if key == "backup" || key == "verify" {
			target = "< 1 GiB at 12M rows"
			if rss < rssLimit {
				mark = " (met)"
			} else {
				mark = " (**missed**)"
			}
		}
		p("| peak RSS of `%s`, %s |", c.Label, sizeLabel(last))
		for range b.sizes[:len(b.sizes)-1] {
			p(" |")
		}
		p(" %s%s | %s |\n", fmtBytes(rss), mark, target)
	}
	p("\n")
	if last.Highlight < 10_000_000 {
		p("The memory target is set at about 12 million highlight_events rows (`--matches 200000`); this run's largest sample has %s.\n\n", millions(last.Highlight))
	}
}

func millions(n int64) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%dk", n/1000)
}

func find(r *sizeResult, key string) *comparison {
	for _, c := range r.Comps {
		if c.Key == key {
			return c
		}
	}
	return nil
}

func ratioCell(c *comparison) string {
	if c.Missing != "" && (c.Statsnap == nil || c.Ref == nil) {
		return "not available yet"
	}
	ratio, ok := c.Ratio()
	if !ok {
		return "failed (see below)"
	}
	s := fmt.Sprintf("%.2f", ratio)
	if c.Target > 0 {
		if ratio <= c.Target {
			s += " (met)"
		} else {
			s = "**" + s + "** (missed)"
		}
	}
	return s
}

func (b *bench) sizeDetail(w *strings.Builder, r *sizeResult) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## `sample %s`\n\n", sizeLabel(r))
	p("%s rows in all tables (%s highlight_events rows); database %s; statsnap snapshot %s in %d Parquet files",
		withCommas(r.Rows), withCommas(r.Highlight), fmtBytes(r.DBBytes), fmtBytes(r.SnapBytes), r.Files)
	if r.ExportBytes > 0 {
		p("; DuckDB export %s of Parquet", fmtBytes(r.ExportBytes))
	}
	p(".\n\n")
	p("| command | median | min–max | CPU (median) | peak RSS | runs | ratio (wall; CPU) |\n|---|---|---|---|---|---|---|\n")
	var cmds []string
	for _, c := range r.Comps {
		if c.Missing != "" && c.Statsnap == nil {
			p("| statsnap %s | %s | | | | | |\n", c.Label, c.Missing)
			continue
		}
		for i, s := range []*series{c.Statsnap, c.Ref} {
			if s == nil {
				p("| (reference) | %s | | | | | |\n", c.Missing)
				continue
			}
			ratio := ""
			if i == 0 {
				if v, ok := c.Ratio(); ok {
					ratio = fmt.Sprintf("%.2f", v)
					if c.Ref.CPU() > 0 {
						ratio += fmt.Sprintf(" (CPU %.2f)", float64(c.Statsnap.CPU())/float64(c.Ref.CPU()))
					}
				}
			}
			if !s.ok() {
				p("| %s | failed: %s | | | | | |\n", s.Name, oneLine(s.Err))
				continue
			}
			p("| %s | %s | %s–%s | %s | %s | %d | %s |\n", s.Name, fmtDur(s.Median()), fmtDur(s.Min()), fmtDur(s.Max()),
				fmtDur(s.CPU()), fmtBytes(s.PeakRSS()), len(s.Runs), ratio)
			cmds = append(cmds, s.Command)
		}
		if c.Key != "backup" {
			continue
		}
		for _, x := range []*series{r.ExportSync, r.CappedExport} {
			if x == nil {
				continue
			}
			if x.ok() {
				ratio := ""
				if c := find(r, "backup"); c != nil && c.Statsnap != nil && c.Statsnap.ok() && x.Median() > 0 {
					ratio = fmt.Sprintf("backup / this: %.2f", float64(c.Statsnap.Median())/float64(x.Median()))
				}
				p("| %s | %s | %s–%s | %s | %s | %d | %s |\n", x.Name, fmtDur(x.Median()), fmtDur(x.Min()), fmtDur(x.Max()), fmtDur(x.CPU()), fmtBytes(x.PeakRSS()), len(x.Runs), ratio)
				cmds = append(cmds, x.Command)
			} else {
				p("| %s | failed: %s | | | | | |\n", x.Name, oneLine(x.Err))
			}
		}
	}
	p("\nCommands (`$WORK` is the bench's work folder, `bench` the bench binary in its helper mode):\n\n```\n%s\n```\n\n", strings.Join(cmds, "\n"))
	if len(r.Profiles) > 0 {
		b.profileReport(w, r)
	}
}

func (b *bench) profileReport(w *strings.Builder, r *sizeResult) {
	fmt.Fprintf(w, "### Where statsnap's CPU time goes (`--matches %d`)\n\n", r.Matches)
	fmt.Fprintf(w, "One extra run of each command under `perf record -e cpu-clock -F 499` (every thread: Go, DuckDB's C++ and the kernel), shares of the samples by category; and one under `STATSNAP_CPUPROFILE` for `go tool pprof` (Go's profiler sees the Go side; DuckDB's own worker threads are invisible to it). Profiles and reports are kept in `$WORK/profiles`.\n\n")
	profileList(w, r.Profiles)
}

func profileList(w *strings.Builder, prs []*profileResult) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	for _, pr := range prs {
		p("**`statsnap %s`**", pr.Label)
		if pr.Samples > 0 {
			p(" (%d samples)", pr.Samples)
		}
		p(": ")
		if len(pr.Shares) == 0 {
			if pr.Err != "" {
				p("not profiled: %s\n\n", oneLine(pr.Err))
			} else {
				p("no perf profile (perf is not installed)\n\n")
			}
			continue
		}
		var parts []string
		for _, s := range pr.Shares {
			if s.Pct >= 0.5 {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Name, s.Pct))
			}
		}
		p("%s.\n\n", strings.Join(parts, " · "))
		p("<details><summary>hottest symbols</summary>\n\n| share | symbol |\n|---|---|\n")
		for _, s := range pr.Top {
			p("| %.1f%% | `%s` |\n", s.Pct, strings.ReplaceAll(s.Name, "|", "\\|"))
		}
		p("\n</details>\n\n")
	}
}

// growth sets backup's time against the data size over every sample.
func (b *bench) growth(w *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	var rows []*sizeResult
	for _, r := range b.sizes {
		if c := find(r, "backup"); c != nil && c.Statsnap != nil && c.Statsnap.ok() {
			rows = append(rows, r)
		}
	}
	if len(rows) < 2 {
		return
	}
	p("## Growth with data size\n\n")
	p("| sample | rows | `backup` median | per million rows | `EXPORT DATABASE` median | per million rows | `restore` median | per million rows |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		c := find(r, "backup")
		m := float64(r.Rows) / 1e6
		p("| %s | %s | %s | %.2f s | ", sizeLabel(r), withCommas(r.Rows), fmtDur(c.Statsnap.Median()), c.Statsnap.Median().Seconds()/m)
		if c.Ref != nil && c.Ref.ok() {
			p("%s | %.2f s | ", fmtDur(c.Ref.Median()), c.Ref.Median().Seconds()/m)
		} else {
			p("– | – | ")
		}
		if rc := find(r, "restore"); rc != nil && rc.Statsnap != nil && rc.Statsnap.ok() {
			p("%s | %.2f s |\n", fmtDur(rc.Statsnap.Median()), rc.Statsnap.Median().Seconds()/m)
		} else {
			p("– | – |\n")
		}
	}
	p("\n")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func withCommas(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func (b *bench) scaleReport(w *strings.Builder, s *scaleResult) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Scale\n\n")
	for _, e := range s.Errs {
		p("- %s\n", e)
	}
	if len(s.Errs) > 0 {
		p("\n")
	}
	if s.All != nil {
		p("### `backup --all` over %d players\n\n", len(s.Players))
		p("Players of %s matches each (`sample --matches`), %s rows and %s of databases in all.\n\n", s.SampleMatches, withCommas(s.TotalRows), fmtBytes(s.TotalBytes))
		if !s.All.ok() {
			p("`backup --all` failed: %s\n\n", oneLine(s.All.Err))
		} else {
			p("| command | median | min–max | CPU (median) | peak RSS | runs |\n|---|---|---|---|---|---|\n")
			for _, x := range []*series{s.All, s.Jobs1, s.Jobs2} {
				if x == nil {
					continue
				}
				if !x.ok() {
					p("| %s | failed: %s | | | | |\n", x.Name, oneLine(x.Err))
					continue
				}
				p("| `%s` | %s | %s–%s | %s | %s | %d |\n", x.Command, fmtDur(x.Median()), fmtDur(x.Min()), fmtDur(x.Max()), fmtDur(x.CPU()), fmtBytes(x.PeakRSS()), len(x.Runs))
			}
			p("\n")
			if s.JobsMissing != "" {
				p("%s.\n\n", s.JobsMissing)
			} else if s.Jobs1.ok() && s.Jobs2.ok() {
				r := float64(s.Jobs2.Median()) / float64(s.Jobs1.Median())
				verdict := "helps"
				if r > 0.95 {
					verdict = "does not help"
				}
				p("`--jobs 2` / `--jobs 1` = %.2f on this %d-core machine: running two players at once %s.\n\n", r, b.machine.Cores, verdict)
			}
			if s.FitRows.R2 > 0 {
				var sum float64
				for _, pl := range s.Players {
					sum += pl.median()
				}
				p("Per-player time (backup's own `seconds` in its JSON, median over the repetitions) against the player's rows: ")
				p("time ≈ %.3f s + %.3f s per million rows (least squares, R² = %.3f). ", s.FitRows.Intercept, s.FitRows.Slope, s.FitRows.R2)
				p("The fixed part is the per-player cost (opening DuckDB, reading the catalog, 15 COPY statements, 15 files fsynced and renamed, the manifest), which dominates at this size; the sum of per-player times is %.1f s of the %s total (the rest is process start and listing players).\n\n", sum, fmtDur(s.All.Median()))
				p("| players (grouped by rows) | mean rows | mean database | mean time per player |\n|---|---|---|---|\n")
				for _, bk := range buckets(s.Players, 5) {
					p("| %d | %s | %s | %.2f s |\n", bk.Players, withCommas(int64(bk.Rows)), fmtBytes(int64(bk.DBBytes)), bk.Seconds)
				}
				p("\n")
			}
		}
		if br := s.Broken; br != nil {
			p("One unreadable database among the players (1 MiB of random bytes as `stats.duckdb`): ")
			if br.Err != "" {
				p("the run could not be measured: %s\n\n", oneLine(br.Err))
			} else {
				p("`backup --all` took %s, exited %d, backed up %d of %d good players and reported failed: %s.\n\n",
					fmtDur(br.Wall), br.ExitCode, br.Snapshots, len(s.Players), strings.Join(br.Failed, ", "))
			}
		}
	}
	if s.Snapshots > 0 {
		p("### %d snapshots in one player folder\n\n", s.Snapshots)
		if s.ManyErr != "" {
			p("Could not be measured: %s\n\n", oneLine(s.ManyErr))
			if s.Ledger != nil {
				b.ledgerReport(w, s.Ledger)
			}
			return
		}
		p("One real backup of a tiny database (`sample --matches 5`), then %d clones of it under earlier ids 7 hours apart (files hard-linked under the new names, manifest ids rewritten and its checksum recomputed with `snapshot.Marshal`): %d files written in %s. `snapshots --json` lists all %d as complete, and a clone from the middle passes `verify`.\n\n",
			s.Snapshots-1, s.SnapFiles, fmtDur(s.CloneTime), s.Snapshots)
		p("| command | median | min–max | peak RSS | runs |\n|---|---|---|---|---|\n")
		for _, x := range []*series{s.List, s.PruneDry, s.PruneDryRule, s.PruneReal} {
			if x == nil {
				continue
			}
			if !x.ok() {
				p("| %s | failed: %s | | | |\n", x.Name, oneLine(x.Err))
				continue
			}
			p("| `%s` | %s | %s–%s | %s | %d |\n", x.Command, fmtDur(x.Median()), fmtDur(x.Min()), fmtDur(x.Max()), fmtBytes(x.PeakRSS()), len(x.Runs))
		}
		p("\nThe last row is the real removal of %d snapshots (run once: it is destructive), checked afterwards with `snapshots --json`. A `verify --all` before the timings fills the verification ledger, so prune takes every snapshot's state from it.\n\n", s.Snapshots-min(s.Snapshots, 10))
		if len(s.Profiles) > 0 {
			p("Profiles (perf, every thread):\n\n")
			profileList(w, s.Profiles)
		}
	}
	if s.Ledger != nil {
		b.ledgerReport(w, s.Ledger)
	}
}
