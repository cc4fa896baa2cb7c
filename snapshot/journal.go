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

// journalTempPrefix names a journal being written. Journals are written
// only under the folder's exclusive lock, so one that a run holding that
// lock finds belongs to a dead process.
const journalTempPrefix = tempPrefix + "journal-"

// writeJournal publishes a journal whole or not at all. Written in place,
// a run killed between creating the name and writing its bytes left an
// empty journal that no later run could read, so its snapshot's leftovers
// stayed for good; staged and published, a journal that exists is whole,
// and a kill before the publish leaves only a temporary (removed by the
// next Recover) and no file of the snapshot, as none is written before
// its journal.
func writeJournal(ctx context.Context, f storage.Folder, name string, j journal) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	tmp := journalTempPrefix + strings.TrimPrefix(name, ".statsnap-")
	// A dead run's temporary of this very journal would block the write;
	// under the exclusive lock it is nobody's.
	if err := f.Remove(ctx, tmp); err != nil {
		return fmt.Errorf("write journal %s: %w", name, err)
	}
	if err := f.WriteFile(ctx, tmp, data); err != nil {
		_ = f.Remove(context.WithoutCancel(ctx), tmp) // best effort: Recover removes it later
		return fmt.Errorf("write journal %s: %w", name, err)
	}
	if err := f.Publish(ctx, tmp, name); err != nil {
		_ = f.Remove(context.WithoutCancel(ctx), tmp) // best effort: Recover removes it later
		return fmt.Errorf("write journal %s: %w", name, err)
	}
	return f.Sync(ctx)
}

// WritePending writes and syncs the journal of a backup of snapshot id,
// listing every final name the backup may create, before the first exists.
func WritePending(ctx context.Context, f storage.Folder, id string, files []string) error {
	return writeJournal(ctx, f, PendingName(id), journal{Snapshot: id, Files: files})
}

