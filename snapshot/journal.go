package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
)

// journal lists the final names an operation on one snapshot may leave
// behind, so that the next run can finish or undo it after a crash.
type journal struct {
	Snapshot string   `json:"snapshot"`
	Files    []string `json:"files"`
}

const maxJournalSize = 16 << 20

func writeJournal(ctx context.Context, f storage.Folder, name string, j journal) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := f.WriteFile(ctx, name, data); err != nil {
		return fmt.Errorf("write journal %s: %w", name, err)
	}
	return f.Sync(ctx)
}

// WritePending writes and syncs the journal of a backup of snapshot id,
// listing every final name the backup may create, before the first exists.
func WritePending(ctx context.Context, f storage.Folder, id string, files []string) error {
	return writeJournal(ctx, f, PendingName(id), journal{Snapshot: id, Files: files})
}

func readJournal(ctx context.Context, f storage.Folder, name, id string) (journal, error) {
	r, err := f.Open(ctx, name)
	if err != nil {
		return journal{}, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxJournalSize+1))
	if err != nil {
		return journal{}, err
	}
	if len(data) > maxJournalSize {
		return journal{}, errors.New("journal too large")
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return journal{}, err
	}
	if j.Snapshot != id {
		return journal{}, fmt.Errorf("journal names snapshot %q, its file name says %q", j.Snapshot, id)
	}
	for _, n := range j.Files {
		if err := storage.CheckName(n); err != nil {
			return journal{}, err
		}
		// A journal may only ever claim files of its own snapshot.
		if k, fid := Classify(n); fid != id || (k != KindParquet && k != KindManifest) {
			return journal{}, fmt.Errorf("journal lists %q, which is not a file of snapshot %s", n, id)
		}
	}
	return j, nil
}

// Cleanup is what Recover did.
type Cleanup struct {
	Removed []string // files removed
	Skipped []string // journals that could not be used, with why
}

// TempMaxAge is how old an orphaned temporary file must be before any run
// removes it (those of a snapshot being recovered go at once).
const TempMaxAge = time.Hour

// Recover finishes what crashed runs left in a folder: a backup's
// pending journal removes the files it lists (unless its manifest was
// committed, in which case only the journal goes); a removal journal
// completes the removal. Only names a journal lists, and statsnap's own
// temporaries, are ever removed. The caller holds the exclusive lock.
func Recover(ctx context.Context, f storage.Folder, now time.Time) (Cleanup, error) {
	var c Cleanup
	entries, err := f.List(ctx)
	if err != nil {
		return c, err
	}
	present := map[string]bool{}
	for _, e := range entries {
		present[e.Name] = true
	}
	recovered := map[string]bool{}
	for _, e := range entries {
		kind, id := Classify(e.Name)
		switch kind {
		case KindPending:
			j, err := readJournal(ctx, f, e.Name, id)
			if err != nil {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: %v", e.Name, err))
				slog.Warn("ignoring unusable journal", "journal", e.Name, "err", err)
				continue
			}
			if !present[ManifestName(id)] {
				for _, n := range j.Files {
					if present[n] {
						if err := f.Remove(ctx, n); err != nil {
							return c, fmt.Errorf("remove %s: %w", n, err)
						}
						c.Removed = append(c.Removed, n)
					}
				}
			}
			recovered[id] = true
			if err := f.Sync(ctx); err != nil {
				return c, err
			}
			if err := f.Remove(ctx, e.Name); err != nil {
				return c, err
			}
			c.Removed = append(c.Removed, e.Name)
		case KindRemoving:
			j, err := readJournal(ctx, f, e.Name, id)
			if err != nil {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: %v", e.Name, err))
				slog.Warn("ignoring unusable journal", "journal", e.Name, "err", err)
				continue
			}
			removed, err := finishRemoval(ctx, f, id, j.Files, present)
			c.Removed = append(c.Removed, removed...)
			if err != nil {
				return c, err
			}
			if err := f.Remove(ctx, e.Name); err != nil {
				return c, err
			}
			c.Removed = append(c.Removed, e.Name)
			recovered[id] = true
		}
	}
	for _, e := range entries {
		kind, id := Classify(e.Name)
		if kind != KindTemp {
			continue
		}
		// A ledger's temporary is written and published under the lock
		// (shared or exclusive): under the exclusive lock the caller
		// holds, one that exists is a dead process's.
		if (id != "" && recovered[id]) || now.Sub(e.ModTime) > TempMaxAge || strings.HasPrefix(e.Name, ledgerTempPrefix) {
			if err := f.Remove(ctx, e.Name); err != nil {
				return c, err
			}
			c.Removed = append(c.Removed, e.Name)
		}
	}
	if len(c.Removed) > 0 {
		if err := f.Sync(ctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

// finishRemoval deletes a snapshot: its manifest first (so that no
// manifest ever points at missing files), then its files.
func finishRemoval(ctx context.Context, f storage.Folder, id string, files []string, present map[string]bool) ([]string, error) {
	var removed []string
	mf := ManifestName(id)
	if present == nil || present[mf] {
		if err := f.Remove(ctx, mf); err != nil {
			return removed, fmt.Errorf("remove %s: %w", mf, err)
		}
		removed = append(removed, mf)
		if err := f.Sync(ctx); err != nil {
			return removed, err
		}
	}
	for _, n := range files {
		if n == mf || (present != nil && !present[n]) {
			continue
		}
		if err := f.Remove(ctx, n); err != nil {
			return removed, fmt.Errorf("remove %s: %w", n, err)
		}
		removed = append(removed, n)
	}
	return removed, f.Sync(ctx)
}

// Remove deletes a complete or legacy snapshot in SPEC's order: validate
// every name, write and sync a removal journal, delete the manifest and
// sync, delete the files, delete the journal. The caller holds the
// exclusive lock.
func Remove(ctx context.Context, f storage.Folder, s Info) ([]string, error) {
	if s.Manifest == nil {
		return nil, fmt.Errorf("snapshot %s has no readable manifest; statsnap removes only snapshots it can account for", s.ID)
	}
	var files []string
	for key, t := range s.Manifest.Tables {
		if err := storage.CheckName(t.File); err != nil {
			return nil, fmt.Errorf("refusing to remove snapshot %s: table %q: %w", s.ID, key, err)
		}
		if k, fid := Classify(t.File); k != KindParquet || fid != s.ID {
			return nil, fmt.Errorf("refusing to remove snapshot %s: table %q names %q, not a file of this snapshot", s.ID, key, t.File)
		}
		files = append(files, t.File)
	}
	files = append(files, ManifestName(s.ID))
	jn := RemovingName(s.ID)
	if err := writeJournal(ctx, f, jn, journal{Snapshot: s.ID, Files: files}); err != nil {
		return nil, err
	}
	removed, err := finishRemoval(ctx, f, s.ID, files, nil)
	if err != nil {
		return removed, err
	}
	if err := f.Remove(ctx, jn); err != nil {
		return removed, err
	}
	return removed, f.Sync(ctx)
}
