package verify

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// Budget bounds how much one Folder run reads. Files are started in order
// of least recent check until the budget is spent; the file that crosses
// it is finished, so a run always makes progress and runs with a budget of
// a quarter of the data cover every file in four runs.
type Budget struct {
	Bytes    int64         // 0: no size limit
	Duration time.Duration // 0: no time limit
}

// Zero reports whether the budget sets no limit.
func (b Budget) Zero() bool { return b.Bytes <= 0 && b.Duration <= 0 }

// FolderOptions tune a verification of several snapshots of one folder.
type FolderOptions struct {
	Options
	// Ledger is the folder's trusted ledger (snapshot.TrustedLedger), or
	// nil. It orders a budgeted run and, with MaxAge, vouches for files.
	Ledger *snapshot.Ledger
	// MaxAge, when positive, lets a passing ledger check of at least this
	// run's depth, made within MaxAge, stand for reading a file.
	MaxAge time.Duration
	Budget Budget
	// Now is the time checks are recorded at (zero: time.Now()).
	Now time.Time
}

// Coverage says how much of the folder's data has been checked, counting
// each distinct file once, as the ledger will record it after this run.
type Coverage struct {
	Files         int   `json:"files"`
	Bytes         int64 `json:"bytes"`
	ReadFiles     int   `json:"read_files"`
	ReadBytes     int64 `json:"read_bytes"`
	LedgerFiles   int   `json:"ledger_files"`
	LedgerBytes   int64 `json:"ledger_bytes"`
	DeferredFiles int   `json:"deferred_files"`
	DeferredBytes int64 `json:"deferred_bytes"`
	// NeverFiles and NeverBytes are the files that no check has ever read.
	NeverFiles int   `json:"never_checked_files"`
	NeverBytes int64 `json:"never_checked_bytes"`
	// Oldest is the time of the oldest last check among the files that
	// were checked at least once (zero when none was).
	Oldest time.Time `json:"-"`
}

// FolderResult is the verdict on several snapshots of one folder.
type FolderResult struct {
	Results []Result // in the order of the snapshots given
	// Delta holds this run's checks, to be merged into the stored ledger
	// (snapshot.UpdateLedger) under the folder's lock.
	Delta    *snapshot.Ledger
	Coverage Coverage
}

// Depth is the depth a check with these options reaches on a statsnap
// snapshot.
func (o Options) Depth() snapshot.Depth {
	switch {
	case o.Quick && o.CopyTo == "":
		return snapshot.DepthFooters
	case o.Deep:
		return snapshot.DepthDeep
	}
	return snapshot.DepthHash
}

// unit is one distinct file to check; several snapshots may name it.
type unit struct {
	j     job
	m     mode
	entry storage.Entry // from the listing
	prior snapshot.Check
	known bool // prior is a record of this file's current manifest entry
	// outcome
	source  string
	fr      FileResult
	ps      []Problem
	err     error
	started time.Time
}

