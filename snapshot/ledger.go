package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openspartan/statsnap/internal/storage"
)

// The verification ledger is one small JSON object per player folder,
// .statsnap-ledger.json, recording for every file statsnap has checked the
// BLAKE3 it was checked against, when, how deeply and with what result.
// It lets verify --max-age, verify --budget and prune skip reading files
// that were proven recently, so that a folder can be verified completely
// over several runs and prune can count only snapshots that verify without
// rereading every byte each time.
//
// It is a cache of past checks, never a source of truth:
//
//   - it carries a checksum over its canonical JSON, and with a key a keyed
//     BLAKE3 MAC; a ledger whose checksum or (given a key) MAC is wrong or
//     missing is ignored as a whole;
//   - it names the player folder it belongs to, so a ledger copied in from
//     another player's folder is ignored;
//   - a record counts only if its hash and size are the manifest's, the
//     folder listing still shows that size and the modification time the
//     file had when it was checked, and the check is recent enough for the
//     caller; a
//     ledger with a record whose hash differs from the manifest's is
//     ignored as a whole (Consistent), because it does not describe this
//     folder;
//   - losing it, or ignoring it, costs only re-verification.
//
// It is written whole (a temporary name, then Publish) and never appended
// to, so that it works on object stores where an object is replaced whole.

// LedgerName is the ledger's file name inside a player folder.
const LedgerName = ".statsnap-ledger.json"

// ledgerTempPrefix names the ledger's temporary files.
const ledgerTempPrefix = tempPrefix + "ledger-"

// LedgerFormat is the ledger format this build writes and reads.
const LedgerFormat = 1

// MaxLedgerSize bounds what is read of a ledger: a record is about 250
// bytes, so this is some 60,000 files, more than a player folder of a
// thousand snapshots holds.
const MaxLedgerSize = 16 << 20

// ledgerDepth bounds the ledger's JSON nesting: a real one is 4 deep.
const ledgerDepth = 8

// macContext separates the ledger's MAC from a manifest's: the same key
// signs both, and a MAC lifted from one must never pass for the other.
const macContext = "statsnap ledger v1\x00"

// Depth is how deeply a file was checked. Deeper checks include the
// shallower ones.
type Depth int

const (
	// DepthNone is "never checked".
	DepthNone Depth = iota
	// DepthFooters checks size, footer row count and schema (no hash).
	DepthFooters
	// DepthHash also checks every byte against the manifest's BLAKE3.
	DepthHash
	// DepthDeep also decodes every value.
	DepthDeep
)

var depthNames = []string{"none", "footers", "hash", "deep"}

func (d Depth) String() string {
	if d < 0 || int(d) >= len(depthNames) {
		return fmt.Sprintf("depth(%d)", int(d))
	}
	return depthNames[d]
}

