package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
)

// Status of a snapshot in a folder.
type Status string

// The statuses Scan reports (SPEC's list, plus corrupt).
const (
	StatusComplete   Status = "complete"   // a statsnap manifest
	StatusLegacy     Status = "legacy"     // seed metadata, no hashes
	StatusBare       Status = "bare"       // Parquet files sharing an id, no manifest
	StatusIncomplete Status = "incomplete" // an interrupted backup or removal (a journal)
	StatusCorrupt    Status = "corrupt"    // a manifest that cannot be read
)

// Info is one snapshot found in a folder.
type Info struct {
	ID     string
	Status Status
	// Time is backup_datetime with its recorded offset, or the id read in
	// local time when there is no readable manifest.
	Time        time.Time
	Manifest    *Parsed
	ManifestErr error
	// Claims, for a manifest that cannot be read (ManifestErr), are the
	// Parquet names its bytes hold anywhere, when they are well-formed
	// JSON of a format this build knows; nil when nothing can be said of
	// what it names (see Refs).
	Claims      []string
	ManifestRaw int64 // manifest size in bytes
	// Files are the Parquet files of the snapshot present in the folder:
	// for a readable manifest, every file it names (shared ones written by
	// an earlier snapshot included), then the files carrying the id that
	// no readable manifest names; otherwise the files carrying the id that
	// no readable manifest names.
	Files []storage.Entry
}

// Tables is the number of tables (files for a bare snapshot).
func (s Info) Tables() int {
	if s.Manifest != nil {
		return len(s.Manifest.Tables)
	}
	return len(s.Files)
}

// Rows is the total row count the manifest records (0 when unknown).
func (s Info) Rows() int64 {
	if s.Manifest != nil {
		return s.Manifest.Rows()
	}
	return 0
}

// Size is the bytes of the snapshot's files and manifest.
func (s Info) Size() int64 {
	n := s.ManifestRaw
	for _, f := range s.Files {
		n += f.Size
	}
	return n
}

// OwnSize is what the snapshot itself wrote: its manifest and the files
// of its own id, not those it shares with earlier snapshots. Removing the
// snapshot alone frees at most this much (a later one may share its files).
func (s Info) OwnSize() int64 {
	n := s.ManifestRaw
	for _, f := range s.Files {
		if _, id := Classify(f.Name); id == s.ID {
			n += f.Size
		}
	}
	return n
}

// Scan lists the snapshots of a folder, oldest first.
func Scan(ctx context.Context, f storage.Folder) ([]Info, error) {
	_, snaps, err := ListAndScan(ctx, f)
	return snaps, err
}

// ListAndScan lists a folder and its snapshots, oldest first. On an
// object store the manifests are read while the folder is listed (see
// PrefetchManifests).
func ListAndScan(ctx context.Context, f storage.Folder) ([]storage.Entry, []Info, error) {
	pre := PrefetchManifests(ctx, f)
	defer pre.Close()
	entries, err := f.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	snaps, err := ScanPrefetched(ctx, f, entries, pre)
	return entries, snaps, err
}

// ScanListed is Scan from a listing of f the caller already has, for
// callers that need the listing too: the snapshots and the entries then
// describe the same moment, and an object store is listed once, not
// twice.
func ScanListed(ctx context.Context, f storage.Folder, entries []storage.Entry) ([]Info, error) {
	return ScanPrefetched(ctx, f, entries, nil)
}

