package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// DefaultReuseMaxAge is how recent a ledger record must be for backup to
// share a file without hashing it again: prune's --verify-max-age default.
const DefaultReuseMaxAge = 31 * 24 * time.Hour

// base is the earlier snapshot a backup shares unchanged files with: the
// newest format 2 snapshot of the folder, older than the new one, whose
// manifest passes its checksum (and MAC, with a key).
type base struct {
	id      string
	m       *snapshot.Manifest
	ledger  *snapshot.Ledger
	entries map[string]storage.Entry
	good    map[string]bool // files known good (or not) in this run
}

// findBase picks the base, or none: with Full or NoMetadata, or when no
// earlier snapshot qualifies (the backup is then a full one).
func (r *run) findBase(ctx context.Context) error {
	if r.opt.Full || r.opt.NoMetadata {
		return nil
	}
	snaps, err := snapshot.Scan(ctx, r.f)
	if err != nil {
		return fmt.Errorf("list earlier snapshots: %w", err)
	}
	listing, err := r.f.List(ctx)
	if err != nil {
		return fmt.Errorf("list earlier snapshots: %w", err)
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if s.ID >= r.id || s.Status != snapshot.StatusComplete || s.Manifest == nil || s.Manifest.FormatVersion < 2 ||
			s.Manifest.Gamertag != r.opt.Gamertag {
			continue
		}
		if !proven(s.Manifest, r.opt.Key) {
			slog.Warn("not sharing files with a snapshot whose manifest fails its check", "snapshot", s.ID)
			continue
		}
		ledger, lerr := snapshot.TrustedLedger(ctx, r.f, r.opt.Key, snaps)
		if lerr != nil {
			slog.Info("ledger ignored; shared files are hashed again", "err", lerr)
		}
		b := &base{id: s.ID, m: s.Manifest.Manifest, ledger: ledger, entries: map[string]storage.Entry{}, good: map[string]bool{}}
		for _, e := range listing {
			b.entries[e.Name] = e
		}
		r.base = b
		return nil
	}
	return nil
}

// proven reports whether a manifest passes its checksum and, with a key,
// its MAC.
func proven(p *snapshot.Parsed, key []byte) bool {
	canon, err := p.Canonical()
	if err != nil || snapshot.Checksum(canon) != p.Checksum {
		return false
	}
	if key != nil {
		mac, err := snapshot.MAC(key, canon)
		return err == nil && mac == p.MAC
	}
	return true
}

// prevParts returns the base's files of a table whose shape is the same
// now and whose fingerprints were made as this build makes them, or nil.
func (r *run) prevParts(key, shape string) []snapshot.Part {
	if r.base == nil {
		return nil
	}
	t := r.base.m.Tables[key]
	if t == nil || t.Shape != shape || len(t.Files) == 0 || t.FingerprintConstruction() != fingerprint.Version {
		return nil
	}
	return t.Files
}

// knownGood reports whether a file of the base may be shared: the ledger
// vouches for a passed hash check within ReuseMaxAge, or hashing it now
// gives the manifest's size and BLAKE3. Corruption must never spread into
// a new snapshot: a file that fails is written anew, from the source.
func (r *run) knownGood(ctx context.Context, p snapshot.Part) (bool, error) {
	b := r.base
	if ok, seen := b.good[p.File]; seen {
		return ok, nil
	}
	e, listed := b.entries[p.File]
	if !listed {
		b.good[p.File] = false
		return false, nil
	}
	maxAge := r.opt.ReuseMaxAge
	if maxAge == 0 {
		maxAge = DefaultReuseMaxAge
	}
	if _, ok := b.ledger.VouchPart(p, e, snapshot.DepthHash, maxAge, time.Now()); ok {
		b.good[p.File] = true
		return true, nil
	}
	f, err := r.f.Open(ctx, p.File)
	if errors.Is(err, fs.ErrNotExist) {
		b.good[p.File] = false
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s before sharing it: %w", p.File, err)
	}
	sum, size, err := snapshot.HashFile(ctx, f)
	f.Close()
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("check %s before sharing it: %w", p.File, err)
	}
	ok := size == p.FileSizeBytes && sum == p.BLAKE3
	if !ok {
		slog.Warn("a file of an earlier snapshot does not match its manifest: its rows are written anew; run statsnap verify", "file", p.File, "snapshot", b.id)
		r.refused = append(r.refused, p.File)
	} else {
		r.rehashed[p.File] = e.ModTime
	}
	b.good[p.File] = ok
	return ok, nil
}

