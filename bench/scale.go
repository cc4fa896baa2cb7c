package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openspartan/statsnap/snapshot"
)

type playerPoint struct {
	Gamertag string
	Matches  int
	DBBytes  int64
	Rows     int64
	Seconds  []float64 // backup's own per-player time, one per repetition
}

func (p playerPoint) median() float64 {
	s := append([]float64(nil), p.Seconds...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type fit struct {
	Slope, Intercept, R2 float64
}

// linearFit fits y = a + b x by least squares.
func linearFit(x, y []float64) fit {
	n := float64(len(x))
	if n < 2 {
		return fit{}
	}
	var sx, sy, sxx, sxy, syy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
		syy += y[i] * y[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return fit{}
	}
	b := (n*sxy - sx*sy) / den
	a := (sy - b*sx) / n
	var ssr, sst float64
	mean := sy / n
	for i := range x {
		e := y[i] - (a + b*x[i])
		ssr += e * e
		sst += (y[i] - mean) * (y[i] - mean)
	}
	r2 := 0.0
	if sst > 0 {
		r2 = 1 - ssr/sst
	}
	return fit{Slope: b, Intercept: a, R2: r2}
}

type brokenRun struct {
	Wall      time.Duration
	ExitCode  int
	Snapshots int
	Failed    []string
	Err       string
}

type scaleResult struct {
	Players     []playerPoint
	TotalBytes  int64
	TotalRows   int64
	All         *series
	FitBytes    fit // seconds per MiB of database
	FitRows     fit // seconds per million rows
	Jobs1       *series
	Jobs2       *series
	JobsMissing string
	Broken      *brokenRun

	Snapshots     int
	SnapFiles     int
	CloneTime     time.Duration
	List          *series
	PruneDry      *series
	PruneDryRule  *series
	PruneReal     *series
	ManyErr       string
	Ledger        *ledgerResult
	Profiles      []*profileResult
	Errs          []string
	SampleMatches string
}

func (b *bench) runScale() *scaleResult {
	s := &scaleResult{}
	if b.opts.ScalePlayers > 0 {
		b.scaleAll(s)
		b.checkpoint()
	}
	if b.opts.Snapshots > 0 {
		b.scaleMany(s)
		b.checkpoint()
	}
	b.scaleLedger(s)
	return s
}

// scaleAll times backup --all over many small players of different sizes
// (100 to 900 matches, 500 on average), so that per-player times can be
// set against data size.
func (b *bench) scaleAll(s *scaleResult) {
	n := b.opts.ScalePlayers
	b.logf("scale: %d sample players", n)
	s.Players = make([]playerPoint, n)
	for i := range s.Players {
		m := 500
		if n > 1 {
			m = 100 + 800*i/(n-1)
		}
		s.Players[i] = playerPoint{Gamertag: fmt.Sprintf("Player%02d", i+1), Matches: m}
	}
	s.SampleMatches = fmt.Sprintf("%d to %d", s.Players[0].Matches, s.Players[n-1].Matches)
	b.sampleKey()
	dataDir := filepath.Join(b.work, "run", "scale", "data")
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, max(1, b.opts.SampleWorkers))
	var wg sync.WaitGroup
	for i := range s.Players {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *playerPoint) {
			defer wg.Done()
			defer func() { <-sem }()
			src, tables, err := b.sampleDB(p.Gamertag, p.Matches)
			if err == nil {
				err = linkDB(src, filepath.Join(dataDir, "players", p.Gamertag, "stats.duckdb"))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			for _, r := range tables {
				p.Rows += r
			}
			if fi, err := os.Stat(src); err == nil {
				p.DBBytes = fi.Size()
			}
		}(&s.Players[i])
	}
	wg.Wait()
	if firstErr != nil {
		s.Errs = append(s.Errs, "sample players: "+firstErr.Error())
		return
	}
	for _, p := range s.Players {
		s.TotalBytes += p.DBBytes
		s.TotalRows += p.Rows
	}

	out := filepath.Join(b.work, "run", "scale", "out")
	index := map[string]int{}
	for i, p := range s.Players {
		index[p.Gamertag] = i
	}
	all := job{
		Name:    "statsnap backup --all",
		Prepare: func() error { return os.RemoveAll(out) },
		Cmd: func() *exec.Cmd {
			return b.statsnapCmd("backup", "--all", "--data-dir", dataDir, "--output", out, "--json")
		},
		Check: func(stdout []byte) error {
			var v struct {
				Snapshots []struct {
					Gamertag string  `json:"gamertag"`
					Seconds  float64 `json:"seconds"`
				} `json:"snapshots"`
				Failed []json.RawMessage `json:"failed"`
			}
			if err := json.Unmarshal(stdout, &v); err != nil {
				return err
			}
			if len(v.Snapshots) != n || len(v.Failed) != 0 {
				return fmt.Errorf("%d snapshots, %d failed; want %d, 0", len(v.Snapshots), len(v.Failed), n)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, sn := range v.Snapshots {
				if i, ok := index[sn.Gamertag]; ok && sn.Seconds > 0 {
					s.Players[i].Seconds = append(s.Players[i].Seconds, sn.Seconds)
				}
			}
			return nil
		},
	}
	b.logf("scale: backup --all over %d players (%s of databases)", n, fmtBytes(s.TotalBytes))
	s.All = b.repeat(all, b.opts.ScaleReps)
	var xb, xr, y []float64
	for _, p := range s.Players {
		if len(p.Seconds) == 0 {
			continue
		}
		xb = append(xb, float64(p.DBBytes)/(1<<20))
		xr = append(xr, float64(p.Rows)/1e6)
		y = append(y, p.median())
	}
	s.FitBytes = linearFit(xb, y)
	s.FitRows = linearFit(xr, y)

	// --jobs, if backup has it.
	if b.hasCommand("backup", "--jobs") {
		mk := func(j int) job {
			o := out + fmt.Sprintf("-jobs%d", j)
			return job{
				Name:    fmt.Sprintf("statsnap backup --all --jobs %d", j),
				Prepare: func() error { return os.RemoveAll(o) },
				Cmd: func() *exec.Cmd {
					return b.statsnapCmd("backup", "--all", "--jobs", strconv.Itoa(j), "--data-dir", dataDir, "--output", o, "--json")
				},
				Check: checkJSON,
			}
		}
		b.logf("scale: backup --all --jobs 1 vs --jobs 2")
		s.Jobs1, s.Jobs2 = b.pair(mk(1), mk(2), b.opts.ScaleReps)
	} else {
		s.JobsMissing = "statsnap backup has no --jobs option in this build, so players are backed up one after another"
	}

	// One broken player among the others.
	s.Broken = b.brokenAll(s, dataDir)
	b.checkpoint()
}

// brokenAll runs backup --all with one unreadable database in the middle
// of the players: the others must all be backed up, the exit status 1.
func (b *bench) brokenAll(s *scaleResult, dataDir string) *brokenRun {
	br := &brokenRun{}
	dir := filepath.Join(b.work, "run", "scale", "data-broken")
	for _, p := range s.Players {
		if err := linkDB(filepath.Join(dataDir, "players", p.Gamertag, "stats.duckdb"), filepath.Join(dir, "players", p.Gamertag, "stats.duckdb")); err != nil {
			br.Err = err.Error()
			return br
		}
	}
	bad := filepath.Join(dir, "players", s.Players[len(s.Players)/2].Gamertag+"-broken", "stats.duckdb")
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		br.Err = err.Error()
		return br
	}
	if err := os.WriteFile(bad, junk, 0o644); err != nil {
		br.Err = err.Error()
		return br
	}
	out := filepath.Join(b.work, "run", "scale", "out-broken")
	os.RemoveAll(out)
	b.logf("scale: backup --all with one broken player")
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	m, stdout, err := runOnce(ctx, b.statsnapCmd("backup", "--all", "--data-dir", dir, "--output", out, "--json"))
	br.Wall = m.Wall
	var ee *exec.ExitError
	switch {
	case err == nil:
		br.ExitCode = 0
	case errors.As(err, &ee):
		br.ExitCode = ee.ExitCode()
	default:
		br.Err = err.Error()
		return br
	}
	var v struct {
		Snapshots []json.RawMessage `json:"snapshots"`
		Failed    []struct {
			Gamertag string `json:"gamertag"`
		} `json:"failed"`
	}
	if err := json.Unmarshal(stdout, &v); err != nil {
		br.Err = "backup --all --json: " + err.Error()
		return br
	}
	br.Snapshots = len(v.Snapshots)
	for _, f := range v.Failed {
		br.Failed = append(br.Failed, f.Gamertag)
	}
	return br
}

// linkDB hard-links (or copies) a database to dst.
func linkDB(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// scaleMany fills one player folder with many snapshots (one real backup
// of a tiny database, then clones of it under other ids: files hard-linked
// under the new names, manifest rewritten and re-checksummed with the
// snapshot package), then times listing and prune.
func (b *bench) scaleMany(s *scaleResult) {
	const gamertag = "Many"
	n := b.opts.Snapshots
	s.Snapshots = n
	fail := func(err error) { s.ManyErr = err.Error(); b.logf("scale: %d snapshots: %v", n, err) }
	b.logf("scale: %d snapshots in one folder", n)
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	root := filepath.Join(b.work, "run", "many")
	start := time.Now()
	folder, files, err := b.snapshotFolder(ctx, root, gamertag, 5, n, 7*time.Hour)
	if err != nil {
		fail(err)
		return
	}
	s.CloneTime = time.Since(start)
	s.SnapFiles = files

	// Every clone must list as complete, and one must verify.
	_, out, err := runOnce(ctx, b.statsnapCmd("snapshots", "--gamertag", gamertag, "--output", root, "--json"))
	if err != nil {
		fail(err)
		return
	}
	if err := checkSnapshotCount(out, n); err != nil {
		fail(err)
		return
	}
	if b.hasCommand("verify", "") {
		mid := snapshot.FormatID(folderBase.Add(-time.Duration(n/2) * 7 * time.Hour))
		if _, _, err := runOnce(ctx, b.statsnapCmd("verify", "--backup", folder, "--snapshot", mid, "--json")); err != nil {
			fail(fmt.Errorf("a cloned snapshot does not verify: %w", err))
			return
		}
	}

	// Prune counts only snapshots that verify: one verify --all first
	// records a check of every file in the ledger, as the README's weekly
	// job keeps it, so that the prunes below read no file.
	if b.hasCommand("verify", "max-age") {
		if _, _, err := runOnce(ctx, b.statsnapCmd("verify", "--backup", folder, "--all", "--json")); err != nil {
			fail(fmt.Errorf("verify --all of the clones: %w", err))
			return
		}
	}

	s.List = b.repeat(job{
		Name: "statsnap snapshots",
		Cmd:  func() *exec.Cmd { return b.statsnapCmd("snapshots", "--gamertag", gamertag, "--output", root) },
	}, b.opts.Reps)
	if !b.hasCommand("prune", "--dry-run") {
		s.Errs = append(s.Errs, "statsnap prune is not available yet")
		return
	}
	s.PruneDry = b.repeat(job{
		Name: "statsnap prune --dry-run --keep-last 10",
		Cmd: func() *exec.Cmd {
			return b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--dry-run", "--keep-last", "10", "--json")
		},
		Check: checkPruneCount(n - min(n, 10)),
	}, b.opts.Reps)
	s.PruneDryRule = b.repeat(job{
		Name: "statsnap prune --dry-run (daily 7, weekly 8, monthly 12, yearly 3)",
		Cmd: func() *exec.Cmd {
			return b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--dry-run",
				"--keep-daily", "7", "--keep-weekly", "8", "--keep-monthly", "12", "--keep-yearly", "3", "--json")
		},
		Check: checkJSON,
	}, b.opts.Reps)
	if b.opts.Profile {
		s.Profiles = append(s.Profiles,
			b.profileOne("snapshots", fmt.Sprintf("snapshots-%d", n), job{Cmd: func() *exec.Cmd {
				return b.statsnapCmd("snapshots", "--gamertag", gamertag, "--output", root)
			}}),
			b.profileOne("prune --dry-run --keep-last 10", fmt.Sprintf("prune-dry-%d", n), job{Cmd: func() *exec.Cmd {
				return b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--dry-run", "--keep-last", "10", "--json")
			}}))
	}
	// The real removal, once (it is destructive).
	removal := &series{Name: "statsnap prune --keep-last 10"}
	c := b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--keep-last", "10", "--json")
	removal.Command = b.cmdString(c)
	m, out, err := runOnce(ctx, c)
	if err == nil {
		err = checkPruneCount(n - min(n, 10))(out)
	}
	if err == nil {
		_, out, err = runOnce(ctx, b.statsnapCmd("snapshots", "--gamertag", gamertag, "--output", root, "--json"))
		if err == nil {
			err = checkSnapshotCount(out, min(n, 10))
		}
	}
	if err != nil {
		removal.Err = err.Error()
	} else {
		removal.Runs = append(removal.Runs, m)
	}
	s.PruneReal = removal
}

// cloneSnapshots writes count copies of snapshot id0 of folder, each step
// earlier than the last, and returns how many files it created.
// folderBase is the time of the newest snapshot snapshotFolder makes; the
// clones go back from it.
var folderBase = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// snapshotFolder makes root/gamertag hold n snapshots of a sample player
// of the given size: one real backup, then n-1 clones of it, step apart
// (cloning is how a folder of hundreds of snapshots is made in seconds).
// It returns the folder and the number of files the clones wrote.
func (b *bench) snapshotFolder(ctx context.Context, root, gamertag string, matches, n int, step time.Duration) (string, int, error) {
	src, _, err := b.sampleDB(gamertag, matches)
	if err != nil {
		return "", 0, err
	}
	os.RemoveAll(root)
	base := folderBase
	if _, _, err := runOnce(ctx, b.statsnapCmd("backup", "--db", src, "--gamertag", gamertag, "--output", root, "--time", base.Format(time.RFC3339), "--json")); err != nil {
		return "", 0, err
	}
	folder := filepath.Join(root, gamertag)
	files, err := cloneSnapshots(folder, snapshot.FormatID(base), base, n-1, step)
	return folder, files, err
}

func cloneSnapshots(folder, id0 string, base time.Time, count int, step time.Duration) (int, error) {
	raw, err := os.ReadFile(filepath.Join(folder, snapshot.ManifestName(id0)))
	if err != nil {
		return 0, err
	}
	files := 0
	for i := 1; i <= count; i++ {
		p, err := snapshot.ParseManifest(raw)
		if err != nil {
			return files, err
		}
		m := p.Manifest
		t := base.Add(-time.Duration(i) * step)
		id := snapshot.FormatID(t)
		m.BackupTimestamp = id
		m.BackupDatetime = t.Format(snapshot.DatetimeLayout)
		for _, tb := range m.Tables {
			// Every file of the table (format 2 lists them in Files; File
			// is the first), each under the clone's id.
			rename := func(file string) (string, error) {
				name := strings.Replace(file, id0, id, 1)
				if name == file {
					return "", fmt.Errorf("file %s does not carry the id %s", file, id0)
				}
				if err := os.Link(filepath.Join(folder, file), filepath.Join(folder, name)); err != nil {
					return "", err
				}
				files++
				return name, nil
			}
			if len(tb.Files) == 0 {
				if tb.File, err = rename(tb.File); err != nil {
					return files, err
				}
				continue
			}
			for k := range tb.Files {
				if tb.Files[k].File, err = rename(tb.Files[k].File); err != nil {
					return files, err
				}
			}
			tb.File = tb.Files[0].File
		}
		data, err := snapshot.Marshal(m, nil)
		if err != nil {
			return files, err
		}
		if err := os.WriteFile(filepath.Join(folder, snapshot.ManifestName(id)), data, 0o644); err != nil {
			return files, err
		}
		files++
	}
	return files, nil
}

func checkSnapshotCount(out []byte, want int) error {
	var v struct {
		Snapshots []struct {
			Status string `json:"status"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("snapshots --json: %w", err)
	}
	complete := 0
	for _, s := range v.Snapshots {
		if s.Status == "complete" {
			complete++
		}
	}
	if complete != want || len(v.Snapshots) != want {
		return fmt.Errorf("snapshots lists %d (%d complete), want %d complete", len(v.Snapshots), complete, want)
	}
	return nil
}

func checkPruneCount(want int) func([]byte) error {
	return func(out []byte) error {
		var v struct {
			Groups []struct {
				Remove []json.RawMessage `json:"remove"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return fmt.Errorf("prune --json: %w", err)
		}
		got := 0
		for _, g := range v.Groups {
			got += len(g.Remove)
		}
		if got != want {
			return fmt.Errorf("prune removes %d snapshots, want %d", got, want)
		}
		return nil
	}
}

// bucket summarizes players by size for the report.
type bucket struct {
	Players       int
	Rows, DBBytes float64
	Seconds       float64
}

func buckets(ps []playerPoint, k int) []bucket {
	var out []bucket
	if len(ps) == 0 {
		return nil
	}
	sorted := append([]playerPoint(nil), ps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Rows < sorted[j].Rows })
	size := int(math.Ceil(float64(len(sorted)) / float64(k)))
	for i := 0; i < len(sorted); i += size {
		var bk bucket
		for _, p := range sorted[i:min(i+size, len(sorted))] {
			if len(p.Seconds) == 0 {
				continue
			}
			bk.Players++
			bk.Rows += float64(p.Rows)
			bk.DBBytes += float64(p.DBBytes)
			bk.Seconds += p.median()
		}
		if bk.Players > 0 {
			f := float64(bk.Players)
			bk.Rows /= f
			bk.DBBytes /= f
			bk.Seconds /= f
			out = append(out, bk)
		}
	}
	return out
}
