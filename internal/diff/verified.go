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
		files, err := snapview.Files(t)
		if err != nil {
			return nil, verify.Result{}, &IntegrityError{Snapshot: info.ID, Problems: []verify.Problem{{Table: k, Kind: verify.KindManifestCorrupt, Detail: err.Error()}}}
		}
		for _, name := range files {
			want[name] = true
		}
		sub.Tables[k] = t
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
		for _, p := range full.Tables[k].DataFiles() {
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
