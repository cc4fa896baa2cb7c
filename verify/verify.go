// Package verify proves that a snapshot is intact, or says exactly what is
// wrong with it. It never prints: commands render its Result.
//
// What is checked depends on what the snapshot records. A complete
// (statsnap) snapshot is checked byte for byte: the manifest's own
// checksum, an optional keyed MAC, and for every file its size, BLAKE3
// hash, footer row count and Arrow schema. Seed-made (legacy) and bare
// snapshots record no hashes, so they get every check that is still
// possible (files present, row counts, a full decode) plus the problem
// "unverifiable", which callers may accept explicitly.
package verify

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/openspartan/statsnap/internal/enum"
	"github.com/openspartan/statsnap/internal/parquetfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// Kind is what sort of problem a Problem is. In JSON and text it is the
// name SPEC gives it in verify's output.
type Kind int

// Problem kinds. The zero value is no kind: a Problem always has one.
const (
	KindMissing Kind = iota + 1
	KindSizeMismatch
	KindHashMismatch
	KindRowsMismatch
	KindSchemaMismatch
	KindUnreadable
	KindManifestCorrupt
	KindUnverifiable
	KindUnauthenticated
	KindUnexpectedFile
	// KindPartial is only ever a warning: a table the backup left out
	// (backup --skip-table), which the snapshot cannot restore.
	KindPartial
)

var kindNames = []string{
	KindMissing:         "missing",
	KindSizeMismatch:    "size_mismatch",
	KindHashMismatch:    "hash_mismatch",
	KindRowsMismatch:    "rows_mismatch",
	KindSchemaMismatch:  "schema_mismatch",
	KindUnreadable:      "unreadable",
	KindManifestCorrupt: "manifest_corrupt",
	KindUnverifiable:    "unverifiable",
	KindUnauthenticated: "unauthenticated",
	KindUnexpectedFile:  "unexpected_file",
	KindPartial:         "partial",
}

func (k Kind) String() string { return enum.String("verify.Kind", kindNames, int(k)) }

// MarshalText returns SPEC's name of the kind.
func (k Kind) MarshalText() ([]byte, error) { return enum.Marshal("verify.Kind", kindNames, int(k)) }

// UnmarshalText reads SPEC's name of a kind.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := enum.Unmarshal("problem kind", kindNames, b)
	*k = Kind(v)
	return err
}