// Folder verifies snaps, each as Snapshot would, reading each distinct
// file once however many snapshots name it. With a Ledger and MaxAge, a
// recent passing check stands for reading a file; with a Budget, the
// files least recently checked (never checked, or last found bad, first)
// are read until the budget is spent and the others are deferred. A
// deferred file makes no problem: the snapshot's Result is OK when nothing
// read was wrong, and Coverage says what is left.
func Folder(ctx context.Context, f storage.Folder, snaps []snapshot.Info, entries []storage.Entry, opt FolderOptions) FolderResult {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := FolderResult{Delta: snapshot.NewLedger(snapshot.FolderName(f.Location()))}
	if opt.Ledger != nil {
		out.Delta.Folder = opt.Ledger.Folder
	}
	listed := map[string]storage.Entry{}
	for _, e := range entries {
		listed[e.Name] = e
	}
	depth := opt.Depth()
	// A file carrying one snapshot's id may be named by another (shared):
	// it is no unexpected file of the first.
	named := snapshot.NamedFiles(snaps)
	for name := range opt.Named {
		named[name] = true
	}
	opt.Named = named

	type pending struct {
		res   Result
		s     snapshot.Info
		m     mode
		units []*unit
		tabs  []string // each unit's table key in this snapshot
		done  bool
	}
	snapsOut := make([]pending, len(snaps))
	units := map[string]*unit{}
	var order []*unit
	for i, s := range snaps {
		mname := snapshot.ManifestName(s.ID)
		vouched := opt.MaxAge > 0 && s.Manifest != nil && !s.Manifest.Legacy() &&
			opt.Ledger.VouchManifest(mname, s.Manifest.Checksum, listed[mname], opt.Key != nil, opt.MaxAge, now)
		res, jobs, m, done := prepare(s, entries, opt.Options, vouched)
		if !vouched && !done && m == modeComplete && manifestPassed(res, mname) {
			if e, ok := listed[mname]; ok {
				out.Delta.RecordManifest(mname, s.Manifest.Checksum, e.Size, e.ModTime, now, opt.Key != nil)
			}
		}
		p := pending{res: res, s: s, m: m, done: done}
		for _, j := range jobs {
			key := unitKey(j, m)
			u, ok := units[key]
			if !ok {
				u = &unit{j: j, m: m, entry: listed[j.file]}
				if opt.Ledger != nil {
					u.prior, u.known = opt.Ledger.Files[j.file]
					if u.known && j.entry != nil && j.entry.BLAKE3 != "" &&
						(u.prior.BLAKE3 != j.entry.BLAKE3 || u.prior.Size != j.entry.FileSizeBytes) {
						u.known = false
					}
				}
				units[key] = u
				order = append(order, u)
			}
			p.units = append(p.units, u)
			p.tabs = append(p.tabs, j.table)
		}
		snapsOut[i] = p
	}

	// Which files the ledger stands for, and which must be read.
	var toRead []*unit
	for _, u := range order {
		if opt.MaxAge > 0 && u.m == modeComplete && u.entry.Name != "" {
			if c, ok := opt.Ledger.VouchPart(*u.j.entry, u.entry, depth, opt.MaxAge, now); ok {
				u.source = "ledger"
				u.fr = FileResult{Table: u.j.table, File: u.j.file, Rows: u.j.entry.Rows, Size: u.entry.Size,
					BLAKE3: u.j.entry.BLAKE3, OK: true, Source: "ledger", Checked: c.Checked.Format(time.RFC3339)}
				continue
			}
		}
		toRead = append(toRead, u)
	}
	if opt.Budget.Zero() {
		// Largest first: the biggest file is most of the work, and
		// starting it last would leave the other cores idle.
		sort.SliceStable(toRead, func(a, b int) bool { return toRead[a].j.size > toRead[b].j.size })
	} else {
		sort.SliceStable(toRead, func(a, b int) bool { return readsFirst(toRead[a], toRead[b]) })
	}
	readUnits(ctx, f, toRead, opt, now)
	if err := ctx.Err(); err != nil {
		for i := range snapsOut {
			snapsOut[i].res.Err = err
		}
	}

	// Record what was read, and tally the coverage.
	cov := &out.Coverage
	for _, u := range order {
		size := u.j.size
		if u.entry.Name != "" {
			size = u.entry.Size
		}
		cov.Files++
		cov.Bytes += size
		last := time.Time{}
		switch u.source {
		case "read":
			cov.ReadFiles++
			cov.ReadBytes += size
			if u.err == nil {
				last = u.started
				recordUnit(out.Delta, u, depth)
			} else if u.known {
				last = u.prior.Checked
			}
		case "ledger":
			cov.LedgerFiles++
			cov.LedgerBytes += size
			last = u.prior.Checked
			if c, ok := opt.Ledger.Files[u.j.file]; ok {
				last = c.Checked
			}
		default:
			cov.DeferredFiles++
			cov.DeferredBytes += size
			if u.known {
				last = u.prior.Checked
			}
		}
		if last.IsZero() {
			cov.NeverFiles++
			cov.NeverBytes += size
		} else if cov.Oldest.IsZero() || last.Before(cov.Oldest) {
			cov.Oldest = last
		}
	}

	for _, p := range snapsOut {
		if p.done {
			out.Results = append(out.Results, finish(p.res, opt.Options))
			continue
		}
		res := p.res
		deferred := 0
		for i, u := range p.units {
			fr := u.fr
			fr.Table = p.tabs[i]
			res.Files = append(res.Files, fr)
			for _, pr := range u.ps {
				pr.Table = p.tabs[i]
				res.Problems = append(res.Problems, pr)
			}
			if u.err != nil && res.Err == nil {
				res.Err = u.err
			}
			if u.source == "deferred" {
				deferred++
			}
		}
		res = conclude(res, p.s, entries, p.m, len(p.units), opt.Options)
		out.Results = append(out.Results, res)
		recordSnapshot(out.Delta, opt.Ledger, res, p.units, depth, now)
	}
	return out
}

