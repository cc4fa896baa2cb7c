package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
)

var ledgerNow = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

// ledgerWritten is when the sample ledger's files were last written.
var ledgerWritten = ledgerNow.Add(-2 * time.Hour)

func hashOf(c byte) string { return strings.Repeat(string(c), 64) }

func ledgerTable(c byte, size int64) *Table { return &Table{BLAKE3: hashOf(c), FileSizeBytes: size} }

// sampleLedger records two files: one that passed a hash check an hour
// ago, one that failed.
func sampleLedger() *Ledger {
	l := NewLedger("Chocoboflor")
	l.Record("match_stats_20260201_100000.parquet", ledgerTable('a', 100), ledgerWritten, ledgerNow.Add(-time.Hour), DepthHash, "")
	l.Record("medals_20260201_100000.parquet", ledgerTable('b', 50), ledgerWritten, ledgerNow.Add(-time.Hour), DepthDeep, "hash_mismatch")
	l.RecordSnapshot("20260201_100000", ledgerNow.Add(-time.Hour), DepthHash, []string{"hash_mismatch"})
	l.RecordManifest(ManifestName("20260201_100000"), hashOf('d'), 500, ledgerWritten, ledgerNow.Add(-time.Hour), false)
	return l
}

func ledgerFolder(t *testing.T, name string) (*local.Folder, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	f, err := local.OpenFolder(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestLedgerRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, key := range [][]byte{nil, bytes.Repeat([]byte{7}, KeySize)} {
		f, _ := ledgerFolder(t, "Chocoboflor")
		l := sampleLedger()
		if err := l.Save(ctx, f, key, ledgerNow); err != nil {
			t.Fatal(err)
		}
		// Saving again replaces the ledger (Publish alone never replaces).
		l.Record("x_20260201_100000.parquet", ledgerTable('c', 1), ledgerWritten, ledgerNow, DepthFooters, "")
		if err := l.Save(ctx, f, key, ledgerNow); err != nil {
			t.Fatalf("second save: %v", err)
		}
		got, err := LoadLedger(ctx, f, "Chocoboflor", key)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Files) != 3 || len(got.Snapshots) != 1 {
			t.Fatalf("loaded %d files, %d snapshots; want 3, 1", len(got.Files), len(got.Snapshots))
		}
		c := got.Files["medals_20260201_100000.parquet"]
		if c.OK || c.Problem != "hash_mismatch" || c.Depth != DepthDeep || c.BLAKE3 != hashOf('b') || !c.Checked.Equal(ledgerNow.Add(-time.Hour)) {
			t.Fatalf("record changed in the round trip: %+v", c)
		}
		if (key != nil) != (got.MAC != "") {
			t.Fatalf("MAC %q with key %v", got.MAC, key != nil)
		}
		entries, err := f.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name != LedgerName {
				t.Fatalf("save left %s behind", e.Name)
			}
		}
	}
}

