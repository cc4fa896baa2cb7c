package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// verifyCoverageJSON is how much of a folder's data has been checked,
// each distinct file counted once, as the ledger records it after the run.
type verifyCoverageJSON struct {
	verify.Coverage
	OldestCheck           string `json:"oldest_check,omitempty"`
	OldestCheckAgeSeconds int64  `json:"oldest_check_age_seconds,omitempty"`
}

// verifyPlayerJSON is one player folder of a whole-root verify.
type verifyPlayerJSON struct {
	Gamertag      string             `json:"gamertag"`
	Backup        string             `json:"backup"`
	OK            bool               `json:"ok"`
	Snapshots     []verifySnapJSON   `json:"snapshots"`
	Skipped       []verifySkipJSON   `json:"skipped"`
	Coverage      verifyCoverageJSON `json:"coverage"`
	LedgerIgnored string             `json:"ledger_ignored,omitempty"`
	Error         string             `json:"error,omitempty"`
}

// verifyRun is what the flags ask of every folder.
type verifyRun struct {
	o      verifyOptions
	key    []byte
	maxAge time.Duration
	budget budgetValue
	now    time.Time
}

// isBackupRoot tells a backup root from a player folder: a player folder
// holds snapshot files or statsnap's own; a root holds only folders.
func isBackupRoot(ctx context.Context, location string) bool {
	r, err := storage.Open(ctx, location)
	if err != nil {
		return false
	}
	defer r.Close()
	f, err := r.Folder(ctx, "", false)
	if err == nil {
		es, err := f.List(ctx)
		f.Close()
		if err != nil || holdsSnapshots(es) {
			return false
		}
	}
	names, err := playerNames(ctx, r)
	return err == nil && len(names) > 0
}

// holdsSnapshots reports a listing of a player folder: snapshot files or
// statsnap's own.
func holdsSnapshots(es []storage.Entry) bool {
	for _, e := range es {
		if k, _ := snapshot.Classify(e.Name); k != snapshot.KindOther || e.Name == snapshot.LedgerName {
			return true
		}
	}
	return false
}

// errBackupRoot is verifyOneFolder's answer when the folder it was asked
// to detect turns out to be a backup root.
var errBackupRoot = errors.New("a backup root, not a player folder")

// remoteLocation reports an object-store URL. Listing a prefix is the
// dearest request of a verify from an object store, so there the folder
// is listed once, under its lock, and that listing also tells a root
// from a player folder (see verifyOneFolder); a local listing costs
// nothing and is taken before the lock as always.
func remoteLocation(location string) bool {
	scheme, _, err := storage.Parse(location)
	return err == nil && scheme != "" && scheme != "file"
}