// MarshalText writes the depth's name.
func (d Depth) MarshalText() ([]byte, error) {
	if d <= DepthNone || int(d) >= len(depthNames) {
		return nil, fmt.Errorf("depth %d cannot be recorded", int(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText accepts only the names a check can have.
func (d *Depth) UnmarshalText(b []byte) error {
	for i := DepthFooters; int(i) < len(depthNames); i++ {
		if string(b) == depthNames[i] {
			*d = i
			return nil
		}
	}
	return fmt.Errorf("unknown depth %q", b)
}

// Check is the last check of one file.
type Check struct {
	// BLAKE3 and Size are what the manifest recorded when the file was
	// checked (what it was checked against), not what was found.
	BLAKE3 string `json:"blake3"`
	Size   int64  `json:"size"`
	// ModTime is the file's modification time as the folder listed it when
	// the check began: a file written since has another one, and its
	// record then stands for nothing. (Comparing with Checked instead
	// would not do: file systems stamp writes with a coarse clock that can
	// run a few milliseconds behind the one Checked is read from.)
	ModTime time.Time `json:"mtime"`
	Checked time.Time `json:"checked"`
	Depth   Depth     `json:"depth"`
	OK      bool      `json:"ok"`
	// Problem is the kind of the first problem found when OK is false.
	Problem string `json:"problem,omitempty"`
	Tool    string `json:"tool_version"`
}

// SnapshotCheck is the last verification of a snapshot as a whole (its
// manifest, and every file at the given depth, possibly over several
// budgeted runs): what `statsnap snapshots` shows. Trust decisions never
// use it; they use the file records and check the manifest afresh.
type SnapshotCheck struct {
	Checked  time.Time `json:"checked"`
	Depth    Depth     `json:"depth"`
	OK       bool      `json:"ok"`
	Problems []string  `json:"problems,omitempty"` // problem kinds
}

// ManifestCheck is the last check of a manifest's own checksum (and
// MAC): verify --max-age and prune then skip recomputing its canonical
// form while the manifest keeps its size, time and checksum.
type ManifestCheck struct {
	Checksum string    `json:"manifest_checksum"` // the value it was checked to match
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	Checked  time.Time `json:"checked"`
	MAC      bool      `json:"mac,omitempty"` // its MAC was checked too, with the key
}

// Ledger is the content of .statsnap-ledger.json.
type Ledger struct {
	Format int `json:"ledger_format"`
	// Folder is the name of the player folder the ledger belongs to.
	Folder    string                   `json:"folder"`
	Updated   time.Time                `json:"updated"`
	Tool      string                   `json:"tool_version"`
	Files     map[string]Check         `json:"files"`
	Snapshots map[string]SnapshotCheck `json:"snapshots"`
	Manifests map[string]ManifestCheck `json:"manifests"`
	Checksum  string                   `json:"ledger_checksum,omitempty"`
	MAC       string                   `json:"ledger_mac,omitempty"`

	// base is where a ledger that TrustedLedger or PrefetchLedger
	// returned came from (nil for one made or parsed otherwise).
	base *ledgerBase
}

// ledgerBase is the stored ledger a ledger in memory stands for: the
// version it was read at, so that UpdateLedgerFrom can save over exactly
// that one with a compare-and-swap and need not read it again.
type ledgerBase struct {
	// version is the stored ledger's (storage.Absent when there was
	// none), or "" when the folder gives no versions or the read failed.
	version storage.Version
	// stored: the ledger is the stored one, trusted; otherwise it is an
	// empty one that stands in for a missing or untrusted stored one.
	stored bool
}

// Errors of ledgers. Both mean "start from an empty ledger".
var (
	ErrNoLedger        = errors.New("no verification ledger")
	ErrLedgerUntrusted = errors.New("verification ledger is not trusted")
)

// NewLedger returns an empty ledger for the folder called folder.
func NewLedger(folder string) *Ledger {
	return &Ledger{Format: LedgerFormat, Folder: folder, Tool: ToolVersion,
		Files: map[string]Check{}, Snapshots: map[string]SnapshotCheck{}, Manifests: map[string]ManifestCheck{}}
}

// FolderName is the name a ledger is bound to: the last element of a
// folder's location (an object-store URL's path, without its query).
// A relative local path is made absolute first, so "." names the folder.
func FolderName(location string) string {
	if i := strings.Index(location, "://"); i > 0 {
		loc := location[i+3:]
		if q := strings.IndexByte(loc, '?'); q >= 0 {
			loc = loc[:q]
		}
		return path.Base(strings.TrimRight(loc, "/"))
	}
	if abs, err := filepath.Abs(location); err == nil {
		location = abs
	}
	return filepath.Base(location)
}

// ParseLedger parses and validates an untrusted ledger: bounded size and
// nesting, valid UTF-8, no duplicate keys, known format, plain file names
// of Parquet files, well-formed hashes, depths and times. It checks the
// checksum, and the MAC when key is not nil; binding to a folder is
// checked by LoadLedger.
func ParseLedger(raw []byte, key []byte) (*Ledger, error) {
	if len(raw) > MaxLedgerSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrLedgerUntrusted, MaxLedgerSize>>20)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrLedgerUntrusted)
	}
	if err := checkStructureDepth(raw, ledgerDepth); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedgerUntrusted, err)
	}
	var l Ledger
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedgerUntrusted, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedgerUntrusted, err)
	}
	canon, err := canonicalWithout(raw, "ledger_checksum", "ledger_mac")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedgerUntrusted, err)
	}
	if got := Checksum(canon); subtle.ConstantTimeCompare([]byte(got), []byte(l.Checksum)) != 1 {
		return nil, fmt.Errorf("%w: its checksum does not match its content (edited or damaged)", ErrLedgerUntrusted)
	}
	if key != nil {
		want, err := ledgerMAC(key, canon)
		if err != nil {
			return nil, err
		}
		if l.MAC == "" {
			return nil, fmt.Errorf("%w: a key was given but it has no MAC", ErrLedgerUntrusted)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(l.MAC)) != 1 {
			return nil, fmt.Errorf("%w: its MAC does not match this key", ErrLedgerUntrusted)
		}
	}
	l.ensureMaps()
	return &l, nil
}