// TestLedgerUntrusted: every way a stored ledger can be wrong makes it
// ignored as a whole, with ErrLedgerUntrusted.
func TestLedgerUntrusted(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, KeySize)
	other := bytes.Repeat([]byte{8}, KeySize)
	good := func(t *testing.T, k []byte) []byte {
		raw, err := MarshalLedger(sampleLedger(), k)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	tests := []struct {
		name   string
		raw    func(t *testing.T) []byte
		key    []byte
		folder string
	}{
		{"edited result", func(t *testing.T) []byte {
			return bytes.Replace(good(t, nil), []byte(`"ok":false`), []byte(`"ok":true`), 1)
		}, nil, ""},
		{"edited time", func(t *testing.T) []byte {
			return bytes.Replace(good(t, nil), []byte("2026-02-01T11"), []byte("2026-02-01T12"), 1)
		}, nil, ""},
		{"truncated", func(t *testing.T) []byte { r := good(t, nil); return r[:len(r)/2] }, nil, ""},
		{"empty", func(t *testing.T) []byte { return nil }, nil, ""},
		{"checksum removed", func(t *testing.T) []byte {
			l := sampleLedger()
			raw, _ := MarshalLedger(l, nil)
			return bytes.Replace(raw, []byte(`"ledger_checksum":"`+l.Checksum+`"`), []byte(`"x":1`), 1)
		}, nil, ""},
		{"another player's folder", func(t *testing.T) []byte { return good(t, nil) }, nil, "JGtm"},
		{"no MAC when a key is given", func(t *testing.T) []byte { return good(t, nil) }, key, ""},
		{"MAC of another key", func(t *testing.T) []byte { return good(t, other) }, key, ""},
		{"manifest MAC reused", func(t *testing.T) []byte {
			// A forger who has a manifest MAC'd with the key must not be
			// able to present the same MAC over ledger bytes.
			l := sampleLedger()
			raw, _ := MarshalLedger(l, nil)
			canon, _ := canonicalWithout(raw, "ledger_checksum", "ledger_mac")
			mac, _ := MAC(key, canon)
			return bytes.Replace(raw, []byte(`"ledger_checksum"`), []byte(`"ledger_mac":"`+mac+`","ledger_checksum"`), 1)
		}, key, ""},
		{"duplicate key", func(t *testing.T) []byte {
			return bytes.Replace(good(t, nil), []byte(`{"ledger_format":1,`), []byte(`{"ledger_format":1,"ledger_format":1,`), 1)
		}, nil, ""},
		{"too deep", func(t *testing.T) []byte {
			return []byte(`{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`)
		}, nil, ""},
		{"unsafe file name", func(t *testing.T) []byte {
			return bytes.Replace(good(t, nil), []byte(`"match_stats_20260201_100000.parquet"`), []byte(`"../x_20260201_100000.parquet"`), 1)
		}, nil, ""},
		{"format 2", func(t *testing.T) []byte {
			return bytes.Replace(good(t, nil), []byte(`"ledger_format":1`), []byte(`"ledger_format":2`), 1)
		}, nil, ""},
		{"oversized", func(t *testing.T) []byte { return bytes.Repeat([]byte(" "), MaxLedgerSize+1) }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, dir := ledgerFolder(t, "Chocoboflor")
			if err := os.WriteFile(filepath.Join(dir, LedgerName), tt.raw(t), 0o644); err != nil {
				t.Fatal(err)
			}
			folder := "Chocoboflor"
			if tt.folder != "" {
				// The ledger is bound to Chocoboflor; read it as JGtm's.
				folder = tt.folder
			}
			l, err := LoadLedger(ctx, f, folder, tt.key)
			if !errors.Is(err, ErrLedgerUntrusted) || l != nil {
				t.Fatalf("LoadLedger = %v, %v; want ErrLedgerUntrusted", l, err)
			}
		})
	}
	// The unedited ledger loads, so every case above failed for its reason.
	f, dir := ledgerFolder(t, "Chocoboflor")
	os.WriteFile(filepath.Join(dir, LedgerName), good(t, key), 0o644)
	if _, err := LoadLedger(ctx, f, "Chocoboflor", key); err != nil {
		t.Fatalf("good ledger refused: %v", err)
	}
	if _, err := LoadLedger(ctx, f, "Chocoboflor", nil); err != nil {
		t.Fatalf("a MAC'd ledger read without a key must still pass its checksum: %v", err)
	}
	g, _ := ledgerFolder(t, "Empty")
	if _, err := LoadLedger(ctx, g, "Empty", nil); !errors.Is(err, ErrNoLedger) {
		t.Fatalf("missing ledger: %v, want ErrNoLedger", err)
	}
}

func TestLedgerVouch(t *testing.T) {
	l := sampleLedger()
	file := "match_stats_20260201_100000.parquet"

	entry := storage.Entry{Name: file, Size: 100, ModTime: ledgerWritten}
	tests := []struct {
		name   string
		file   string
		table  *Table
		entry  storage.Entry
		depth  Depth
		maxAge time.Duration
		now    time.Time
		want   bool
	}{
		{"recent hash check", file, ledgerTable('a', 100), entry, DepthHash, 2 * time.Hour, ledgerNow, true},
		{"footers asked, hash done", file, ledgerTable('a', 100), entry, DepthFooters, 2 * time.Hour, ledgerNow, true},
		{"deep asked, hash done", file, ledgerTable('a', 100), entry, DepthDeep, 2 * time.Hour, ledgerNow, false},
		{"too old", file, ledgerTable('a', 100), entry, DepthHash, 30 * time.Minute, ledgerNow, false},
		{"manifest hash differs", file, ledgerTable('z', 100), entry, DepthHash, 2 * time.Hour, ledgerNow, false},
		{"manifest size differs", file, ledgerTable('a', 101), entry, DepthHash, 2 * time.Hour, ledgerNow, false},
		{"file size changed", file, ledgerTable('a', 100), storage.Entry{Size: 99, ModTime: entry.ModTime}, DepthHash, 2 * time.Hour, ledgerNow, false},
		{"file modified after the check", file, ledgerTable('a', 100), storage.Entry{Size: 100, ModTime: ledgerNow}, DepthHash, 2 * time.Hour, ledgerNow, false},
		// A write within the file system's coarse clock tick of the check
		// can carry a time before it: only an equal time counts.
		{"file modified, stamped before the check", file, ledgerTable('a', 100), storage.Entry{Size: 100, ModTime: ledgerWritten.Add(time.Millisecond)}, DepthHash, 2 * time.Hour, ledgerNow, false},
		{"check far in the future", file, ledgerTable('a', 100), entry, DepthHash, 2 * time.Hour, ledgerNow.Add(-3 * time.Hour), false},
		{"failed check", "medals_20260201_100000.parquet", ledgerTable('b', 50), storage.Entry{Size: 50}, DepthFooters, 2 * time.Hour, ledgerNow, false},
		{"no record", "other_20260201_100000.parquet", ledgerTable('a', 100), entry, DepthFooters, 2 * time.Hour, ledgerNow, false},
		{"legacy table (no hash)", file, &Table{FileSizeBytes: 100}, entry, DepthFooters, 2 * time.Hour, ledgerNow, false},
	}
	for _, tt := range tests {
		if _, got := l.Vouch(tt.file, tt.table, tt.entry, tt.depth, tt.maxAge, tt.now); got != tt.want {
			t.Errorf("%s: Vouch = %v, want %v", tt.name, got, tt.want)
		}
	}
	var nilLedger *Ledger
	if _, ok := nilLedger.Vouch(file, ledgerTable('a', 100), entry, DepthHash, time.Hour, ledgerNow); ok {
		t.Error("a nil ledger vouched")
	}
}