// unitKey identifies a distinct check: the same file checked against the
// same expectations.
func unitKey(j job, m mode) string {
	k := j.file + "\x00" + string(rune('0'+m))
	if j.entry != nil {
		k += "\x00" + j.entry.BLAKE3 + "\x00" + itoa64(j.entry.FileSizeBytes) + "\x00" + itoa64(j.entry.Rows)
	}
	if j.schema != nil {
		// Snapshots sharing a file record its table's schema each: the
		// file is read once per schema it must have (once, in practice).
		k += "\x00" + j.schema.IPC + "\x00" + fieldsKey(j.schema.Fields)
	}
	return k
}

// fieldsKey renders a recorded Arrow field list unambiguously.
func fieldsKey(fs []snapshot.Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(strconv.Quote(f.Name))
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(f.Type))
		if f.Nullable {
			b.WriteString(" null")
		}
		b.WriteString(" (")
		b.WriteString(fieldsKey(f.Children))
		b.WriteString("),")
	}
	return b.String()
}

func itoa64(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	var b [20]byte
	i := len(b)
	for n != 0 {
		d := n % 10
		if d < 0 {
			d = -d
		}
		i--
		b[i] = byte('0' + d)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// readsFirst orders a budgeted run: files never checked first, then those
// whose last check failed (worth confirming), then the oldest checks;
// ties by name so that runs are reproducible.
func readsFirst(a, b *unit) bool {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra < rb
	}
	if ra == 2 && !a.prior.Checked.Equal(b.prior.Checked) {
		return a.prior.Checked.Before(b.prior.Checked)
	}
	return a.j.file < b.j.file
}

func rank(u *unit) int {
	switch {
	case !u.known:
		return 0
	case !u.prior.OK:
		return 1
	}
	return 2
}

// readUnits checks the units, started in the order given, on the lanes
// that lanes gives. With a budget, no unit is started once the bytes
// started reach Budget.Bytes or Budget.Duration has passed; those left
// are deferred. Small-file lanes (object stores only, and never with a
// budget, whose order is a priority) take the smallest units from the
// other end of the order.
func readUnits(ctx context.Context, f storage.Folder, units []*unit, opt FolderOptions, now time.Time) {
	for _, u := range units {
		u.source = "deferred"
		u.fr = FileResult{Table: u.j.table, File: u.j.file, Size: u.entry.Size, Source: "deferred"}
	}
	front, back := lanes(f, opt.Jobs)
	if !opt.Budget.Zero() {
		front, back = front+back, 0
	}
	start := time.Now()
	var mu sync.Mutex
	lo, hi := 0, len(units)
	var spent int64
	done := 0
	// take hands a lane its next unit, or nil when it has none left.
	take := func(fromBack bool) *unit {
		mu.Lock()
		defer mu.Unlock()
		if lo >= hi || ctx.Err() != nil ||
			(opt.Budget.Bytes > 0 && spent >= opt.Budget.Bytes) ||
			(opt.Budget.Duration > 0 && time.Since(start) >= opt.Budget.Duration) {
			return nil
		}
		var u *unit
		if fromBack {
			if u = units[hi-1]; max(u.j.size, u.entry.Size) > smallFile {
				return nil
			}
			hi--
		} else {
			u = units[lo]
			lo++
		}
		// The ledger records when the check started and the file's
		// modification time as listed before: a file modified since has
		// another one, and is never vouched for.
		u.started = now.Add(time.Since(start))
		u.source = "read"
		spent += max(u.j.size, u.entry.Size)
		return u
	}
	var wg sync.WaitGroup
	lane := func(fromBack bool) {
		defer wg.Done()
		for u := take(fromBack); u != nil; u = take(fromBack) {
			fr, ps, err := checkFile(ctx, f, u.j, u.m, opt.Options)
			fr.Source = "read"
			mu.Lock()
			u.fr, u.ps, u.err = fr, ps, err
			if opt.Progress != nil {
				done++
				opt.Progress(done, len(units), fr)
			}
			mu.Unlock()
		}
	}
	for range min(front, len(units)) {
		wg.Add(1)
		go lane(false)
	}
	for range min(back, len(units)) {
		wg.Add(1)
		go lane(true)
	}
	wg.Wait()
}

// recordUnit adds a file read now to the ledger delta.
func recordUnit(delta *snapshot.Ledger, u *unit, depth snapshot.Depth) {
	problem := ""
	if len(u.ps) > 0 {
		problem = u.ps[0].Kind.String()
	}
	switch {
	case u.m == modeComplete:
		delta.RecordPart(*u.j.entry, u.entry.ModTime, u.started, depth, problem)
	case u.fr.BLAKE3 != "":
		// No hash in the manifest: record what was found, so a budget
		// can order it; Vouch never trusts such a record (the manifest
		// gives nothing to compare it with).
		delta.RecordPart(snapshot.Part{File: u.j.file, BLAKE3: u.fr.BLAKE3, FileSizeBytes: u.fr.Size}, u.entry.ModTime, u.started, snapshot.DepthDeep, problem)
	}
}

// recordSnapshot records the verdict on a snapshot as a whole when it is
// known: problems found now, or every file passed a check (now, or in a
// ledger record of its current manifest entry). Its time is the oldest of
// those checks and its depth the shallowest.
func recordSnapshot(delta, prior *snapshot.Ledger, res Result, units []*unit, depth snapshot.Depth, now time.Time) {
	if res.Err != nil || res.Status != snapshot.StatusComplete {
		return
	}
	if len(res.Problems) > 0 {
		kinds := []string{}
		seen := map[string]bool{}
		for _, p := range res.Problems {
			if !seen[p.Kind.String()] {
				seen[p.Kind.String()] = true
				kinds = append(kinds, p.Kind.String())
			}
		}
		delta.RecordSnapshot(res.Snapshot, now, depth, kinds)
		return
	}
	oldest, shallowest := now, depth
	for _, u := range units {
		var c snapshot.Check
		switch {
		case u.source == "read":
			c = snapshot.Check{Checked: u.started, Depth: depth, OK: len(u.ps) == 0}
		case u.known:
			c = u.prior
		default:
			return // never checked: nothing to say about the snapshot yet
		}
		if !c.OK {
			return
		}
		if c.Checked.Before(oldest) {
			oldest = c.Checked
		}
		shallowest = min(shallowest, c.Depth)
	}
	delta.RecordSnapshot(res.Snapshot, oldest, shallowest, nil)
}

// Record adds to delta the checks of res, a verification of s by
// Snapshot (every file read) that started at started with the folder
// listing entries. An operational failure records nothing: the files were
// not all judged.
func Record(delta *snapshot.Ledger, s snapshot.Info, entries []storage.Entry, res Result, opt Options, started time.Time) {
	if res.Err != nil || s.Manifest == nil || s.Manifest.Legacy() {
		return
	}
	listed := map[string]storage.Entry{}
	for _, e := range entries {
		listed[e.Name] = e
	}
	first := map[string]string{}
	for _, p := range res.Problems {
		if p.File != "" && first[p.File] == "" {
			first[p.File] = p.Kind.String()
		}
	}
	byFile := map[string]snapshot.Part{}
	for _, t := range s.Manifest.Tables {
		for _, p := range t.DataFiles() {
			byFile[p.File] = p
		}
	}
	depth := opt.Depth()
	for _, fr := range res.Files {
		if p, ok := byFile[fr.File]; ok && (fr.Source == "" || fr.Source == "read") {
			delta.RecordPart(p, listed[fr.File].ModTime, started, depth, first[fr.File])
		}
	}
	if len(res.Files) == len(byFile) || len(res.Problems) > 0 {
		var kinds []string
		seen := map[string]bool{}
		for _, p := range res.Problems {
			if !seen[p.Kind.String()] {
				seen[p.Kind.String()] = true
				kinds = append(kinds, p.Kind.String())
			}
		}
		delta.RecordSnapshot(res.Snapshot, started, depth, kinds)
	}
}

// manifestPassed reports whether prepare found nothing wrong with the
// manifest itself (its checksum and, given a key, its MAC).
func manifestPassed(res Result, mname string) bool {
	for _, p := range res.Problems {
		if p.File == mname && (p.Kind == KindManifestCorrupt || p.Kind == KindUnauthenticated) {
			return false
		}
	}
	return true
}