// ensureMaps makes the record maps a ledger read or copied without some
// of them, so that recording into it never writes to a nil map.
func (l *Ledger) ensureMaps() {
	if l.Files == nil {
		l.Files = map[string]Check{}
	}
	if l.Snapshots == nil {
		l.Snapshots = map[string]SnapshotCheck{}
	}
	if l.Manifests == nil {
		l.Manifests = map[string]ManifestCheck{}
	}
}

func (l *Ledger) validate() error {
	if l.Format != LedgerFormat {
		return fmt.Errorf("ledger_format %d, this build reads %d", l.Format, LedgerFormat)
	}
	if l.Folder == "" {
		return errors.New("it names no folder")
	}
	if !hexRe.MatchString(l.Checksum) {
		return errors.New("ledger_checksum is missing or not 64 lowercase hex digits")
	}
	if l.MAC != "" && !hexRe.MatchString(l.MAC) {
		return errors.New("ledger_mac is not 64 lowercase hex digits")
	}
	for name, c := range l.Files {
		if err := storage.CheckName(name); err != nil {
			return fmt.Errorf("file %v", err)
		}
		if k, _ := Classify(name); k != KindParquet {
			return fmt.Errorf("file %q is not a snapshot's Parquet file", name)
		}
		if !hexRe.MatchString(c.BLAKE3) {
			return fmt.Errorf("file %q: blake3 is not 64 lowercase hex digits", name)
		}
		if c.Size < 0 || c.Checked.IsZero() || c.ModTime.IsZero() || c.Depth <= DepthNone || c.Depth > DepthDeep {
			return fmt.Errorf("file %q: bad size, time or depth", name)
		}
		if c.OK != (c.Problem == "") || len(c.Problem) > 64 || len(c.Tool) > 64 {
			return fmt.Errorf("file %q: result and problem disagree", name)
		}
	}
	for name, m := range l.Manifests {
		if k, _ := Classify(name); k != KindManifest {
			return fmt.Errorf("manifest %q is not a manifest's name", name)
		}
		if !hexRe.MatchString(m.Checksum) || m.Size < 0 || m.ModTime.IsZero() || m.Checked.IsZero() {
			return fmt.Errorf("manifest %q: bad checksum, size or time", name)
		}
	}
	for id, s := range l.Snapshots {
		if !ValidID(id) {
			return fmt.Errorf("snapshot %q is not a snapshot id", id)
		}
		if s.Checked.IsZero() || s.Depth < DepthNone || s.Depth > DepthDeep || len(s.Problems) > 64 {
			return fmt.Errorf("snapshot %s: bad time, depth or problems", id)
		}
		if s.OK != (len(s.Problems) == 0) {
			return fmt.Errorf("snapshot %s: result and problems disagree", id)
		}
	}
	return nil
}

func ledgerMAC(key, canon []byte) (string, error) {
	return MAC(key, append([]byte(macContext), canon...))
}