func TestLedgerConsistentAndForget(t *testing.T) {
	l := sampleLedger()
	snap := func(hash byte) Info {
		return Info{ID: "20260201_100000", Manifest: &Parsed{Manifest: &Manifest{FormatVersion: FormatVersion, Tables: map[string]*Table{
			"match_stats": {File: "match_stats_20260201_100000.parquet", BLAKE3: hashOf(hash), FileSizeBytes: 100},
		}}}}
	}
	if err := l.Consistent([]Info{snap('a')}); err != nil {
		t.Fatalf("consistent ledger refused: %v", err)
	}
	if err := l.Consistent([]Info{snap('z')}); !errors.Is(err, ErrLedgerUntrusted) {
		t.Fatalf("a record with another hash than the manifest's: %v", err)
	}
	l.Forget([]Info{snap('a')})
	if got := l.LedgerFiles(); len(got) != 1 || got[0] != "match_stats_20260201_100000.parquet" {
		t.Fatalf("after Forget: %v", got)
	}
	l.Forget(nil)
	if len(l.Files) != 0 || len(l.Snapshots) != 0 {
		t.Fatalf("Forget(nil) kept %v %v", l.Files, l.Snapshots)
	}
}

func TestUpdateLedgerMergesAndReplacesUntrusted(t *testing.T) {
	ctx := context.Background()
	f, dir := ledgerFolder(t, "Chocoboflor")
	if err := sampleLedger().Save(ctx, f, nil, ledgerNow); err != nil {
		t.Fatal(err)
	}
	delta := NewLedger("Chocoboflor")
	delta.Record("medals_20260201_100000.parquet", ledgerTable('b', 50), ledgerWritten, ledgerNow, DepthHash, "")
	if err := UpdateLedger(ctx, f, nil, nil, delta, ledgerNow); err != nil {
		t.Fatal(err)
	}
	l, err := LoadLedger(ctx, f, "Chocoboflor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Files) != 2 || !l.Files["medals_20260201_100000.parquet"].OK {
		t.Fatalf("merge: %+v", l.Files)
	}
	// A damaged ledger is replaced by the new records alone.
	os.WriteFile(filepath.Join(dir, LedgerName), []byte("{garbage"), 0o644)
	if err := UpdateLedger(ctx, f, nil, nil, delta, ledgerNow); err != nil {
		t.Fatal(err)
	}
	if l, err = LoadLedger(ctx, f, "Chocoboflor", nil); err != nil || len(l.Files) != 1 {
		t.Fatalf("after replacing a damaged ledger: %v, %v", l, err)
	}
}

func TestFolderName(t *testing.T) {
	for in, want := range map[string]string{
		"data/backups/Chocoboflor":                       "Chocoboflor",
		"data/backups/Chocoboflor/":                      "Chocoboflor",
		"s3://bucket/prefix/JGtm?endpoint=x&region=y":    "JGtm",
		"gs://bucket/a/b/Chocobo Flör/":                  "Chocobo Flör",
		"/var/backups/players/" + strings.Repeat("x", 5): "xxxxx",
	} {
		if got := FolderName(in); got != want {
			t.Errorf("FolderName(%q) = %q, want %q", in, got, want)
		}
	}
	wd, _ := os.Getwd()
	if got := FolderName("."); got != filepath.Base(wd) {
		t.Errorf("FolderName(.) = %q, want %q", got, filepath.Base(wd))
	}
}

