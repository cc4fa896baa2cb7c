package diff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openspartan/statsnap/internal/snapview"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// ErrNoManifest is a snapshot without a readable statsnap or seed
// manifest (a bare --no-metadata export): nothing says what its tables
// are, so there is nothing to compare.
var ErrNoManifest = errors.New("snapshot has no manifest")

// IntegrityError is a snapshot that did not verify: diff read none of its
// data.
type IntegrityError struct {
	Snapshot string
	Problems []verify.Problem
}

func (e *IntegrityError) Error() string {
	if len(e.Problems) == 0 {
		return fmt.Sprintf("snapshot %s does not verify", e.Snapshot)
	}
	p := e.Problems[0]
	more := ""
	if len(e.Problems) > 1 {
		more = fmt.Sprintf(" (and %d more problems)", len(e.Problems)-1)
	}
	return fmt.Sprintf("snapshot %s does not verify: [%s] %s%s", e.Snapshot, p.Kind, p.Detail, more)
}

// Check verifies a snapshot for a comparison and, for the tables named
// by keys, copies their files into dir while hashing them: DuckDB then
// reads exactly the bytes whose BLAKE3 matched the manifest, never the
// folder's files, which could change in between. With no keys only the
// manifest is checked (its checksum, and its MAC given opt.Key), which is
// what a comparison of manifests needs. It returns, per key, the copies'
// paths in row order.
//
// Only the asked tables' files are read: the manifest handed to verify is
// the snapshot's own, with its checksum computed over the whole raw
// manifest, restricted to those tables, and the listing to their files.
func Check(ctx context.Context, f storage.Folder, info snapshot.Info, entries []storage.Entry, keys []string, dir string, opt verify.Options) (map[string][]string, verify.Result, error) {
	parts := map[string][]snapshot.Part{}
	if info.Manifest != nil {
		for _, k := range keys {
			t, ok := info.Manifest.Tables[k]
			if !ok {
				return nil, verify.Result{}, fmt.Errorf("snapshot %s has no table %q", info.ID, k)
			}
			parts[k] = t.DataFiles()
		}
	}
	return CheckParts(ctx, f, info, entries, keys, parts, dir, opt)
}

// CheckParts is Check for some of the tables' files only: parts[key] must
// be files of the table's own list, in its order (a table's rows in
// shared files need not be read to compare them, see SharedParts).
func CheckParts(ctx context.Context, f storage.Folder, info snapshot.Info, entries []storage.Entry, keys []string, parts map[string][]snapshot.Part, dir string, opt verify.Options) (map[string][]string, verify.Result, error) {
	if info.Manifest == nil {
		if info.ManifestErr != nil {
			res := verify.Snapshot(ctx, f, info, entries, opt)
			if res.Err != nil {
				return nil, res, res.Err
			}
			return nil, res, &IntegrityError{Snapshot: info.ID, Problems: res.Problems}
		}
		return nil, verify.Result{}, fmt.Errorf("%w: %s is %s (a --no-metadata export, or an interrupted backup)", ErrNoManifest, info.ID, info.Status)
	}
	full := info.Manifest.Manifest
	sub := *full
	sub.Tables = map[string]*snapshot.Table{}
	sub.TableOrder = nil
	want := map[string]bool{snapshot.ManifestName(info.ID): true}
	for _, k := range keys {
		t, ok := full.Tables[k]
		if !ok {
			return nil, verify.Result{}, fmt.Errorf("snapshot %s has no table %q", info.ID, k)
		}
		if _, err := snapview.Files(t); err != nil {
			return nil, verify.Result{}, &IntegrityError{Snapshot: info.ID, Problems: []verify.Problem{{Table: k, Kind: verify.KindManifestCorrupt, Detail: err.Error()}}}
		}
		entry, err := subset(t, parts[k])
		if err != nil {
			return nil, verify.Result{}, fmt.Errorf("table %s of snapshot %s: %w", k, info.ID, err)
		}
		for _, p := range entry.DataFiles() {
			want[p.File] = true
		}
		sub.Tables[k] = entry
	}
	for _, k := range full.Keys() {
		if _, ok := sub.Tables[k]; ok {
			sub.TableOrder = append(sub.TableOrder, k)
		}
	}
	restricted := info
	restricted.Manifest = &snapshot.Parsed{Manifest: &sub, Raw: info.Manifest.Raw}
	var listed []storage.Entry
	for _, e := range entries {
		if want[e.Name] {
			listed = append(listed, e)
		}
	}
	if len(keys) > 0 {
		opt.CopyTo = dir
		opt.Quick = false
	}
	res := verify.Snapshot(ctx, f, restricted, listed, opt)
	if res.Err != nil {
		return nil, res, fmt.Errorf("verify snapshot %s: %w", info.ID, res.Err)
	}
	if !res.OK {
		return nil, res, &IntegrityError{Snapshot: info.ID, Problems: res.Problems}
	}
	copies := map[string]string{}
	for _, fr := range res.Files {
		if fr.Copy != "" {
			copies[fr.File] = fr.Copy
		}
	}
	paths := map[string][]string{}
	n := 0
	for _, k := range keys {
		for _, p := range sub.Tables[k].DataFiles() {
			c, ok := copies[p.File]
			if !ok {
				return nil, res, fmt.Errorf("verify returned no verified copy of %s (table %s of snapshot %s)", p.File, k, info.ID)
			}
			// Plain names of our own: read_parquet never sees a name
			// from the manifest.
			n++
			safe := filepath.Join(dir, fmt.Sprintf("part-%06d.parquet", n))
			if err := os.Rename(c, safe); err != nil {
				return nil, res, fmt.Errorf("rename a verified copy: %w", err)
			}
			paths[k] = append(paths[k], safe)
		}
	}
	return paths, res, nil
}

