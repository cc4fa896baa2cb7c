package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

func listing(t *testing.T, f storage.Folder) []storage.Entry {
	t.Helper()
	entries, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestFolderAgreesWithSnapshot: without a ledger or budget, Folder gives
// each snapshot the verdict Snapshot gives it, and records every file.
func TestFolderAgreesWithSnapshot(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	want := Snapshot(ctx, folder, s, nil, Options{})
	fr := Folder(ctx, folder, []snapshot.Info{s}, listing(t, folder), FolderOptions{})
	got := fr.Results[0]
	if got.OK != want.OK || len(got.Files) != len(want.Files) || kinds(got.Problems) != kinds(want.Problems) {
		t.Fatalf("Folder %+v, Snapshot %+v", got, want)
	}
	files := len(s.Manifest.FileNames())
	if len(fr.Delta.Files) != files || len(fr.Delta.Manifests) != 1 || !fr.Delta.Snapshots[s.ID].OK {
		t.Fatalf("delta: %d files, %d manifests, %+v", len(fr.Delta.Files), len(fr.Delta.Manifests), fr.Delta.Snapshots)
	}
	if fr.Coverage.ReadFiles != files || fr.Coverage.NeverFiles != 0 {
		t.Fatalf("coverage %+v", fr.Coverage)
	}
}

// TestFolderMaxAgeStillChecksAnEditedManifest: with a fresh ledger a
// verify --max-age reads nothing, but a manifest edited since (its time
// moves on) gets its checksum checked again, and fails.
func TestFolderMaxAgeStillChecksAnEditedManifest(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx := context.Background()
	now := time.Now()
	first := Folder(ctx, folder, []snapshot.Info{s}, listing(t, folder), FolderOptions{Now: now})
	opt := FolderOptions{Ledger: first.Delta, MaxAge: time.Hour, Now: now.Add(time.Minute)}
	again := Folder(ctx, folder, []snapshot.Info{s}, listing(t, folder), opt)
	if r := again.Results[0]; !r.OK || again.Coverage.ReadFiles != 0 || again.Coverage.LedgerFiles != len(s.Manifest.FileNames()) {
		t.Fatalf("fresh ledger: ok %v, coverage %+v", r.OK, again.Coverage)
	}
	// Edit a row count in the manifest, as a hand edit would.
	p := filepath.Join(folder.Dir, snapshot.ManifestName(s.ID))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(raw, []byte(`"rows": 10,`), []byte(`"rows": 11,`), 1)
	if bytes.Equal(edited, raw) {
		t.Fatal("no row count to edit")
	}
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p, later, later)
	s = scanOne(t, folder)
	r := Folder(ctx, folder, []snapshot.Info{s}, listing(t, folder), opt).Results[0]
	if r.OK || kinds(r.Problems) == "" {
		t.Fatalf("an edited manifest passed under --max-age: %+v", r)
	}
}