// ScanPrefetched is ScanListed using the manifests pre read ahead (see
// PrefetchManifests); pre may be nil.
func ScanPrefetched(ctx context.Context, f storage.Folder, entries []storage.Entry, pre *ManifestPrefetch) ([]Info, error) {
	byID := map[string]*Info{}
	get := func(id string) *Info {
		if s, ok := byID[id]; ok {
			return s
		}
		s := &Info{ID: id}
		byID[id] = s
		return s
	}
	journals := map[string]bool{}
	removing := map[string]bool{}
	manifests := map[string]storage.Entry{}
	var parquet []storage.Entry
	listed := map[string]storage.Entry{}
	for _, e := range entries {
		kind, id := Classify(e.Name)
		switch kind {
		case KindManifest:
			manifests[id] = e
			get(id)
		case KindParquet:
			parquet = append(parquet, e)
			listed[e.Name] = e
		case KindPending, KindRemoving:
			journals[id] = true
			removing[id] = removing[id] || kind == KindRemoving
			get(id)
		}
	}
	parsed := readManifests(ctx, f, manifests, pre)
	// A file belongs to every readable manifest naming it (an incremental
	// snapshot names files earlier snapshots wrote), and to a manifest its
	// parser refused whose bytes name it. A file no readable
	// manifest names belongs to the snapshot whose id it carries: its
	// unexpected file, its corrupt manifest's, a journal's leftover, or a
	// bare export. A file of a removed snapshot that a later one shares
	// is therefore not a bare snapshot of its own.
	named := map[string]bool{}
	for id, r := range parsed {
		names := r.claims // what a manifest its parser refused holds
		if r.err == nil {
			names = r.p.FileNames()
		}
		s := get(id)
		seen := map[string]bool{}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			named[name] = true
			if e, ok := listed[name]; ok {
				s.Files = append(s.Files, e)
			}
		}
	}
	// A removal cut short after its manifest went may list files of
	// earlier snapshots that only it named: they are its leftovers, not
	// a bare export of the snapshot whose id they carry.
	claimed := map[string]string{}
	for _, e := range entries {
		if k, id := Classify(e.Name); k == KindRemoving && !hasManifestResult(parsed, id) {
			if j, err := readJournal(ctx, f, e.Name, id, k); err == nil {
				for _, n := range j.Files {
					claimed[n] = id
				}
			}
		}
	}
	for _, e := range parquet {
		if named[e.Name] {
			continue
		}
		_, id := Classify(e.Name)
		if jid, ok := claimed[e.Name]; ok {
			id = jid
		}
		s := get(id)
		s.Files = append(s.Files, e)
	}
	for id, s := range byID {
		s.Time, _ = IDTime(id)
		me, hasManifest := manifests[id]
		switch {
		case hasManifest:
			s.ManifestRaw = me.Size
			p, err := parsed[id].p, parsed[id].err
			if err != nil {
				s.Status, s.ManifestErr, s.Claims = StatusCorrupt, err, parsed[id].claims
				if journals[id] {
					s.Status = StatusIncomplete
				}
				continue
			}
			s.Manifest = p
			s.Status = StatusComplete
			if p.Legacy() {
				s.Status = StatusLegacy
			}
			if t, err := ParseDatetime(p.BackupDatetime); err == nil {
				s.Time = t
			}
			// A removal journal beside its manifest: a prune was cut
			// short before deleting it. (A pending journal beside a
			// committed manifest only lost the journal's own removal.)
			if removing[id] {
				s.Status = StatusIncomplete
			}
		case journals[id]:
			s.Status = StatusIncomplete
		default:
			s.Status = StatusBare
		}
	}
	out := make([]Info, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// hasManifestResult reports whether snapshot id has a readable manifest.
func hasManifestResult(parsed map[string]parseResult, id string) bool {
	r, ok := parsed[id]
	return ok && r.err == nil
}

type parseResult struct {
	p      *Parsed
	err    error
	claims []string // for a manifest that fails to parse, see Info.Claims
}

// readManifests parses a folder's manifests on every core: listing a
// folder of a thousand snapshots is mostly JSON parsing. From an object
// store each manifest also waits for its GET, so the fetches run apart
// from the parses, many at once: a parser never waits for a request that
// could have been sent while it worked, and no request waits for a parse.
// The bytes fetched and not yet parsed are bounded (fetchBudget), since a
// manifest may be up to MaxManifestSize.
func readManifests(ctx context.Context, f storage.Folder, manifests map[string]storage.Entry, pre *ManifestPrefetch) map[string]parseResult {
	out := make(map[string]parseResult, len(manifests))
	var mu sync.Mutex
	parsers := min(runtime.GOMAXPROCS(0), len(manifests))
	fetchers := parsers
	if _, local := storage.LocalPath(f, storage.LockName); !local {
		fetchers = min(remoteFetches, len(manifests))
	}
	type fetched struct {
		id  string
		raw []byte
		err error
	}
	ids := make(chan string)
	raws := make(chan fetched, len(manifests))
	budget := newByteBudget(fetchBudget)
	var fetching, parsing sync.WaitGroup
	for range fetchers {
		fetching.Add(1)
		go func() {
			defer fetching.Done()
			for id := range ids {
				e := manifests[id]
				n := min(max(e.Size, 0), MaxManifestSize+1)
				budget.take(n)
				raw, ok := pre.take(e.Name, e.Size)
				var err error
				if !ok {
					raw, err = fetchManifest(ctx, f, e.Name)
				}
				raws <- fetched{id, raw, err}
			}
		}()
	}
	for range parsers {
		parsing.Add(1)
		go func() {
			defer parsing.Done()
			for r := range raws {
				var res parseResult
				if r.err != nil {
					res.err = r.err
				} else {
					res.p, res.claims, res.err = parseManifestFile(manifests[r.id].Name, r.raw)
				}
				budget.give(min(max(manifests[r.id].Size, 0), MaxManifestSize+1))
				mu.Lock()
				out[r.id] = res
				mu.Unlock()
			}
		}()
	}
	for id := range manifests {
		ids <- id
	}
	close(ids)
	fetching.Wait()
	close(raws)
	parsing.Wait()
	return out
}

// remoteFetches is how many manifests are fetched at once from an object
// store, and fetchBudget how many of their bytes may wait for a parser.
const (
	remoteFetches = 16
	fetchBudget   = 2 * MaxManifestSize
)

// byteBudget lets a fetch start while the bytes held stay within the
// budget; one fetch always may, however large, so that a manifest larger
// than the budget still gets read.
type byteBudget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	left  int64
	total int64
}