// MarshalLedger returns the ledger's JSON with its checksum (and MAC when
// key is not nil) filled in.
func MarshalLedger(l *Ledger, key []byte) ([]byte, error) {
	l.Checksum, l.MAC = "", ""
	raw, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode ledger: %w", err)
	}
	canon, err := canonicalWithout(raw, "ledger_checksum", "ledger_mac")
	if err != nil {
		return nil, fmt.Errorf("encode ledger: %w", err)
	}
	l.Checksum = Checksum(canon)
	if key != nil {
		if l.MAC, err = ledgerMAC(key, canon); err != nil {
			return nil, err
		}
	}
	// Not indented: it is statsnap's own file, and a folder of a thousand
	// snapshots makes it several megabytes either way.
	return json.Marshal(l)
}

// LoadLedger reads the folder's ledger. It returns ErrNoLedger when there
// is none and an error wrapping ErrLedgerUntrusted when it fails a check
// or belongs to another folder than folderName; callers then start from
// NewLedger, which only costs re-verification.
func LoadLedger(ctx context.Context, f storage.Folder, folderName string, key []byte) (*Ledger, error) {
	l, _, err := loadLedger(ctx, f, folderName, key)
	return l, err
}

// loadLedger is LoadLedger, also returning the version read (see
// ledgerBase): on a folder that is a storage.Swapper the read is
// versioned, in the same one request.
func loadLedger(ctx context.Context, f storage.Folder, folderName string, key []byte) (*Ledger, storage.Version, error) {
	var raw []byte
	var v storage.Version
	if sw, ok := storage.SwapperOf(f); ok {
		var err error
		raw, v, err = sw.ReadVersion(ctx, LedgerName, MaxLedgerSize)
		if err != nil {
			if storage.IsNotExist(err) {
				return nil, storage.Absent, ErrNoLedger
			}
			return nil, v, fmt.Errorf("%w: read: %v", ErrLedgerUntrusted, err)
		}
		if len(raw) > MaxLedgerSize {
			return nil, v, fmt.Errorf("%w: more than %d MiB", ErrLedgerUntrusted, MaxLedgerSize>>20)
		}
	} else {
		r, err := f.Open(ctx, LedgerName)
		if err != nil {
			if storage.IsNotExist(err) {
				return nil, "", ErrNoLedger
			}
			return nil, "", fmt.Errorf("%w: open: %v", ErrLedgerUntrusted, err)
		}
		defer r.Close()
		if r.Size() > MaxLedgerSize {
			return nil, "", fmt.Errorf("%w: %d bytes, more than %d MiB", ErrLedgerUntrusted, r.Size(), MaxLedgerSize>>20)
		}
		raw, err = io.ReadAll(io.LimitReader(r, MaxLedgerSize+1))
		if err != nil {
			return nil, "", fmt.Errorf("%w: read: %v", ErrLedgerUntrusted, err)
		}
	}
	l, err := ParseLedger(raw, key)
	if err != nil {
		return nil, v, err
	}
	if l.Folder != folderName {
		return nil, v, fmt.Errorf("%w: it belongs to folder %q, not %q (copied from another player?)", ErrLedgerUntrusted, l.Folder, folderName)
	}
	return l, v, nil
}

// Consistent reports an error when the ledger records a file with another
// hash or size than a readable statsnap manifest of snaps gives it: such a
// ledger describes some other folder or an older state of this one, and is
// ignored as a whole.
func (l *Ledger) Consistent(snaps []Info) error {
	for _, s := range snaps {
		if s.Manifest == nil || s.Manifest.Legacy() {
			continue
		}
		for _, t := range s.Manifest.Tables {
			for _, p := range t.DataFiles() {
				c, ok := l.Files[p.File]
				if ok && (c.BLAKE3 != p.BLAKE3 || c.Size != p.FileSizeBytes) {
					return fmt.Errorf("%w: it records %s with another hash or size than manifest %s", ErrLedgerUntrusted, p.File, ManifestName(s.ID))
				}
			}
		}
	}
	return nil
}

// Vouch is VouchPart for file, one of the files of manifest entry t
// (none: false).
func (l *Ledger) Vouch(file string, t *Table, e storage.Entry, depth Depth, maxAge time.Duration, now time.Time) (Check, bool) {
	p, ok := partOf(t, file)
	if !ok {
		return Check{}, false
	}
	return l.VouchPart(p, e, depth, maxAge, now)
}