// planFiles fingerprints every table (inside the backup's read) and
// decides its files: shared from the base or written now.
func (r *run) planFiles(ctx context.Context) error {
	started := time.Now()
	defer func() { slog.Debug("planned files", "took", time.Since(started)) }()
	for i := range r.tables {
		pt := &r.tables[i]
		pt.shape = shape(r.cat.DuckDBVersion, r.opt.CompressionLevel, pt.plans)
		if r.opt.NoMetadata {
			// The seed's bare export: one file per table, nothing shared.
			pt.parts = []partPlan{{whole: true, sum: fingerprint.Sum{Rows: -1}}}
		}
	}
	if r.opt.NoMetadata {
		return nil
	}
	scans, err := r.scanTables(ctx)
	if err != nil {
		return err
	}
	for i := range r.tables {
		pt := &r.tables[i]
		gs := scans[i].gs
		if errors.Is(scans[i].err, fingerprint.ErrNoRowid) {
			slog.Info("a table with a column named rowid is written whole, never shared", "table", pt.t.Key())
			pt.parts = []partPlan{{whole: true, sum: fingerprint.Sum{Rows: -1}}}
			continue
		}
		pt.fingerprint = fingerprint.Combine(gs).Hex()
		prev := r.prevParts(pt.t.Key(), pt.shape)
		for {
			plan := planParts(gs, prev)
			bad := ""
			for _, p := range plan {
				if p.reuse == nil {
					continue
				}
				ok, err := r.knownGood(ctx, *p.reuse)
				if err != nil {
					return err
				}
				if !ok {
					bad = p.reuse.File
					break
				}
			}
			if bad == "" {
				pt.parts = plan
				break
			}
			prev = without(prev, bad)
		}
	}
	return nil
}

func without(ps []snapshot.Part, file string) []snapshot.Part {
	var out []snapshot.Part
	for _, p := range ps {
		if p.File != file {
			out = append(out, p)
		}
	}
	return out
}

// storedColumns are the columns a file holds: not the generated ones.
func storedColumns(plans []codec.ColumnPlan) []fingerprint.Column {
	var cols []fingerprint.Column
	for i, p := range plans {
		if !p.Generated {
			cols = append(cols, fingerprint.Column{Name: p.Name, Type: p.Type, Pos: i + 1})
		}
	}
	return cols
}

// shape is the BLAKE3 of everything that decides how a table's rows
// become Parquet bytes besides the rows: DuckDB's version (its writer),
// the compression level and each column's name, type, encoding and
// generated flag. Files are shared only between entries of one shape.
func shape(duckdb string, level int, plans []codec.ColumnPlan) string {
	var b strings.Builder
	b.WriteString("statsnap-shape-1\x00" + duckdb + "\x00" + strconv.Itoa(level))
	for _, p := range plans {
		b.WriteString("\x00" + strconv.Quote(p.Name) + "\x00" + strconv.Quote(p.Type) + "\x00" + strconv.Quote(p.Encoding) + "\x00" + strconv.FormatBool(p.Generated))
	}
	return snapshot.Checksum([]byte(b.String()))
}

// tally fills the result's counts of new and shared files.
func (r *run) tally(res *Result) {
	if r.base != nil {
		res.Base = r.base.id
	}
	res.Refused = r.refused
	res.Rehashed = len(r.rehashed)
	for _, t := range res.Manifest.Tables {
		for _, p := range t.DataFiles() {
			if k, fid := snapshot.Classify(p.File); k == snapshot.KindParquet && fid == r.id {
				res.NewFiles++
				res.NewBytes += p.FileSizeBytes
			} else {
				res.SharedFiles++
				res.SharedBytes += p.FileSizeBytes
			}
		}
	}
}