// Problem is one thing wrong with a snapshot. Detail is one sentence
// that gives the expected and the actual value.
type Problem struct {
	Table  string `json:"table"`
	File   string `json:"file"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
}

// Options tune a verification.
type Options struct {
	// Deep also decodes every value of every file and counts the rows
	// decoded, catching a file that was already bad when it was written.
	Deep bool
	// AllowUnverified turns the problems that only say "this cannot be
	// proven" (unverifiable, unauthenticated) into warnings. Everything
	// that was checked and found wrong stays a problem.
	AllowUnverified bool
	// Key, when set, requires every manifest to carry a valid MAC.
	Key []byte
	// Jobs is how many files are hashed at once (default: see lanes).
	Jobs int
	// Quick checks only what the footer and the listing say (presence,
	// size, row count, schema), without reading the data: it proves much
	// less than a hash, and is what prune asks of seed-made snapshots
	// ("files present with the recorded row counts"). CopyTo overrides it.
	Quick bool
	// CopyTo, when set, names a local folder into which every file is
	// copied while it is hashed; footer and deep checks then run on the
	// copy. Restore uses it so that DuckDB reads exactly the bytes that
	// were verified, not a file someone could change in between.
	CopyTo string
	// DropCopies says the copies under CopyTo are scratch space, removed
	// once each file is checked: verify of a remote folder copies only
	// files it will decode (--deep, legacy and bare snapshots), so that
	// the decode reads local bytes instead of making a request per column
	// chunk. The other checks need no copy: the footer and the page
	// headers are kept as the bytes stream by to be hashed.
	DropCopies bool
	// Progress, when set, is called once per file as it is finished, from
	// one goroutine at a time.
	Progress func(done, total int, f FileResult)
	// Named, when set, holds the files the folder's manifests name
	// (snapshot.NamedFiles): a file carrying the snapshot's id that
	// another manifest names is not an unexpected file.
	Named map[string]bool
	// ManifestVerified, when set, is called before any file is read if the
	// manifest is statsnap's and its checksum (and, with a Key, its MAC)
	// is correct: it then holds what the backup wrote, so restore can
	// check its DDL while the files are being hashed.
	ManifestVerified func()
}

// FileResult is what was found for one file.
type FileResult struct {
	Table  string `json:"table"`
	File   string `json:"file"`
	Rows   int64  `json:"rows"`       // from the footer, or as decoded when the file was decoded
	Size   int64  `json:"size_bytes"` // as found in the folder
	BLAKE3 string `json:"blake3,omitempty"`
	OK     bool   `json:"ok"`
	// Copy is the path of the verified copy under Options.CopyTo.
	Copy string `json:"-"`
	// Source says how the verdict was reached: "read" (the file was
	// checked now), "ledger" (a recent passing check in the ledger stands
	// for it, see Folder) or "deferred" (a budget left it for a later run;
	// OK is then false and says nothing).
	Source string `json:"source,omitempty"`
	// Checked is when the check behind the verdict ran (ledger only).
	Checked string `json:"checked,omitempty"`
}

// Result is the verdict on one snapshot.
type Result struct {
	Snapshot string
	Status   snapshot.Status
	OK       bool
	Problems []Problem
	Warnings []Problem
	Files    []FileResult
	// MAC says what became of the manifest's keyed MAC: MACNone (the
	// manifest has none), MACVerified, MACFailed, or MACNotChecked (it has
	// one, but no key was given: the snapshot is intact, not authentic).
	MAC MACState
	// Err is an operational failure (cancelled, a permission denied, the
	// copy folder full): the snapshot was not fully checked, so it is
	// neither intact nor known to be damaged.
	Err error
}

// MACState is what verify did with a manifest's keyed MAC.
type MACState string

// The MAC states of a Result.
const (
	MACNone       MACState = "none"
	MACVerified   MACState = "verified"
	MACFailed     MACState = "failed"
	MACNotChecked MACState = "not_checked"
)

// mode says how much a snapshot's metadata lets us prove.
type mode int

const (
	modeComplete mode = iota // hashes, sizes, rows and schemas recorded
	modeLegacy               // the seed's metadata: rows and sizes only
	modeBare                 // no metadata at all
)

// job is one file to check: one part of a table (a table held in one
// file has one part).
type job struct {
	table  string
	file   string
	size   int64                 // expected, to start the largest files first
	entry  *snapshot.Part        // what the manifest records of the file; nil for a bare snapshot
	schema *snapshot.ArrowSchema // the table's, which each of its parts must have
}

// Snapshot verifies snapshot s of folder f. entries is the folder's
// listing (nil: it is listed here); it is used to find files that carry
// the snapshot's id but that the manifest does not list. The caller holds
// the folder's shared lock so that no prune removes files mid-check.
func Snapshot(ctx context.Context, f storage.Folder, s snapshot.Info, entries []storage.Entry, opt Options) Result {
	if entries == nil {
		var err error
		if entries, err = f.List(ctx); err != nil {
			return finish(Result{Snapshot: s.ID, Status: s.Status, Err: fmt.Errorf("list %s: %w", f.Location(), err)}, opt)
		}
	}
	res, jobs, m, done := prepare(s, entries, opt, false)
	if done {
		return finish(res, opt)
	}
	files, problems, err := checkFiles(ctx, f, jobs, m, opt)
	res.Files = files
	res.Problems = append(res.Problems, problems...)
	if err != nil {
		res.Err = err
	}
	return conclude(res, s, entries, m, len(jobs), opt)
}

// prepare checks what can be checked without reading table files (the
// manifest itself) and returns the files to read. done means there is
// nothing to read: the verdict is already in res.
func prepare(s snapshot.Info, entries []storage.Entry, opt Options, vouched bool) (res Result, jobs []job, m mode, done bool) {
	res = Result{Snapshot: s.ID, Status: s.Status}
	switch {
	case s.Manifest != nil:
		m = modeComplete
		if s.Manifest.Legacy() {
			m = modeLegacy
		}
		jobs = checkManifest(&res, s, opt, vouched)
		if opt.ManifestVerified != nil && m == modeComplete && len(res.Problems) == 0 {
			opt.ManifestVerified()
		}
	case s.ManifestErr != nil:
		if errors.Is(s.ManifestErr, fs.ErrPermission) {
			res.Err = fmt.Errorf("read the manifest of snapshot %s: %w", s.ID, s.ManifestErr)
			return res, nil, m, true
		}
		res.Problems = append(res.Problems, Problem{File: snapshot.ManifestName(s.ID), Kind: KindManifestCorrupt,
			Detail: manifestErrDetail(s.ManifestErr)})
		// Without a manifest nothing says what the files should be: there
		// is nothing more to check.
		return res, nil, m, true
	case s.Status == snapshot.StatusIncomplete:
		detail := fmt.Sprintf("snapshot %s has no manifest: its backup was interrupted before committing it (journal %s); the next backup or prune of this folder removes its %d leftover files",
			s.ID, snapshot.PendingName(s.ID), len(s.Files))
		if hasEntry(entries, snapshot.RemovingName(s.ID)) {
			detail = fmt.Sprintf("snapshot %s has no manifest: a prune was removing it and was interrupted (journal %s); the next backup or prune of this folder finishes the removal of its %d leftover files",
				s.ID, snapshot.RemovingName(s.ID), len(s.Files))
		}
		res.Problems = append(res.Problems, Problem{File: snapshot.ManifestName(s.ID), Kind: KindMissing, Detail: detail})
		return res, nil, m, true
	default:
		m = modeBare
		for _, e := range s.Files {
			jobs = append(jobs, job{table: bareTable(e.Name, s.ID), file: e.Name, size: e.Size})
		}
		if len(jobs) == 0 {
			res.Problems = append(res.Problems, Problem{Kind: KindMissing, File: snapshot.ManifestName(s.ID),
				Detail: fmt.Sprintf("snapshot %s has neither a manifest nor any Parquet file", s.ID)})
		}
	}
	return res, jobs, m, false
}

// conclude adds what follows from the files' results and the snapshot's
// kind, and sets the verdict.
func conclude(res Result, s snapshot.Info, entries []storage.Entry, m mode, files int, opt Options) Result {
	if s.Manifest != nil {
		res.Problems = append(res.Problems, unexpectedFiles(s, entries, opt.Named)...)
	}
	switch m {
	case modeLegacy:
		res.Problems = append(res.Problems, Problem{File: snapshot.ManifestName(s.ID), Kind: KindUnverifiable,
			Detail: fmt.Sprintf("snapshot %s was made by the seed's script: its metadata records no hashes, schemas or checksum, so only presence, sizes, row counts and a full decode were checked; a change that keeps them would go unnoticed", s.ID)})
	case modeBare:
		res.Problems = append(res.Problems, Problem{Kind: KindUnverifiable,
			Detail: fmt.Sprintf("snapshot %s has no manifest (a --no-metadata export): only that each of its %d files decodes completely was checked; a deleted, added or altered table would go unnoticed", s.ID, files)})
	}
	if opt.Key != nil && m != modeComplete {
		res.Problems = append(res.Problems, Problem{File: snapshot.ManifestName(s.ID), Kind: KindUnauthenticated,
			Detail: fmt.Sprintf("a key was given but snapshot %s has no MAC (seed-made snapshots never have one), so it cannot be authenticated", s.ID)})
	}
	return finish(res, opt)
}

func hasEntry(entries []storage.Entry, name string) bool {
	for _, e := range entries {
		if e.Name == name {
			return true
		}
	}
	return false
}

// finish applies AllowUnverified and sets the verdict.
func finish(res Result, opt Options) Result {
	if opt.AllowUnverified {
		kept := res.Problems[:0:0]
		for _, p := range res.Problems {
			if p.Kind == KindUnverifiable || p.Kind == KindUnauthenticated {
				res.Warnings = append(res.Warnings, p)
				continue
			}
			kept = append(kept, p)
		}
		res.Problems = kept
	}
	if res.Problems == nil {
		res.Problems = []Problem{}
	}
	if res.Warnings == nil {
		res.Warnings = []Problem{}
	}
	if res.MAC == "" {
		res.MAC = MACNone
	}
	if res.Files == nil {
		res.Files = []FileResult{}
	}
	res.OK = len(res.Problems) == 0 && res.Err == nil
	return res
}

// manifestErrDetail turns a parse error into a sentence. An unknown
// format version already names the version this build reads and says to
// upgrade (snapshot.ParseManifest words it so).
func manifestErrDetail(err error) string {
	if errors.Is(err, snapshot.ErrUnknownFormat) {
		return fmt.Sprintf("the manifest was written by a newer statsnap: %v", err)
	}
	return fmt.Sprintf("the manifest cannot be trusted: %v", err)
}

// checkManifest checks the manifest itself and returns the files to check.
func checkManifest(res *Result, s snapshot.Info, opt Options, vouched bool) []job {
	p := s.Manifest
	mname := snapshot.ManifestName(s.ID)
	var canon []byte
	if !vouched {
		// A manifest the ledger vouches for (Folder) passed this check
		// with the same manifest_checksum, size and modification time:
		// its canonical form, the costliest part of reading a folder, is
		// not computed again.
		var err error
		if canon, err = p.Canonical(); err != nil {
			res.Problems = append(res.Problems, Problem{File: mname, Kind: KindManifestCorrupt, Detail: err.Error()})
			return nil
		}
	}
	if !p.Legacy() && !vouched {
		got := snapshot.Checksum(canon)
		switch {
		case p.Checksum == "":
			res.Problems = append(res.Problems, Problem{File: mname, Kind: KindManifestCorrupt,
				Detail: fmt.Sprintf("the manifest has no manifest_checksum; its content hashes to %s", got)})
		case p.Checksum != got:
			res.Problems = append(res.Problems, Problem{File: mname, Kind: KindManifestCorrupt,
				Detail: fmt.Sprintf("the manifest was edited or damaged after backup: manifest_checksum says %s, its content hashes to %s", p.Checksum, got)})
		}
		switch {
		case opt.Key != nil:
			res.MAC = MACVerified
			if pr, ok := checkMAC(p, canon, opt.Key, mname); !ok {
				res.Problems = append(res.Problems, pr)
				res.MAC = MACFailed
			}
		case p.MAC != "":
			// Intact is not authentic: only a key tells a forger who
			// recomputed every hash from the backup that wrote them.
			res.MAC = MACNotChecked
			res.Warnings = append(res.Warnings, Problem{File: mname, Kind: KindUnauthenticated,
				Detail: "the manifest carries a keyed MAC, but no key was given, so it was not checked: the snapshot is intact but not authenticated; pass --key-file (or set STATSNAP_KEY_FILE) to authenticate it"})
		}
	}
	if !p.Legacy() && vouched {
		// The ledger's record of this manifest says its MAC passed with
		// the key (VouchManifest requires that when a key is given).
		switch {
		case opt.Key != nil:
			res.MAC = MACVerified
		case p.MAC != "":
			res.MAC = MACNotChecked
			res.Warnings = append(res.Warnings, Problem{File: mname, Kind: KindUnauthenticated,
				Detail: "the manifest carries a keyed MAC, but no key was given, so it was not checked: the snapshot is intact but not authenticated; pass --key-file (or set STATSNAP_KEY_FILE) to authenticate it"})
		}
	}

	for _, sk := range p.Skipped {
		res.Warnings = append(res.Warnings, Problem{Table: sk.Key(), File: mname, Kind: KindPartial,
			Detail: fmt.Sprintf("the snapshot is partial: table %q was left out at backup (%s), so restoring the snapshot cannot bring it back", sk.Key(), sk.Reason)})
	}

	if p.Legacy() && statsnapOnly(p.Manifest) {
		// The seed never wrote these members: this is a statsnap manifest
		// whose format_version was removed, which would otherwise pass as
		// a legacy snapshot and skip every hash check.
		res.Problems = append(res.Problems, Problem{File: mname, Kind: KindManifestCorrupt,
			Detail: "the manifest has statsnap's hashes or checksum but no format_version: it was edited to look like a seed-made manifest"})
	}

	keys := tableOrder(p.Manifest)
	var jobs []job
	for _, key := range keys {
		t := p.Tables[key]
		if !p.Legacy() && (t.ArrowSchema == nil || len(t.ArrowSchema.Fields) == 0) {
			res.Problems = append(res.Problems, Problem{Table: key, File: t.File, Kind: KindManifestCorrupt,
				Detail: fmt.Sprintf("the manifest records no arrow_schema for table %s, so its schema cannot be checked", key)})
		}
		parts := t.DataFiles()
		var rows, size int64
		for i := range parts {
			part := &parts[i]
			rows += part.Rows
			size += part.FileSizeBytes
			// ParseManifest already refuses unsafe names; checking again
			// here keeps verify safe even if the parser changes, since a
			// name that leaves the folder must never be opened.
			if err := storage.CheckName(part.File); err != nil {
				res.Problems = append(res.Problems, Problem{Table: key, File: part.File, Kind: KindManifestCorrupt,
					Detail: fmt.Sprintf("the manifest names file %q, which is not a plain name inside the folder, so it was not opened: %v", part.File, err)})
				continue
			}
			// A table held in parts may name files an earlier snapshot
			// wrote (shared, unchanged rows); a table of one file names
			// its snapshot's own.
			k, id := snapshot.Classify(part.File)
			if len(t.Files) == 0 && (k != snapshot.KindParquet || id != s.ID) {
				res.Problems = append(res.Problems, Problem{Table: key, File: part.File, Kind: KindManifestCorrupt,
					Detail: fmt.Sprintf("the manifest names file %q, which is not a Parquet file of snapshot %s (want a name ending in _%s.parquet), so it was not opened", part.File, s.ID, s.ID)})
				continue
			}
			if len(t.Files) > 0 && (k != snapshot.KindParquet || id > s.ID) {
				res.Problems = append(res.Problems, Problem{Table: key, File: part.File, Kind: KindManifestCorrupt,
					Detail: fmt.Sprintf("the manifest names file %q, which is not a Parquet file of snapshot %s or an earlier one, so it was not opened", part.File, s.ID)})
				continue
			}
			jobs = append(jobs, job{table: key, file: part.File, size: part.FileSizeBytes, entry: part, schema: t.ArrowSchema})
		}
		if rows != t.Rows || size != t.FileSizeBytes {
			res.Problems = append(res.Problems, Problem{Table: key, File: t.File, Kind: KindManifestCorrupt,
				Detail: fmt.Sprintf("the files of table %s hold %d rows in %d bytes, but the manifest says the table has %d rows in %d bytes", key, rows, size, t.Rows, t.FileSizeBytes)})
		}
	}
	return jobs
}

// statsnapOnly reports whether m carries members only statsnap writes.
func statsnapOnly(m *snapshot.Manifest) bool {
	if m.Checksum != "" || m.MAC != "" || m.HashAlgorithm != "" || m.ToolVersion != "" {
		return true
	}
	for _, t := range m.Tables {
		if t.BLAKE3 != "" || t.ArrowSchema != nil || t.CreateSQL != "" {
			return true
		}
	}
	return false
}

// checkMAC compares the manifest's MAC with the one key gives, in
// constant time: the MAC is the one secret-dependent value verify handles.
func checkMAC(p *snapshot.Parsed, canon, key []byte, mname string) (Problem, bool) {
	if p.MAC == "" {
		return Problem{File: mname, Kind: KindUnauthenticated,
			Detail: "a key was given but the manifest has no manifest_mac: it was written without a key (or the MAC was stripped), so it cannot be authenticated"}, false
	}
	want, err := snapshot.MAC(key, canon)
	if err != nil {
		return Problem{File: mname, Kind: KindUnauthenticated, Detail: fmt.Sprintf("cannot compute the MAC: %v", err)}, false
	}
	wb, _ := hex.DecodeString(want)
	gb, err := hex.DecodeString(p.MAC)
	if err != nil || subtle.ConstantTimeCompare(wb, gb) != 1 {
		return Problem{File: mname, Kind: KindUnauthenticated,
			Detail: "manifest_mac does not match this key: the manifest was written with another key, or was forged or edited"}, false
	}
	return Problem{}, true
}

// tableOrder is the manifest's table_order when it lists every table,
// else the table keys sorted, so that output is stable.
func tableOrder(m *snapshot.Manifest) []string {
	if len(m.TableOrder) == len(m.Tables) {
		ok := true
		for _, k := range m.TableOrder {
			if _, found := m.Tables[k]; !found {
				ok = false
				break
			}
		}
		if ok {
			return m.TableOrder
		}
	}
	keys := make([]string, 0, len(m.Tables))
	for k := range m.Tables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unexpectedFiles lists the Parquet files carrying the snapshot's id that
// no manifest claims: added after backup, or a table whose entry was
// removed from the manifest. named holds what the folder's other
// manifests name (nil: none known): an incremental snapshot names files
// earlier snapshots wrote, and those are expected.
func unexpectedFiles(s snapshot.Info, entries []storage.Entry, named map[string]bool) []Problem {
	listed := map[string]bool{}
	for _, name := range s.Manifest.FileNames() {
		listed[name] = true
	}
	var out []Problem
	mark := "_" + s.ID + "."
	for _, e := range entries {
		if !strings.Contains(e.Name, mark) || listed[e.Name] || named[e.Name] {
			continue // not this snapshot's (Classify, below, is dearer)
		}
		if k, id := snapshot.Classify(e.Name); k != snapshot.KindParquet || id != s.ID {
			continue
		}
		out = append(out, Problem{Table: bareTable(e.Name, s.ID), File: e.Name, Kind: KindUnexpectedFile,
			Detail: fmt.Sprintf("%s (%d bytes) carries snapshot %s's id but no manifest lists it: it was added after backup, or the manifest lost its table", e.Name, e.Size, s.ID)})
	}
	return out
}

// bareTable guesses a table name from a file name: what precedes
// _{id}.parquet (or _{id}.{n}.parquet).
func bareTable(name, id string) string {
	if i := strings.LastIndex(name, "_"+id+"."); i > 0 {
		return name[:i]
	}
	return strings.TrimSuffix(name, ".parquet")
}

// checkFiles checks every job with opt.Jobs workers and returns results in
// job order.
func checkFiles(ctx context.Context, f storage.Folder, jobs []job, m mode, opt Options) ([]FileResult, []Problem, error) {
	front, back := lanes(f, opt.Jobs)
	n := min(front+back, len(jobs))
	type outcome struct {
		fr       FileResult
		problems []Problem
		err      error
	}
	outs := make([]outcome, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fr, ps, err := checkFile(ctx, f, jobs[i], m, opt)
				outs[i] = outcome{fr, ps, err}
				if opt.Progress != nil {
					mu.Lock()
					done++
					opt.Progress(done, len(jobs), fr)
					mu.Unlock()
				}
			}
		}()
	}
	// Largest first: the biggest file is most of the work, and starting it
	// last would leave the other cores idle while it finishes.
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].size > jobs[order[b]].size })
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	files := make([]FileResult, 0, len(jobs))
	var problems []Problem
	var first error
	for _, o := range outs {
		files = append(files, o.fr)
		problems = append(problems, o.problems...)
		if o.err != nil && first == nil {
			// One cause is enough: the others are usually the same one
			// (a full disk, a permission) repeated per file.
			first = o.err
		}
	}
	return files, problems, first
}

// checkFile checks one file. It opens the file once: the hash is computed
// with sequential reads of the open file, and the footer is read from the
// same descriptor (or from the verified copy), so every check sees the
// same bytes even if someone replaces the file meanwhile.
func checkFile(ctx context.Context, f storage.Folder, j job, m mode, opt Options) (fr FileResult, ps []Problem, err error) {
	fr = FileResult{Table: j.table, File: j.file}
	add := func(kind Kind, format string, a ...any) {
		ps = append(ps, Problem{Table: j.table, File: j.file, Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}
	defer func() { fr.OK = len(ps) == 0 && err == nil }()
	if opt.DropCopies {
		defer func() {
			if fr.Copy != "" {
				os.Remove(fr.Copy)
				fr.Copy = ""
			}
		}()
	}

	r, oerr := f.Open(ctx, j.file)
	switch {
	case oerr == nil:
	case storage.IsNotExist(oerr):
		if j.entry != nil {
			add(KindMissing, "%s is not in the folder; the manifest lists it with %d rows and %d bytes", j.file, j.entry.Rows, j.entry.FileSizeBytes)
		} else {
			add(KindMissing, "%s disappeared while the folder was being verified", j.file)
		}
		return fr, ps, nil
	case errors.Is(oerr, storage.ErrUnsafeName):
		// A symlink or special file where a table file should be: never
		// follow it, it could lead anywhere.
		add(KindManifestCorrupt, "%s is not a regular file inside the folder (%v), so it was not read", j.file, oerr)
		return fr, ps, nil
	case errors.Is(oerr, fs.ErrPermission):
		return fr, ps, fmt.Errorf("open %s: %w", j.file, oerr)
	default:
		add(KindUnreadable, "%s cannot be opened: %v", j.file, oerr)
		return fr, ps, nil
	}
	defer r.Close()
	fr.Size = r.Size()

	// The source every footer and decode check reads: the open file, or
	// the copy that was written from exactly the bytes hashed.
	var src parquetfile.Source = r
	if j.entry != nil && fr.Size != j.entry.FileSizeBytes {
		// The content changed: no need to read it all (it could be
		// huge) to know the hash differs, and no copy either, since a
		// caller restoring from it will refuse. The footer checks still
		// run, to say what the file holds instead.
		add(KindSizeMismatch, "%s is %d bytes; the manifest says %d, so its content changed since backup", j.file, fr.Size, j.entry.FileSizeBytes)
	} else if opt.Quick && opt.CopyTo == "" {
		// Footers only: the size was compared above, the rest below.
	} else {
		var copyFile *os.File
		var sink io.Writer // stays a nil interface when there is no copy
		decode := (opt.Deep || m != modeComplete) && !opt.Quick
		if opt.CopyTo != "" && (decode || !opt.DropCopies) {
			fr.Copy = filepath.Join(opt.CopyTo, j.file)
			copyFile, err = os.OpenFile(fr.Copy, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fr, ps, fmt.Errorf("%w: %v", errCopy, err)
			}
			defer copyFile.Close()
			// Not synced: the copy lives only as long as this process's
			// work folder, which a restore after a crash never reuses, and
			// the page cache serves DuckDB the bytes that were verified.
			// (Syncing the copies cost a restore of 16M rows 15 fsyncs
			// and 0.2 s here.)
			src, sink = copyFile, copyFile
		}
		// The footer and every page header are kept as the bytes go by,
		// so the checks below read no more of the file: on an object
		// store each such read is a request.
		tap := parquetfile.NewTap(fr.Size)
		if sink == nil {
			sink = tap
		} else {
			sink = io.MultiWriter(sink, tap)
		}
		sum, n, herr := hashCopy(ctx, r, sink)
		if herr != nil {
			if ctx.Err() != nil || errors.Is(herr, errCopy) {
				return fr, ps, herr
			}
			add(KindUnreadable, "%s could not be read to the end (%d of %d bytes read): %v", j.file, n, fr.Size, herr)
			return fr, ps, nil
		}
		fr.BLAKE3 = sum
		src = tap.Source(src)
		switch {
		case j.entry == nil:
		case n != j.entry.FileSizeBytes:
			// It changed size while being read; judge the bytes read.
			fr.Size = n
			add(KindSizeMismatch, "%s is %d bytes; the manifest says %d, so its content changed since backup", j.file, n, j.entry.FileSizeBytes)
		case m == modeComplete && sum != j.entry.BLAKE3:
			add(KindHashMismatch, "%s has BLAKE3 %s; the manifest says %s, so its content changed since backup (same size, different bytes)", j.file, sum, j.entry.BLAKE3)
		}
	}

	check := parquetfile.Check
	if opt.Quick && opt.CopyTo == "" {
		// The footer alone: walking the page headers would read a part of
		// every page, by one ranged request each on an object store.
		check = parquetfile.InspectContext
	}
	info, ierr := check(ctx, src)
	if ierr != nil {
		add(KindUnreadable, "%s is not a readable Parquet file: %v", j.file, ierr)
		return fr, ps, nil
	}
	fr.Rows = info.Rows
	if j.entry != nil && info.Rows != j.entry.Rows {
		add(KindRowsMismatch, "the Parquet footer of %s says %d rows; the manifest says %d", j.file, info.Rows, j.entry.Rows)
	}
	if m == modeComplete && j.schema != nil && len(j.schema.Fields) > 0 {
		if want := recordedFields(j.schema.Fields); !parquetfile.Equal(want, info.Fields) {
			add(KindSchemaMismatch, "the Arrow schema of %s differs from the manifest's: %s; expected (%s), actual (%s)",
				j.file, firstDifference(want, info.Fields),
				parquetfile.Describe(want), parquetfile.Describe(info.Fields))
		}
	}

	// Without hashes, decoding everything is the only way to catch
	// damaged data pages, so legacy and bare snapshots are always decoded.
	if (opt.Deep || m != modeComplete) && !opt.Quick {
		rows, derr := parquetfile.DecodeAll(ctx, src)
		if derr != nil {
			if ctx.Err() != nil {
				return fr, ps, ctx.Err()
			}
			add(KindUnreadable, "%s does not decode: %v (after %d of %d rows)", j.file, derr, rows, info.Rows)
			return fr, ps, nil
		}
		switch {
		case j.entry != nil && rows != j.entry.Rows:
			add(KindRowsMismatch, "decoding %s yields %d rows; the manifest says %d", j.file, rows, j.entry.Rows)
		case rows != info.Rows:
			add(KindRowsMismatch, "decoding %s yields %d rows; its own footer says %d", j.file, rows, info.Rows)
		}
		fr.Rows = rows
	}
	return fr, ps, nil
}

// errCopy marks a failure to write the verified copy: the caller's
// problem (disk full, no permission), not the snapshot's.
var errCopy = errors.New("cannot write the verified copy")

// hashCopy reads r from its start, hashing every byte and, when w is
// set, writing it there too.
func hashCopy(ctx context.Context, r io.ReadSeeker, w io.Writer) (string, int64, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	sum, n, err := snapshot.HashCopy(ctx, r, w)
	var we *snapshot.WriteError
	if errors.As(err, &we) {
		return "", n, fmt.Errorf("%w: %v", errCopy, we.Err)
	}
	return sum, n, err
}

// recordedFields maps the manifest's record of a schema onto the Parquet
// reader's type, to compare it with what the file's footer says.
func recordedFields(fs []snapshot.Field) []parquetfile.Field {
	if fs == nil {
		return nil
	}
	out := make([]parquetfile.Field, len(fs))
	for i, f := range fs {
		out[i] = parquetfile.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable, Children: recordedFields(f.Children)}
	}
	return out
}

// firstDifference names the first field where two schemas differ.
func firstDifference(want, got []parquetfile.Field) string {
	for i := 0; i < len(want) && i < len(got); i++ {
		if !parquetfile.Equal(want[i:i+1], got[i:i+1]) {
			return fmt.Sprintf("column %d is %s in the manifest but %s in the file", i+1,
				describeField(want[i]), describeField(got[i]))
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("the manifest lists %d columns, the file has %d", len(want), len(got))
	}
	return "the fields differ"
}

func describeField(f parquetfile.Field) string {
	s := parquetfile.Describe([]parquetfile.Field{f})
	if !f.Nullable {
		s += " NOT NULL"
	}
	return `"` + s + `"`
}

// smallLanes is how many more files are read at once from an object
// store, each no larger than smallFile. There a small file costs a
// request's round trip more than its hashing: with one lane per core, the
// twenty small files of a snapshot waited their turn one round trip at a
// time (a verify of 20,000 matches from MinIO spent 22 ms on them with 2
// lanes). Big files keep one lane per core: the server's sending and the
// hashing already fill the cores, and more of them at once would only
// slow the largest, which starts first and ends last.
const (
	smallLanes = 6
	smallFile  = 1 << 20
)

// lanes is how many files are read at once: jobs when given, else one per
// core, plus smallLanes for small files from an object store.
func lanes(f storage.Folder, jobs int) (front, back int) {
	if jobs > 0 {
		return jobs, 0
	}
	n := runtime.GOMAXPROCS(0)
	if _, local := storage.LocalPath(f, storage.LockName); !local {
		return n, smallLanes
	}
	return n, 0
}