// partOf returns the part of t held by file: for a table of one file
// (format 1, legacy), file with the table's hash and size.
func partOf(t *Table, file string) (Part, bool) {
	if t == nil {
		return Part{}, false
	}
	if len(t.Files) == 0 {
		return Part{File: file, Rows: t.Rows, FileSizeBytes: t.FileSizeBytes, BLAKE3: t.BLAKE3}, true
	}
	for _, p := range t.Files {
		if p.File == file {
			return p, true
		}
	}
	return Part{}, false
}

// VouchPart returns the ledger's record of p's file when it stands for
// reading the file now: it passed a check of at least depth, against the
// hash and size the manifest gives p, no longer than maxAge before now and
// not after it; and the listing entry e still has that size and the
// modification time the file had when it was checked. A file several
// snapshots share has one record, good for each of them.
func (l *Ledger) VouchPart(p Part, e storage.Entry, depth Depth, maxAge time.Duration, now time.Time) (Check, bool) {
	if l == nil || p.BLAKE3 == "" {
		return Check{}, false
	}
	c, ok := l.Files[p.File]
	if !ok || !c.OK || c.Depth < depth || c.BLAKE3 != p.BLAKE3 || c.Size != p.FileSizeBytes {
		return c, false
	}
	if e.Size != p.FileSizeBytes || !e.ModTime.Equal(c.ModTime) {
		return c, false
	}
	// A check "in the future" is a forged or clock-skewed record: an hour
	// of skew is forgiven, more is not.
	if c.Checked.After(now.Add(time.Hour)) || now.Sub(c.Checked) > maxAge {
		return c, false
	}
	return c, true
}

// VouchManifest reports whether the manifest called name, holding
// manifest_checksum checksum and listed as e, passed its own check within
// maxAge before now with that checksum, size and modification time (and,
// when keyed, its MAC with the key).
func (l *Ledger) VouchManifest(name, checksum string, e storage.Entry, keyed bool, maxAge time.Duration, now time.Time) bool {
	if l == nil || checksum == "" {
		return false
	}
	m, ok := l.Manifests[name]
	if !ok || m.Checksum != checksum || m.Size != e.Size || !m.ModTime.Equal(e.ModTime) || (keyed && !m.MAC) {
		return false
	}
	return !m.Checked.After(now.Add(time.Hour)) && now.Sub(m.Checked) <= maxAge
}

// RecordManifest stores a passed check of a manifest's checksum (and MAC
// when mac is set).
func (l *Ledger) RecordManifest(name, checksum string, size int64, modTime, checked time.Time, mac bool) {
	if k, _ := Classify(name); k != KindManifest || !hexRe.MatchString(checksum) || modTime.IsZero() {
		return
	}
	l.Manifests[name] = ManifestCheck{Checksum: checksum, Size: size, ModTime: modTime.UTC(), Checked: checked.UTC(), MAC: mac}
}

// Record is RecordPart for file, one of the files of manifest entry t.
func (l *Ledger) Record(file string, t *Table, modTime, checked time.Time, depth Depth, problem string) {
	if p, ok := partOf(t, file); ok {
		l.RecordPart(p, modTime, checked, depth, problem)
	}
}

// RecordPart stores the result of checking p's file, whose modification
// time was modTime when the check began, against the hash and size the
// manifest gives p.
func (l *Ledger) RecordPart(p Part, modTime, checked time.Time, depth Depth, problem string) {
	if !hexRe.MatchString(p.BLAKE3) || depth <= DepthNone || modTime.IsZero() {
		return // only files with a recorded hash are worth a record
	}
	l.Files[p.File] = Check{BLAKE3: p.BLAKE3, Size: p.FileSizeBytes, ModTime: modTime.UTC(), Checked: checked.UTC(),
		Depth: depth, OK: problem == "", Problem: problem, Tool: ToolVersion}
}

// RecordSnapshot stores the verdict on snapshot id as a whole.
func (l *Ledger) RecordSnapshot(id string, checked time.Time, depth Depth, problems []string) {
	if !ValidID(id) {
		return
	}
	if len(problems) > 64 {
		problems = problems[:64]
	}
	l.Snapshots[id] = SnapshotCheck{Checked: checked.UTC(), Depth: depth, OK: len(problems) == 0, Problems: problems}
}