func newByteBudget(n int64) *byteBudget {
	b := &byteBudget{left: n, total: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *byteBudget) take(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.left < n && b.left < b.total {
		b.cond.Wait()
	}
	b.left -= n
}

func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// fetchManifest reads a manifest's bytes, refusing one above the size a
// manifest may have.
func fetchManifest(ctx context.Context, f storage.Folder, name string) ([]byte, error) {
	r, err := f.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer r.Close()
	if r.Size() > MaxManifestSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d MiB", ErrManifestCorrupt, name, r.Size(), MaxManifestSize>>20)
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrManifestCorrupt, MaxManifestSize>>20)
	}
	return raw, nil
}

// parseManifestFile parses the manifest name holds.
func parseManifestFile(name string, raw []byte) (*Parsed, []string, error) {
	p, err := ParseManifest(raw)
	if err != nil {
		return nil, parquetNames(raw), err
	}
	if p.BackupTimestamp != "" && p.BackupTimestamp != ManifestID(name) {
		return nil, parquetNames(raw), fmt.Errorf("%w: backup_timestamp %s does not match the file name %s", ErrManifestCorrupt, p.BackupTimestamp, name)
	}
	return p, nil, nil
}

// parquetNames returns every string in the JSON raw that is a Parquet
// file name, wherever it is (a manifest refused by its parser may still
// name files a removal must keep), or nil when raw is not well-formed
// JSON or declares a format_version this build does not know: what such
// a manifest names cannot be told.
func parquetNames(raw []byte) []string {
	var top struct {
		FormatVersion json.Number `json:"format_version"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil
	}
	if top.FormatVersion != "" {
		if n, err := top.FormatVersion.Int64(); err != nil || n < 0 || n > FormatVersion {
			return nil
		}
	}
	// Tokens, not a decoded value: a member given twice counts both times.
	dec := json.NewDecoder(bytes.NewReader(raw))
	names := []string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names
		}
		if err != nil {
			return nil
		}
		if v, ok := tok.(string); ok {
			if k, _ := Classify(v); k == KindParquet {
				names = append(names, v)
			}
		}
	}
}

// ManifestID returns the id in a manifest file name, or "".
func ManifestID(name string) string {
	if k, id := Classify(name); k == KindManifest {
		return id
	}
	return ""
}

// Find returns the snapshot with the given id, or the newest one by id
// when id is empty.
func Find(list []Info, id string) (Info, error) {
	if len(list) == 0 {
		return Info{}, ErrNoSnapshot
	}
	if id == "" {
		return list[len(list)-1], nil
	}
	for _, s := range list {
		if s.ID == id {
			return s, nil
		}
	}
	have := make([]string, len(list))
	for i, s := range list {
		have[i] = s.ID
	}
	return Info{}, &NoSnapshotError{ID: id, Have: have}
}

// NoSnapshotError is Find's error for an id the folder does not hold; it
// is ErrNoSnapshot, and carries the ids the folder does hold so that a
// caller can suggest the nearest.
type NoSnapshotError struct {
	ID   string
	Have []string
}

func (e *NoSnapshotError) Error() string { return fmt.Sprintf("%v: %s", ErrNoSnapshot, e.ID) }

// Unwrap makes the error ErrNoSnapshot.
func (e *NoSnapshotError) Unwrap() error { return ErrNoSnapshot }

// ErrNoSnapshot reports that the folder has no such snapshot.
var ErrNoSnapshot = errors.New("no such snapshot")

// ManifestPrefetch holds the manifests of a folder read before its
// listing was known (see PrefetchManifests).
type ManifestPrefetch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	listed chan struct{} // closed once got is filled
	mu     sync.Mutex
	got    map[string]*prefetched
}

type prefetched struct {
	name string
	size int64
	done chan struct{}
	raw  []byte
	err  error
}

// PrefetchManifests starts reading f's manifests before the listing of the
// whole folder is back, on a folder that lists them with a request of
// their own (storage.PrefixLister): from an object store, a listing of a
// folder of many snapshots takes a while, and the manifests' reads, which
// a scan waits for, can run meanwhile. It returns nil for other folders.
// The caller holds the folder's lock, so the manifests read are those its
// listing shows; a read is used only for a manifest listed at the size
// read. The bytes held are bounded as a scan's are (fetchBudget). Close
// must be called before the folder is closed.
func PrefetchManifests(ctx context.Context, f storage.Folder) *ManifestPrefetch {
	pl, ok := storage.PrefixListerOf(f)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &ManifestPrefetch{cancel: cancel, listed: make(chan struct{}), got: map[string]*prefetched{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		es, err := pl.ListPrefix(ctx, manifestPrefix)
		var todo []*prefetched
		var total int64
		p.mu.Lock()
		for _, e := range es {
			if k, _ := Classify(e.Name); err != nil || k != KindManifest || e.Size < 0 || e.Size > MaxManifestSize {
				continue
			}
			if total += e.Size; total > fetchBudget {
				break
			}
			x := &prefetched{name: e.Name, size: e.Size, done: make(chan struct{})}
			p.got[e.Name] = x
			todo = append(todo, x)
		}
		p.mu.Unlock()
		close(p.listed)
		// take removes what it hands out from got: the reads work from
		// their own list.
		sem := make(chan struct{}, remoteFetches)
		for _, x := range todo {
			sem <- struct{}{}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() { <-sem }()
				x.raw, x.err = fetchManifest(ctx, f, x.name)
				close(x.done)
			}()
		}
	}()
	return p
}

// take returns the bytes read ahead of the manifest name listed with size,
// or false when there are none (the scan then reads it itself).
func (p *ManifestPrefetch) take(name string, size int64) ([]byte, bool) {
	if p == nil {
		return nil, false
	}
	<-p.listed
	p.mu.Lock()
	x := p.got[name]
	delete(p.got, name) // the scan keeps what it parses; the bytes go
	p.mu.Unlock()
	if x == nil || x.size != size {
		return nil, false
	}
	<-x.done
	if x.err != nil || int64(len(x.raw)) != size {
		return nil, false
	}
	return x.raw, true
}

// Close stops the reads still running and waits for them.
func (p *ManifestPrefetch) Close() {
	if p == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
}
