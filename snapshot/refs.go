package snapshot

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/openspartan/statsnap/internal/storage"
)

// Refs is what the manifests and journals of a folder name: with
// incremental snapshots a Parquet file may be named by several manifests,
// and it is deleted only when none that remains, and no journal, names it.
//
// A manifest that fails to parse but is well-formed JSON of a known
// format is taken to name every Parquet name its bytes hold. What any
// other unreadable manifest or journal names cannot be known, only
// bounded: a manifest of snapshot X names files of X or of earlier
// snapshots (ParseManifest refuses any other), a journal of X only files
// of X (or earlier, for a removal). Refs keeps those bounds, and a file
// within one is never deleted: see Uncertain.
type Refs struct {
	// manifests maps a file to the ids of the readable manifests naming it.
	manifests map[string]map[string]bool
	// journals maps a file to the journals (by file name) listing it.
	journals map[string]map[string]bool
	// corrupt are the ids of manifests that cannot be read, and of
	// removal journals that cannot be read, sorted: either may name files
	// of its id or an earlier one. bounds names each.
	corrupt []string
	bounds  map[string]string
	// badPending maps the id of a backup journal that cannot be read to
	// its name: it may list files of that id only.
	badPending map[string]string
}

// NewRefs records what the readable manifests of snaps name and which
// manifests cannot be read. Journals are added with AddJournals.
func NewRefs(snaps []Info) *Refs {
	r := &Refs{manifests: map[string]map[string]bool{}, journals: map[string]map[string]bool{},
		bounds: map[string]string{}, badPending: map[string]string{}}
	for _, s := range snaps {
		switch {
		case s.Manifest != nil:
			r.AddManifest(s.ID, s.Manifest.Manifest)
		case s.ManifestErr != nil && s.Claims != nil:
			// Well-formed JSON the parser refused: what it names is
			// known, and kept, even if the names themselves are bad.
			r.addClaims(s.ID, s.Claims)
		case s.ManifestErr != nil:
			r.addBound(s.ID, "the unreadable manifest "+ManifestName(s.ID))
		}
	}
	return r
}

func (r *Refs) addBound(id, what string) {
	if _, ok := r.bounds[id]; !ok {
		r.corrupt = append(r.corrupt, id)
		sort.Strings(r.corrupt)
	}
	r.bounds[id] = what
}

// LoadRefs is NewRefs plus every journal in entries (the folder's listing).
func LoadRefs(ctx context.Context, f storage.Folder, snaps []Info, entries []storage.Entry) *Refs {
	r := NewRefs(snaps)
	r.AddJournals(ctx, f, entries, "")
	return r
}

// AddManifest records the files manifest id names.
func (r *Refs) AddManifest(id string, m *Manifest) {
	for _, name := range m.FileNames() {
		if r.manifests[name] == nil {
			r.manifests[name] = map[string]bool{}
		}
		r.manifests[name][id] = true
	}
}

// addClaims records the names an unusable manifest id holds, as if a
// readable one named them.
func (r *Refs) addClaims(id string, names []string) {
	for _, name := range names {
		if r.manifests[name] == nil {
			r.manifests[name] = map[string]bool{}
		}
		r.manifests[name][id] = true
	}
}

// DropManifest forgets manifest id, removed (or about to be).
func (r *Refs) DropManifest(id string) {
	if r == nil {
		return
	}
	for name, ids := range r.manifests {
		if ids[id] {
			delete(ids, id)
			if len(ids) == 0 {
				delete(r.manifests, name)
			}
		}
	}
}

// AddJournals reads the journals in entries, except the one called
// except, and records what they list; one that cannot be read is kept as
// a bound on what it may list.
func (r *Refs) AddJournals(ctx context.Context, f storage.Folder, entries []storage.Entry, except string) {
	for _, e := range entries {
		kind, id := Classify(e.Name)
		if (kind != KindPending && kind != KindRemoving) || e.Name == except {
			continue
		}
		j, err := readJournal(ctx, f, e.Name, id, kind)
		if err != nil {
			if kind == KindRemoving {
				r.addBound(id, "the unreadable journal "+e.Name)
			} else {
				r.badPending[id] = e.Name
			}
			continue
		}
		r.addJournal(e.Name, j.Files)
	}
}