// Covers reports whether merging delta would change nothing: every record
// of delta is already here, as new or newer. A run whose checks the
// trusted ledger covers need not rewrite it.
func (l *Ledger) Covers(delta *Ledger) bool {
	for name, c := range delta.Files {
		if mine, ok := l.Files[name]; !ok || c.Checked.After(mine.Checked) {
			return false
		}
	}
	for name, m := range delta.Manifests {
		if mine, ok := l.Manifests[name]; !ok || m.Checked.After(mine.Checked) {
			return false
		}
	}
	for id, s := range delta.Snapshots {
		mine, ok := l.Snapshots[id]
		if !ok || s.Checked.After(mine.Checked) || (s.Checked.Equal(mine.Checked) && (s.OK != mine.OK || s.Depth != mine.Depth)) {
			return false
		}
	}
	return true
}

// Merge takes from other every record newer than this ledger's, and
// reports whether it took any.
func (l *Ledger) Merge(other *Ledger) bool {
	changed := false
	for name, c := range other.Files {
		if mine, ok := l.Files[name]; !ok || c.Checked.After(mine.Checked) {
			l.Files[name] = c
			changed = true
		}
	}
	for name, m := range other.Manifests {
		if mine, ok := l.Manifests[name]; !ok || m.Checked.After(mine.Checked) {
			l.Manifests[name] = m
			changed = true
		}
	}
	for id, s := range other.Snapshots {
		if mine, ok := l.Snapshots[id]; !ok || s.Checked.After(mine.Checked) ||
			(s.Checked.Equal(mine.Checked) && (s.OK != mine.OK || s.Depth != mine.Depth)) {
			l.Snapshots[id] = s
			changed = true
		}
	}
	return changed
}

// Forget drops the records of files and snapshots that snaps no longer
// hold (removed by prune, or a crashed backup's leftovers), so that the
// ledger stays the size of the folder. It reports whether it dropped any.
func (l *Ledger) Forget(snaps []Info) bool {
	live := map[string]bool{}
	ids := map[string]bool{}
	for _, s := range snaps {
		ids[s.ID] = true
		for _, e := range s.Files {
			live[e.Name] = true // a bare export's files keep their records
		}
		if s.Manifest == nil {
			continue
		}
		for _, name := range s.Manifest.FileNames() {
			live[name] = true
		}
	}
	n := len(l.Files) + len(l.Snapshots) + len(l.Manifests)
	for name := range l.Manifests {
		if _, id := Classify(name); !ids[id] {
			delete(l.Manifests, name)
		}
	}
	for name := range l.Files {
		if !live[name] {
			delete(l.Files, name)
		}
	}
	for id := range l.Snapshots {
		if !ids[id] {
			delete(l.Snapshots, id)
		}
	}
	return len(l.Files)+len(l.Snapshots)+len(l.Manifests) != n
}

