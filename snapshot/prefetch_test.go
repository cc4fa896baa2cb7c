package snapshot_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/snapshot"
)

// prefixFolder is a local folder that lists names by prefix, as an object
// store does, and counts the opens of each name. lie, when set, changes
// the sizes ListPrefix reports.
type prefixFolder struct {
	*local.Folder
	mu     sync.Mutex
	opens  map[string]int
	prefix int
	lie    func(storage.Entry) storage.Entry
}

func (p *prefixFolder) Open(ctx context.Context, name string) (storage.File, error) {
	p.mu.Lock()
	p.opens[name]++
	p.mu.Unlock()
	return p.Folder.Open(ctx, name)
}

func (p *prefixFolder) ListPrefix(ctx context.Context, prefix string) ([]storage.Entry, error) {
	es, err := p.Folder.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.Entry
	for _, e := range es {
		if strings.HasPrefix(e.Name, prefix) {
			if p.lie != nil {
				e = p.lie(e)
			}
			out = append(out, e)
		}
	}
	p.mu.Lock()
	p.prefix++
	p.mu.Unlock()
	return out, nil
}

// TestPrefetchedManifests: manifests read ahead of the listing give the
// scan a folder without them would, each manifest read once; one listed
// ahead at another size than the listing shows is read again, never
// taken from the read ahead.
func TestPrefetchedManifests(t *testing.T) {
	f, a, b, c := shared(t)
	ctx := context.Background()
	want := scan(t, f)
	run := func(lie func(storage.Entry) storage.Entry) (*prefixFolder, []snapshot.Info) {
		p := &prefixFolder{Folder: f, opens: map[string]int{}, lie: lie}
		pre := snapshot.PrefetchManifests(ctx, p)
		if pre == nil {
			t.Fatal("no read ahead for a folder that lists by prefix")
		}
		defer pre.Close()
		entries, err := p.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := snapshot.ScanPrefetched(ctx, p, entries, pre)
		if err != nil {
			t.Fatal(err)
		}
		return p, got
	}
	p, got := run(nil)
	if !reflect.DeepEqual(summary(got), summary(want)) {
		t.Errorf("scan with read ahead:\n%v\nwithout:\n%v", summary(got), summary(want))
	}
	if p.prefix != 1 {
		t.Errorf("%d prefix listings, want 1", p.prefix)
	}
	for _, id := range []string{a, b, c} {
		if n := p.opens[snapshot.ManifestName(id)]; n != 1 {
			t.Errorf("manifest of %s opened %d times, want 1", id, n)
		}
	}

	// B's manifest is listed ahead one byte shorter: what was read ahead
	// is not the manifest the listing shows, so the scan reads it again.
	stale := snapshot.ManifestName(b)
	p, got = run(func(e storage.Entry) storage.Entry {
		if e.Name == stale {
			e.Size--
		}
		return e
	})
	if !reflect.DeepEqual(summary(got), summary(want)) {
		t.Errorf("scan after a stale read ahead:\n%v\nwant:\n%v", summary(got), summary(want))
	}
	if n := p.opens[stale]; n != 2 {
		t.Errorf("the manifest listed ahead at another size was opened %d times, want 2 (ahead, then again)", n)
	}

	// A folder without prefix listings gets no read ahead.
	if pre := snapshot.PrefetchManifests(ctx, f); pre != nil {
		t.Error("a read ahead for a local folder")
	}
}

// TestPrefetchClosedEarly: a read ahead closed before any scan used it
// stops, and nothing of it runs after Close (verify closes it on every
// path out, before the folder closes).
func TestPrefetchClosedEarly(t *testing.T) {
	f, _, _, _ := shared(t)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		p := &prefixFolder{Folder: f, opens: map[string]int{}}
		pre := snapshot.PrefetchManifests(ctx, p)
		if i%2 == 0 {
			cancel()
		}
		pre.Close()
		p.mu.Lock()
		before := fmt.Sprint(p.opens)
		p.mu.Unlock()
		scan(t, f) // time for a straggler to show itself
		p.mu.Lock()
		after := fmt.Sprint(p.opens)
		p.mu.Unlock()
		if before != after {
			t.Fatalf("opens after Close: %s, then %s", before, after)
		}
		cancel()
	}
}

// summary is what a scan says of each snapshot.
func summary(snaps []snapshot.Info) []string {
	var out []string
	for _, s := range snaps {
		var files []string
		for _, e := range s.Files {
			files = append(files, fmt.Sprintf("%s:%d", e.Name, e.Size))
		}
		rows := int64(-1)
		if s.Manifest != nil {
			rows = s.Manifest.Rows()
		}
		out = append(out, fmt.Sprintf("%s %s rows=%d raw=%d err=%v files=%v", s.ID, s.Status, rows, s.ManifestRaw, s.ManifestErr, files))
	}
	return out
}