func readJournal(ctx context.Context, f storage.Folder, name, id string, kind Kind) (journal, error) {
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
		// A backup's journal only ever claims files of its own snapshot
		// (a file it shares is not its to remove); a removal's may also
		// claim files of earlier snapshots that only it still named.
		k, fid := Classify(n)
		switch {
		case k == KindManifest && fid == id:
		case k == KindParquet && fid == id:
		case k == KindParquet && kind == KindRemoving && fid != "" && fid < id:
		default:
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
// temporaries, are ever removed, and of those only the ones no remaining
// manifest (nor another journal) names, checked against the manifests
// as they are now: an incremental snapshot may share a file with the one
// being removed. A removal that would delete a file an unreadable
// manifest or journal may name keeps that file and its journal, and says
// so in Skipped; it finishes once the unreadable one is repaired or
// removed. The caller holds the exclusive lock.
func Recover(ctx context.Context, f storage.Folder, now time.Time) (Cleanup, error) {
	var c Cleanup
	entries, err := f.List(ctx)
	if err != nil {
		return c, err
	}
	present := map[string]bool{}
	hasJournal := false
	for _, e := range entries {
		present[e.Name] = true
		if k, _ := Classify(e.Name); k == KindPending || k == KindRemoving {
			hasJournal = true
		}
	}
	var refs *Refs
	if hasJournal {
		// What every manifest and journal names now; read only when
		// there is something to finish.
		snaps, err := Scan(ctx, f)
		if err != nil {
			return c, err
		}
		refs = LoadRefs(ctx, f, snaps, entries)
	}
	recovered := map[string]bool{}
	for _, e := range entries {
		kind, id := Classify(e.Name)
		switch kind {
		case KindPending:
			j, err := readJournal(ctx, f, e.Name, id, kind)
			if err != nil {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: %v", e.Name, err))
				slog.Warn("ignoring unusable journal", "journal", e.Name, "err", err)
				continue
			}
			if !present[ManifestName(id)] {
				for _, n := range j.Files {
					if !present[n] {
						continue
					}
					// A backup journals only the files it writes; one a
					// manifest names anyway is kept, whatever the journal
					// says.
					if refs.Named(n, id, e.Name) {
						slog.Warn("keeping a file a backup journal lists, as a manifest names it", "journal", e.Name, "file", n)
						continue
					}
					if err := f.Remove(ctx, n); err != nil {
						return c, fmt.Errorf("remove %s: %w", n, err)
					}
					c.Removed = append(c.Removed, n)
				}
			}
			recovered[id] = true
			if err := f.Sync(ctx); err != nil {
				return c, err
			}
			if err := f.Remove(ctx, e.Name); err != nil {
				return c, err
			}
			refs.dropJournal(e.Name)
			c.Removed = append(c.Removed, e.Name)
		case KindRemoving:
			j, err := readJournal(ctx, f, e.Name, id, kind)
			if err != nil {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: %v", e.Name, err))
				slog.Warn("ignoring unusable journal", "journal", e.Name, "err", err)
				continue
			}
			removed, kept, err := finishRemoval(ctx, f, id, j.Files, present, refs, e.Name)
			c.Removed = append(c.Removed, removed...)
			if err != nil {
				return c, err
			}
			refs.DropManifest(id)
			recovered[id] = true
			if len(kept) > 0 {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: kept %s; the removal finishes once that is repaired or removed", e.Name, strings.Join(kept, ", ")))
				slog.Warn("removal left unfinished", "journal", e.Name, "kept", kept)
				continue
			}
			if err := f.Remove(ctx, e.Name); err != nil {
				return c, err
			}
			refs.dropJournal(e.Name)
			c.Removed = append(c.Removed, e.Name)
		}
	}
	for _, e := range entries {
		kind, id := Classify(e.Name)
		if kind != KindTemp {
			continue
		}
		// A ledger's temporary is written and published under the lock
		// (shared or exclusive), a journal's under the exclusive one:
		// under the exclusive lock the caller holds, one that exists is a
		// dead process's.
		if (id != "" && recovered[id]) || now.Sub(e.ModTime) > TempMaxAge ||
			strings.HasPrefix(e.Name, ledgerTempPrefix) || strings.HasPrefix(e.Name, journalTempPrefix) {
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
// manifest ever points at missing files), then its files. With refs (a
// journal being finished after a crash), each file is checked again
// against what the folder names now: one a remaining manifest or another
// journal names stays, and one something unreadable may name stays and
// is returned in kept, with why.
func finishRemoval(ctx context.Context, f storage.Folder, id string, files []string, present map[string]bool, refs *Refs, journalName string) (removed, kept []string, err error) {
	mf := ManifestName(id)
	if present == nil || present[mf] {
		if err := f.Remove(ctx, mf); err != nil {
			return removed, nil, fmt.Errorf("remove %s: %w", mf, err)
		}
		removed = append(removed, mf)
		if err := f.Sync(ctx); err != nil {
			return removed, nil, err
		}
	}
	for _, n := range files {
		if n == mf || (present != nil && !present[n]) {
			continue
		}
		if refs != nil {
			if refs.Named(n, id, journalName) {
				slog.Info("keeping a file another snapshot names", "file", n, "removing", id)
				continue
			}
			if why := refs.Uncertain(n); why != "" {
				kept = append(kept, n+" ("+why+")")
				continue
			}
		}
		if err := f.Remove(ctx, n); err != nil {
			return removed, kept, fmt.Errorf("remove %s: %w", n, err)
		}
		removed = append(removed, n)
	}
	return removed, kept, f.Sync(ctx)
}

// CheckRemovable makes the name checks Remove makes before it touches
// anything: s has a readable manifest, and every file it names is a plain
// Parquet name of s or, for a table held in parts (format 2), of an
// earlier snapshot.
func CheckRemovable(s Info) error {
	if s.Manifest == nil {
		return fmt.Errorf("snapshot %s has no readable manifest; statsnap removes only snapshots it can account for", s.ID)
	}
	for _, key := range s.Manifest.Keys() {
		t := s.Manifest.Tables[key]
		for _, p := range t.DataFiles() {
			if err := storage.CheckName(p.File); err != nil {
				return fmt.Errorf("table %q: %w", key, err)
			}
			k, fid := Classify(p.File)
			if k != KindParquet || fid > s.ID || (len(t.Files) == 0 && fid != s.ID) {
				return fmt.Errorf("table %q names %q, which is not a file of snapshot %s", key, p.File, s.ID)
			}
		}
	}
	return nil
}

// Remove deletes a complete or legacy snapshot in SPEC's order: validate
// every name, write and sync a removal journal listing the files to
// delete, delete the manifest and sync, delete the files, delete the
// journal. The files to delete are those of its manifest that no other
// manifest and no journal names (refs; nil: read from the folder now);
// refs then forgets the snapshot, so that the next removal of the same
// prune sees the folder as it is. The caller holds the exclusive lock.
func Remove(ctx context.Context, f storage.Folder, s Info, refs *Refs) ([]string, error) {
	if err := CheckRemovable(s); err != nil {
		return nil, fmt.Errorf("refusing to remove snapshot %s: %w", s.ID, err)
	}
	if refs == nil {
		entries, err := f.List(ctx)
		if err != nil {
			return nil, err
		}
		snaps, err := Scan(ctx, f)
		if err != nil {
			return nil, err
		}
		refs = LoadRefs(ctx, f, snaps, entries)
	}
	rel := refs.Release(s)
	if rel.Blocked != nil {
		return nil, fmt.Errorf("refusing to remove snapshot %s: %w", s.ID, rel.Blocked)
	}
	files := append(append([]string{}, rel.Delete...), ManifestName(s.ID))
	jn := RemovingName(s.ID)
	if err := writeJournal(ctx, f, jn, journal{Snapshot: s.ID, Files: files}); err != nil {
		return nil, err
	}
	removed, _, err := finishRemoval(ctx, f, s.ID, files, nil, nil, jn)
	if err != nil {
		return removed, err
	}
	refs.DropManifest(s.ID)
	if err := f.Remove(ctx, jn); err != nil {
		return removed, err
	}
	return removed, f.Sync(ctx)
}