// playerNames lists a root's player folders, leaving out dot-folders.
func playerNames(ctx context.Context, r storage.Root) ([]string, error) {
	all, err := r.Players(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out, nil
}

// playerFolders lists the player folders of a backup root.
func playerFolders(ctx context.Context, root string) ([]string, error) {
	r, err := storage.Open(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("cannot verify: %w; check --backup or --output", err)
	}
	defer r.Close()
	out, err := playerNames(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("cannot verify: %w; check --backup or --output", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cannot verify: %s holds no player folders; check --backup or --output", root)
	}
	return out, nil
}

// folderBytes is the size of the Parquet files of a folder, to share a
// budget between the folders of a root.
func folderBytes(ctx context.Context, location string) int64 {
	f, err := storage.OpenFolder(ctx, location, false)
	if err != nil {
		return 0
	}
	defer f.Close()
	es, err := f.List(ctx)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range es {
		if k, _ := snapshot.Classify(e.Name); k == snapshot.KindParquet {
			n += e.Size
		}
	}
	return n
}

// runVerifyRoot verifies every player folder of root, each on its own,
// and returns one verdict and exit code for all of them.
func runVerifyRoot(ctx context.Context, g *globals, r verifyRun, root string) error {
	if r.o.Snapshot != "" {
		return usageErr("--snapshot names one snapshot of one player folder; with a backup root, use --all or nothing")
	}
	names, err := playerFolders(ctx, root)
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	var total int64
	for _, n := range names {
		sizes[n] = folderBytes(ctx, storage.Join(root, n))
		total += sizes[n]
	}
	doc := verifyJSON{OK: true, Backup: root, Deep: r.o.Deep, Snapshots: []verifySnapJSON{}, Skipped: []verifySkipJSON{},
		Players: []verifyPlayerJSON{}}
	w := g.out()
	var opErrs []string
	for i, n := range names {
		dir := storage.Join(root, n)
		share := 1.0
		if total > 0 {
			share = float64(sizes[n]) / float64(total)
		}
		if !g.JSON {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "== %s (%s)\n", n, dir)
		}
		p, err := verifyOneFolder(ctx, g, r, dir, n, share, false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.Error = describe(err).line()
			p.OK = false
			opErrs = append(opErrs, n)
			// One line per folder as it fails: the others go on.
			fmt.Fprintf(g.stderr, "statsnap: %s\n", p.Error)
		}
		doc.OK = doc.OK && p.OK
		for _, s := range p.Snapshots {
			s.Gamertag = n
			doc.Snapshots = append(doc.Snapshots, s)
		}
		doc.Players = append(doc.Players, p)
	}
	bad := 0
	for _, p := range doc.Players {
		if !p.OK {
			bad++
		}
	}
	if !g.JSON {
		if bad == 0 {
			fmt.Fprintf(w, "\nverify: %s: %s of %s, %s intact\n", g.paint(colourOK, "OK"), plural(int64(len(doc.Players)), "player folder", "player folders"), root, plural(int64(len(doc.Snapshots)), "snapshot", "snapshots"))
		} else {
			fmt.Fprintf(w, "\nverify: %s: %d of %s of %s not intact\n", g.paint(colourFail, "FAILED"), bad, plural(int64(len(doc.Players)), "player folder", "player folders"), root)
		}
	} else if len(opErrs) == 0 && doc.OK {
		return g.printJSON(doc)
	}
	if len(opErrs) > 0 {
		return withReport(doc, fmt.Errorf("could not verify %d of %d player folders: %s", len(opErrs), len(names), strings.Join(opErrs, ", ")), false)
	}
	if !doc.OK {
		// The report said it all, folder by folder.
		return withReport(doc, integrityErr("%d of %s of %s not intact", bad, plural(int64(len(doc.Players)), "player folder", "player folders"), root), true)
	}
	return nil
}

// verifyOneFolder verifies the snapshots the flags select in one player
// folder, under its shared lock, and records the checks in its ledger.
// The returned document is filled as far as the run got. With
// detectRoot, a folder that holds no snapshot files but player folders
// is a backup root: it returns errBackupRoot, having read nothing else.
func verifyOneFolder(ctx context.Context, g *globals, r verifyRun, dir, name string, share float64, detectRoot bool) (verifyPlayerJSON, error) {
	o := r.o
	p := verifyPlayerJSON{Gamertag: name, Backup: dir, OK: true, Snapshots: []verifySnapJSON{}, Skipped: []verifySkipJSON{}}
	op := &opError{op: "verify " + dir, verb: "verify", folder: dir}
	folder, err := storage.OpenFolder(ctx, dir, false)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = withHint(notExist("the folder does not exist"), "check --backup")
		}
		op.err = err
		return p, op
	}
	defer folder.Close()
	// Shared: other verifies and restores may read beside us, but no
	// backup or prune can change the folder while we read it.
	unlock, err := lockFolder(ctx, g, folder, false)
	if err != nil {
		op.err = err
		return p, op
	}
	defer unlock()

	// On an object store, the ledger and the manifests are read while the
	// folder is listed (requests less to wait for one after the other);
	// the ledger is judged against the manifests below. Both reads end
	// before the folder closes.
	trustLedger := snapshot.PrefetchLedger(ctx, folder, r.key)
	defer func() { _, _ = trustLedger(nil) }()
	pre := snapshot.PrefetchManifests(ctx, folder)
	defer pre.Close()
	entries, err := folder.List(ctx)
	if err != nil {
		op.err = err
		return p, op
	}
	if detectRoot && !holdsSnapshots(entries) && isBackupRoot(ctx, dir) {
		return p, errBackupRoot
	}
	snaps, err := snapshot.ScanPrefetched(ctx, folder, entries, pre)
	if err != nil {
		op.err = err
		return p, op
	}
	sel := o
	sel.Backup = dir
	if !r.budget.zero() && sel.Snapshot == "" {
		// A budget is about covering the whole folder over several runs.
		sel.All = true
	}
	targets, skipped, err := verifyTargets(snaps, sel)
	if err != nil {
		return p, err
	}
	p.Skipped = skipped
	ledger, ignored := trustLedger(snaps)
	if ignored != nil {
		p.LedgerIgnored = ignored.Error()
		fmt.Fprintln(g.stderr, ledgerWarning(dir, ignored))
	}
	var data int64
	for _, e := range entries {
		if k, _ := snapshot.Classify(e.Name); k == snapshot.KindParquet {
			data += e.Size
		}
	}
	opt := verify.FolderOptions{
		Options: verify.Options{Deep: o.Deep, Quick: o.Quick, AllowUnverified: o.AllowUnverified, Key: r.key, Jobs: o.Jobs,
			Named: snapshot.NamedFiles(snaps)},
		Ledger: ledger, MaxAge: r.maxAge, Budget: r.budget.budgetFor(data, share), Now: r.now,
	}
	if _, local := storage.LocalPath(folder, storage.LockName); !local && !o.Quick && decodes(o, targets) {
		// From an object store, a file that is decoded (--deep, legacy
		// and bare snapshots) streams once into scratch space while it is
		// hashed, and the decode reads that copy: a request per column
		// chunk would cost more than the file. The other files need no
		// copy (see verify.Options.DropCopies), so without a decode no
		// scratch folder is made.
		scratch, err := fsutil.NewScratch("", "verify")
		if err != nil {
			op.err = fmt.Errorf("create scratch space: %w", err)
			return p, op
		}
		defer func() { _ = scratch.Remove() }()
		opt.CopyTo, opt.DropCopies = scratch.Dir, true
	}
	w := g.out()
	if !g.JSON {
		for _, s := range skipped {
			fmt.Fprintf(w, "skipping %s (%s): %s\n", s.Snapshot, s.Status, s.Reason)
		}
	}
	// The view starts with the first file, which carries the count;
	// verify calls Progress from one goroutine at a time.
	var view *progressView
	if g.showProgress() {
		opt.Progress = func(done, total int, f verify.FileResult) {
			if view == nil {
				view = g.newProgressView(ctx, "verify "+snapshot.FolderName(dir), total, "files")
			}
			view.End(f.File, f.Rows, f.Size)
		}
	}
	start := time.Now()
	fr := verify.Folder(ctx, folder, targets, entries, opt)
	view.Close()
	if ctx.Err() != nil {
		return p, ctx.Err()
	}
	// Record what was found before reporting it: a later run then reads
	// the files least recently checked first.
	if ignored != nil || !ledgerStored(ledger) || !ledger.Covers(fr.Delta) {
		saveChecksOnto(ctx, g, folder, r.key, snaps, ledger, fr.Delta, r.now)
	}

	var opErr error
	for i, res := range fr.Results {
		s := targets[i]
		sj := verifySnapJSON{Snapshot: res.Snapshot, Status: string(res.Status), OK: res.OK,
			Problems: res.Problems, Warnings: res.Warnings, Files: res.Files, Source: resultSource(res), MAC: res.MAC}
		for _, f := range res.Files {
			if f.Source == "deferred" {
				sj.Deferred++
			}
		}
		if !s.Time.IsZero() {
			sj.Time = s.Time.Format(time.RFC3339)
		}
		if res.Err != nil {
			sj.Error = res.Err.Error()
			opErr = fmt.Errorf("could not verify snapshot %s: %w", s.ID, res.Err)
		}
		p.OK = p.OK && res.OK
		p.Snapshots = append(p.Snapshots, sj)
		if !g.JSON {
			if i > 0 {
				fmt.Fprintln(w)
			}
			printVerifyResult(w, g.paint, s, res, 0)
		}
	}
	p.Coverage = coverageJSON(fr.Coverage, r.now)
	if !g.JSON {
		if r.maxAge > 0 || !r.budget.zero() {
			fmt.Fprintln(w)
			printCoverage(w, p.Coverage, r.now)
		}
		fmt.Fprintf(w, "checked in %.1fs\n", time.Since(start).Seconds())
	}
	return p, opErr
}