// Save writes the ledger atomically, replacing whatever is stored
// (UpdateLedger merges with it first). A folder that replaces a file in
// one step (storage.Replacer: an object store's PUT, a local rename)
// gets one write. Elsewhere it is a temporary name, then Publish, with
// the old ledger removed just before: Publish never replaces a file, and
// a crash in between only loses the record (re-verification), never a
// snapshot. The caller holds the folder's lock.
func (l *Ledger) Save(ctx context.Context, f storage.Folder, key []byte, now time.Time) error {
	data, err := l.encode(key, now)
	if err != nil {
		return err
	}
	if rp, ok := storage.ReplacerOf(f); ok {
		if err := rp.Replace(ctx, LedgerName, data); err != nil {
			return fmt.Errorf("write ledger: %w", err)
		}
		return nil
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	tmp := ledgerTempPrefix + hex.EncodeToString(rnd[:])
	if err := f.WriteFile(ctx, tmp, data); err != nil {
		_ = f.Remove(context.WithoutCancel(ctx), tmp) // best effort: Recover removes it later
		return fmt.Errorf("write ledger: %w", err)
	}
	if err := f.Remove(ctx, LedgerName); err != nil {
		_ = f.Remove(context.WithoutCancel(ctx), tmp) // best effort: Recover removes it later
		return fmt.Errorf("write ledger: replace the old one: %w", err)
	}
	if err := f.Publish(ctx, tmp, LedgerName); err != nil {
		_ = f.Remove(context.WithoutCancel(ctx), tmp) // best effort: Recover removes it later
		return fmt.Errorf("write ledger: %w", err)
	}
	return nil
}

// encode stamps the ledger and returns its JSON, within the size a
// ledger may have.
func (l *Ledger) encode(key []byte, now time.Time) ([]byte, error) {
	l.Format, l.Tool, l.Updated = LedgerFormat, ToolVersion, now.UTC()
	data, err := MarshalLedger(l, key)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxLedgerSize {
		return nil, fmt.Errorf("write ledger: %d bytes is more than the %d MiB a ledger may hold", len(data), MaxLedgerSize>>20)
	}
	return data, nil
}

// LedgerFiles returns the ledger's file names, sorted (for tests and
// reports).
func (l *Ledger) LedgerFiles() []string {
	out := make([]string, 0, len(l.Files))
	for n := range l.Files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TrustedLedger returns the folder's ledger when it passes every check
// (LoadLedger, then Consistent with snaps), and otherwise an empty one
// with the reason the stored one was ignored (nil when there was none).
// The empty ledger vouches for nothing, so callers re-verify.
func TrustedLedger(ctx context.Context, f storage.Folder, key []byte, snaps []Info) (*Ledger, error) {
	l, _, err := trustedLedger(ctx, f, key, snaps)
	return l, err
}

// PrefetchLedger starts reading the folder's ledger now and returns a
// function that waits for it and answers as TrustedLedger would for
// snaps. A verify calls it after the listing and before the scan of the
// manifests, so that on an object store the ledger's GET overlaps the
// manifests' parsing; the ledger it returns remembers the version read,
// so that UpdateLedgerFrom saves over it without reading it again. The
// function may be called more than once (a deferred call makes sure the
// read has ended before the folder closes); every call returns the
// first answer.
func PrefetchLedger(ctx context.Context, f storage.Folder, key []byte) func(snaps []Info) (*Ledger, error) {
	name := FolderName(f.Location())
	type loaded struct {
		l   *Ledger
		v   storage.Version
		err error
	}
	ch := make(chan loaded, 1)
	go func() {
		l, v, err := loadLedger(ctx, f, name, key)
		ch <- loaded{l, v, err}
	}()
	var once sync.Once
	var l *Ledger
	var err error
	return func(snaps []Info) (*Ledger, error) {
		once.Do(func() {
			r := <-ch
			l, _, err = trust(name, r.l, r.v, r.err, snaps)
		})
		return l, err
	}
}

// trustedLedger is TrustedLedger, also saying whether the ledger returned
// is the stored one.
func trustedLedger(ctx context.Context, f storage.Folder, key []byte, snaps []Info) (*Ledger, bool, error) {
	name := FolderName(f.Location())
	l, v, err := loadLedger(ctx, f, name, key)
	return trust(name, l, v, err, snaps)
}

// trust completes trustedLedger from loadLedger's answer, and records
// in the ledger returned the version it stands for.
func trust(name string, l *Ledger, v storage.Version, err error, snaps []Info) (*Ledger, bool, error) {
	if err == nil {
		err = l.Consistent(snaps)
	}
	if err != nil {
		l = NewLedger(name)
	}
	l.base = &ledgerBase{version: v, stored: err == nil}
	if err == nil || errors.Is(err, ErrNoLedger) {
		return l, err == nil, nil
	}
	return l, false, err
}

// ledgerAttempts bounds UpdateLedgerFrom's compare-and-swaps: each lost
// one means another process saved its records in between, which a few
// verifies finishing together do once or twice each.
const ledgerAttempts = 8

// UpdateLedger adds the records of delta to the folder's ledger and saves
// it: the stored ledger is read again first, so that records another
// process wrote since this one started are kept, and records of files
// snaps no longer hold are dropped. A stored ledger that is not trusted is
// replaced. The caller holds the folder's lock (shared is enough).
func UpdateLedger(ctx context.Context, f storage.Folder, key []byte, snaps []Info, delta *Ledger, now time.Time) error {
	return UpdateLedgerFrom(ctx, f, key, snaps, nil, delta, now)
}

// UpdateLedgerFrom is UpdateLedger starting from base, the ledger this
// process read earlier (from PrefetchLedger or TrustedLedger, for the
// same snaps), instead of reading it again. On a folder that swaps a
// file by version (storage.Swapper) the save is a compare-and-swap with
// the version base was read at: when nobody wrote the ledger since, it
// is one conditional write, with no read and no second parse; when
// someone did, the swap is refused, and the stored ledger is read, the
// records merged into it and the swap tried again, a bounded number of
// times. So two verifies that finish together (both under the shared
// lock) keep each other's records: of two swaps from one version only
// one wins, and the other merges into the winner's. Without versions
// (base nil, a folder that is no Swapper, a store that ignores
// conditions) the ledger is read again just before a plain replace, as
// UpdateLedger always did; racing savers may then lose one's records,
// which costs only re-verification.
func UpdateLedgerFrom(ctx context.Context, f storage.Folder, key []byte, snaps []Info, base, delta *Ledger, now time.Time) error {
	sw, swaps := storage.SwapperOf(f)
	l, stored := (*Ledger)(nil), false
	if base != nil && base.base != nil && base.base.version != "" && swaps {
		l, stored = base.clone(), base.base.stored
	}
	for attempt := 1; ; attempt++ {
		fromBase := l != nil
		if l == nil {
			l, stored, _ = trustedLedger(ctx, f, key, snaps)
		}
		changed := l.Merge(delta)
		if snaps != nil && l.Forget(snaps) {
			changed = true
		}
		if !changed && (stored || (len(l.Files) == 0 && len(l.Snapshots) == 0 && len(l.Manifests) == 0)) {
			// Nothing new (a verify --max-age that read nothing, a folder
			// statsnap never checked): the stored ledger already says it
			// all, and not rewriting it keeps such runs as cheap as a
			// listing. (A stale base says no less than the stored one:
			// others only add records newer than its own.)
			return nil
		}
		v := l.base.version
		if !swaps || v == "" {
			return l.Save(ctx, f, key, now)
		}
		data, err := l.encode(key, now)
		if err != nil {
			return err
		}
		err = sw.ReplaceIf(ctx, LedgerName, data, v)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, storage.ErrUnsupported):
			// The store cannot compare (blob's probe says why): replace
			// plainly, after a fresh read when l came from before.
			slog.Debug("the ledger is replaced without compare-and-swap", "folder", f.Location(), "err", err)
			swaps = false
			if fromBase {
				l = nil
				continue
			}
			return l.Save(ctx, f, key, now)
		case !errors.Is(err, storage.ErrChanged):
			return fmt.Errorf("write ledger: %w", err)
		case attempt >= ledgerAttempts:
			return fmt.Errorf("write ledger: other processes kept changing it (%d tries): %w", attempt, err)
		}
		// Another process saved since l was read: read its ledger, merge
		// again, after a short random pause so that savers who keep
		// meeting drift apart.
		slog.Debug("the ledger changed since it was read; merging again", "folder", f.Location(), "attempt", attempt)
		l = nil
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// pause waits a random few milliseconds, more after each lost swap.
func pause(ctx context.Context, attempt int) error {
	var b [2]byte
	_, _ = rand.Read(b[:])
	d := time.Duration(int(b[0])%(5*attempt)+1) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clone copies the ledger's records, so that merging into the copy
// leaves the original (still the one a verify consulted) as it was.
func (l *Ledger) clone() *Ledger {
	c := *l
	c.Files, c.Snapshots, c.Manifests = maps.Clone(l.Files), maps.Clone(l.Snapshots), maps.Clone(l.Manifests)
	c.ensureMaps()
	if l.base != nil {
		b := *l.base
		c.base = &b
	}
	return &c
}