// TestUpdateLedgerWritesOnlyNews: a run that found nothing new (verify
// --max-age that read nothing) leaves the stored ledger as it is, and a
// folder never checked gets no ledger.
func TestUpdateLedgerWritesOnlyNews(t *testing.T) {
	ctx := context.Background()
	f, dir := ledgerFolder(t, "Chocoboflor")
	if err := UpdateLedger(ctx, f, nil, nil, NewLedger("Chocoboflor"), ledgerNow); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LedgerName)); !os.IsNotExist(err) {
		t.Fatalf("an empty update wrote a ledger: %v", err)
	}
	l := sampleLedger()
	if err := l.Save(ctx, f, nil, ledgerNow); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, LedgerName))
	same := NewLedger("Chocoboflor")
	same.Merge(l) // every record as stored: nothing new
	if err := UpdateLedger(ctx, f, nil, nil, same, ledgerNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, LedgerName))
	if !bytes.Equal(before, after) {
		t.Fatal("an update with nothing new rewrote the ledger")
	}
	newer := NewLedger("Chocoboflor")
	newer.Record("match_stats_20260201_100000.parquet", ledgerTable('a', 100), ledgerWritten, ledgerNow, DepthHash, "")
	if err := UpdateLedger(ctx, f, nil, nil, newer, ledgerNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after, _ = os.ReadFile(filepath.Join(dir, LedgerName)); bytes.Equal(before, after) {
		t.Fatal("a newer check was not written")
	}
}

func TestLedgerVouchManifest(t *testing.T) {
	l := NewLedger("Chocoboflor")
	name := ManifestName("20260201_100000")
	sum := hashOf('d')
	l.RecordManifest(name, sum, 500, ledgerWritten, ledgerNow.Add(-time.Hour), false)
	l.RecordManifest("not-a-manifest.json", sum, 500, ledgerWritten, ledgerNow, false)
	if len(l.Manifests) != 1 {
		t.Fatalf("recorded %v", l.Manifests)
	}
	e := storage.Entry{Name: name, Size: 500, ModTime: ledgerWritten}
	for _, c := range []struct {
		name   string
		sum    string
		e      storage.Entry
		keyed  bool
		maxAge time.Duration
		want   bool
	}{
		{"unchanged", sum, e, false, 2 * time.Hour, true},
		{"other checksum", hashOf('e'), e, false, 2 * time.Hour, false},
		{"no checksum", "", e, false, 2 * time.Hour, false},
		{"other size", sum, storage.Entry{Size: 501, ModTime: ledgerWritten}, false, 2 * time.Hour, false},
		{"other time", sum, storage.Entry{Size: 500, ModTime: ledgerNow}, false, 2 * time.Hour, false},
		{"too old", sum, e, false, 30 * time.Minute, false},
		{"keyed, MAC never checked", sum, e, true, 2 * time.Hour, false},
	} {
		if got := l.VouchManifest(name, c.sum, c.e, c.keyed, c.maxAge, ledgerNow); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	l.RecordManifest(name, sum, 500, ledgerWritten, ledgerNow.Add(-time.Hour), true)
	if !l.VouchManifest(name, sum, e, true, 2*time.Hour, ledgerNow) {
		t.Error("keyed check with its MAC not vouched for")
	}
	raw, err := MarshalLedger(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseLedger(raw, nil)
	if err != nil || !back.Manifests[name].MAC {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	l.Forget(nil)
	if len(l.Manifests) != 0 {
		t.Error("Forget kept a manifest record")
	}
}

// TestPrefetchLedgerAnswersAsTrustedLedger: the ledger read ahead of the
// manifests is judged as TrustedLedger judges it: none, a stored one, and
// one of another folder (ignored, with the reason); every call returns
// the first answer.
func TestPrefetchLedgerAnswersAsTrustedLedger(t *testing.T) {
	ctx := context.Background()
	f, dir := ledgerFolder(t, "Chocoboflor")
	check := func(what string) {
		t.Helper()
		want, wantErr := TrustedLedger(ctx, f, nil, nil)
		get := PrefetchLedger(ctx, f, nil)
		for i := 0; i < 2; i++ {
			got, err := get(nil)
			if (err == nil) != (wantErr == nil) || len(got.Files) != len(want.Files) || got.Folder != want.Folder {
				t.Fatalf("%s, call %d: %+v %v; TrustedLedger says %+v %v", what, i+1, got, err, want, wantErr)
			}
		}
	}
	check("no ledger")
	if err := sampleLedger().Save(ctx, f, nil, ledgerNow); err != nil {
		t.Fatal(err)
	}
	check("a stored ledger")
	other := sampleLedger()
	other.Folder = "someone else"
	os.Remove(filepath.Join(dir, LedgerName))
	if err := other.Save(ctx, f, nil, ledgerNow); err != nil {
		t.Fatal(err)
	}
	if _, err := PrefetchLedger(ctx, f, nil)(nil); !errors.Is(err, ErrLedgerUntrusted) {
		t.Fatalf("another folder's ledger: %v, want ErrLedgerUntrusted", err)
	}
	check("another folder's ledger")
}