// decodes reports whether verifying targets decodes files: with --deep,
// or for a seed-made or bare snapshot, whose files only a decode checks.
func decodes(o verifyOptions, targets []snapshot.Info) bool {
	if o.Deep {
		return true
	}
	for _, s := range targets {
		if s.Manifest == nil || s.Manifest.Legacy() {
			return true
		}
	}
	return false
}

// resultSource says how a snapshot's verdict was reached: "read" (every
// file read now), "ledger" (every file vouched for by a recent check),
// "partial" (a budget deferred some) or "mixed".
func resultSource(res verify.Result) string {
	counts := map[string]int{}
	for _, f := range res.Files {
		counts[f.Source]++
	}
	switch {
	case counts["deferred"] > 0:
		return "partial"
	case counts["ledger"] > 0 && counts["read"] > 0:
		return "mixed"
	case counts["ledger"] > 0:
		return "ledger"
	}
	return "read"
}

func coverageJSON(c verify.Coverage, now time.Time) verifyCoverageJSON {
	j := verifyCoverageJSON{Coverage: c}
	if !c.Oldest.IsZero() {
		j.OldestCheck = c.Oldest.Format(time.RFC3339)
		j.OldestCheckAgeSeconds = int64(now.Sub(c.Oldest) / time.Second)
	}
	return j
}

func printCoverage(w io.Writer, c verifyCoverageJSON, now time.Time) {
	fmt.Fprintf(w, "coverage: %s, %s: %d read now (%s), %d vouched for by the ledger (%s), %d left for a later run (%s)\n",
		plural(int64(c.Files), "file", "files"), humanBytes(c.Bytes), c.ReadFiles, humanBytes(c.ReadBytes), c.LedgerFiles, humanBytes(c.LedgerBytes),
		c.DeferredFiles, humanBytes(c.DeferredBytes))
	oldest := "no file was ever checked"
	if !c.Oldest.IsZero() {
		oldest = "oldest check " + ageText(c.Oldest, now)
	}
	fmt.Fprintf(w, "coverage: %s; never checked: %s, %s\n", oldest, plural(int64(c.NeverFiles), "file", "files"), humanBytes(c.NeverBytes))
}

func (b budgetValue) zero() bool { return b.Bytes <= 0 && b.Fraction <= 0 && b.Duration <= 0 }

// ledgerStored reports whether l came from the folder (a trusted ledger
// with records) rather than being the empty one used when there was none.
func ledgerStored(l *snapshot.Ledger) bool {
	return l != nil && (len(l.Files) > 0 || len(l.Snapshots) > 0 || len(l.Manifests) > 0)
}