func (r *Refs) addJournal(name string, files []string) {
	for _, n := range files {
		if r.journals[n] == nil {
			r.journals[n] = map[string]bool{}
		}
		r.journals[n][name] = true
	}
}

// dropJournal forgets the journal called name.
func (r *Refs) dropJournal(name string) {
	if r == nil {
		return
	}
	for n, js := range r.journals {
		delete(js, name)
		if len(js) == 0 {
			delete(r.journals, n)
		}
	}
}

// Named reports whether a readable manifest other than except's names
// file, or a journal other than the one called exceptJournal lists it.
func (r *Refs) Named(file, except, exceptJournal string) bool {
	if r == nil {
		return false
	}
	for id := range r.manifests[file] {
		if id != except {
			return true
		}
	}
	for j := range r.journals[file] {
		if j != exceptJournal {
			return true
		}
	}
	return false
}

// NamedBy returns the ids of the readable manifests naming file, sorted.
func (r *Refs) NamedBy(file string) []string {
	var ids []string
	for id := range r.manifests[file] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Uncertain returns why file may be named by something that cannot be
// read, or "": an unreadable manifest or removal journal of a snapshot at
// or after the id the file carries, or an unreadable backup journal of
// that id. Such a file is never deleted.
func (r *Refs) Uncertain(file string) string {
	_, fid := Classify(file)
	if r == nil || fid == "" {
		return ""
	}
	if i := sort.SearchStrings(r.corrupt, fid); i < len(r.corrupt) {
		return r.bounds[r.corrupt[i]] + " may name it"
	}
	if name, ok := r.badPending[fid]; ok {
		return "the unreadable journal " + name + " may list it"
	}
	return ""
}

// Release is what removing one snapshot frees and keeps.
type Release struct {
	// Delete lists the data files no remaining manifest or journal names,
	// in the manifest's order: the removal deletes them, then its manifest.
	Delete []string
	// Shared lists the files another manifest (or a journal) still names:
	// they stay.
	Shared []string
	// Blocked says why the removal must not run: a file it would delete
	// may be named by a manifest or journal that cannot be read.
	Blocked error
}

// Release computes what removing snapshot s (whose manifest is readable)
// frees, given what the rest of the folder names.
func (r *Refs) Release(s Info) Release {
	var rel Release
	if s.Manifest == nil {
		rel.Blocked = fmt.Errorf("snapshot %s has no readable manifest", s.ID)
		return rel
	}
	var uncertain []string
	for _, name := range s.Manifest.FileNames() {
		if r.Named(name, s.ID, RemovingName(s.ID)) {
			rel.Shared = append(rel.Shared, name)
			continue
		}
		if why := r.Uncertain(name); why != "" {
			uncertain = append(uncertain, name+" ("+why+")")
			continue
		}
		rel.Delete = append(rel.Delete, name)
	}
	if len(uncertain) > 0 {
		rel.Blocked = fmt.Errorf("it would delete %s, which something unreadable may still need; repair or remove that first", strings.Join(uncertain, ", "))
	}
	return rel
}

// NamedFiles returns every file the readable manifests of snaps name,
// and the names the manifests their parser refused hold (Info.Claims).
func NamedFiles(snaps []Info) map[string]bool {
	named := map[string]bool{}
	for _, s := range snaps {
		for _, name := range s.Claims {
			named[name] = true
		}
		if s.Manifest == nil {
			continue
		}
		for _, name := range s.Manifest.FileNames() {
			named[name] = true
		}
	}
	return named
}

// Clone returns a copy of r that can be changed apart from it (a plan
// simulating removals).
func (r *Refs) Clone() *Refs {
	c := &Refs{manifests: map[string]map[string]bool{}, journals: map[string]map[string]bool{},
		corrupt: append([]string(nil), r.corrupt...), bounds: map[string]string{}, badPending: map[string]string{}}
	for name, ids := range r.manifests {
		c.manifests[name] = map[string]bool{}
		for id := range ids {
			c.manifests[name][id] = true
		}
	}
	for name, js := range r.journals {
		c.journals[name] = map[string]bool{}
		for j := range js {
			c.journals[name][j] = true
		}
	}
	for k, v := range r.bounds {
		c.bounds[k] = v
	}
	for k, v := range r.badPending {
		c.badPending[k] = v
	}
	return c
}