// subset returns t's entry restricted to parts, a run of its own files in
// order, with the members that sum or repeat them made to match: what
// verify then checks is exactly those files, against what the verified
// manifest says of each.
func subset(t *snapshot.Table, parts []snapshot.Part) (*snapshot.Table, error) {
	all := t.DataFiles()
	if len(parts) == len(all) {
		return t, nil
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("no file to check")
	}
	i := 0
	for _, p := range parts {
		for i < len(all) && all[i] != p {
			i++
		}
		if i == len(all) {
			return nil, fmt.Errorf("file %s is not one of the table's, in order", p.File)
		}
		i++
	}
	c := *t
	c.Files = append([]snapshot.Part(nil), parts...)
	c.File, c.BLAKE3 = parts[0].File, parts[0].BLAKE3
	c.Rows, c.FileSizeBytes = 0, 0
	for _, p := range parts {
		c.Rows += p.Rows
		c.FileSizeBytes += p.FileSizeBytes
	}
	return &c, nil
}

// SharedParts returns the files of ta and tb that hold the rows only one
// side has: the files holding the same bytes (the same BLAKE3) on both
// sides, under the same column encodings, hold the same rows, and are
// left out of both, since for multisets (S+X) - (S+Y) = X - Y. Shared
// counts the files left out of each side. When every file is shared, the
// smallest is kept on both sides, so that each side still names a file to
// read the columns from (its rows cancel out).
func SharedParts(ta, tb *snapshot.Table) (pa, pb []snapshot.Part, shared int) {
	a, b := ta.DataFiles(), tb.DataFiles()
	if !sameColumns(ta, tb) {
		return a, b, 0
	}
	count := map[string]int{}
	for _, p := range b {
		if p.BLAKE3 != "" {
			count[p.BLAKE3]++
		}
	}
	common := map[string]int{}
	for _, p := range a {
		if count[p.BLAKE3] > 0 {
			count[p.BLAKE3]--
			common[p.BLAKE3]++
		}
	}
	drop := func(parts []snapshot.Part) []snapshot.Part {
		left := map[string]int{}
		for h, n := range common {
			left[h] = n
		}
		var out []snapshot.Part
		for _, p := range parts {
			if left[p.BLAKE3] > 0 {
				left[p.BLAKE3]--
				continue
			}
			out = append(out, p)
		}
		return out
	}
	pa, pb = drop(a), drop(b)
	shared = len(a) - len(pa)
	if len(pa) == 0 && len(pb) == 0 && len(a) > 0 {
		small := a[0]
		for _, p := range a {
			if p.FileSizeBytes < small.FileSizeBytes {
				small = p
			}
		}
		for _, p := range b {
			if p.BLAKE3 == small.BLAKE3 {
				return []snapshot.Part{small}, []snapshot.Part{p}, shared - 1
			}
		}
	}
	return pa, pb, shared
}

func sameColumns(ta, tb *snapshot.Table) bool {
	if len(ta.Columns) != len(tb.Columns) {
		return false
	}
	for i := range ta.Columns {
		if !sameColumn(ta.Columns[i], tb.Columns[i]) {
			return false
		}
	}
	return true
}

// sameColumn compares what decides how a column's files decode. Its
// VARIANT shapes are left out: they list what the table held when each
// snapshot was taken, and a file decodes the same under either list.
func sameColumn(a, b snapshot.Column) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Encoding == b.Encoding && a.Generated == b.Generated
}
