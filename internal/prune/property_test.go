package prune

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/retention"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// propertySource is a small real DuckDB database to back up.
func propertySource(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "stats.duckdb")
	db, err := dbfile.Open(context.Background(), src, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE match_stats AS SELECT range AS id, 'match ' || range AS name, range * 0.25 AS score FROM range(3000)`,
		`CREATE TABLE medals AS SELECT range AS id, range % 7 AS kind FROM range(800)`,
		`CREATE TABLE notes (id INTEGER, note VARCHAR)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return src
}

// verifyingSnapshots is the ground truth: the snapshots of f that pass a
// full verification now, reading every byte.
func verifyingSnapshots(t *testing.T, f storage.Folder) []string {
	t.Helper()
	snaps := scan(t, f)
	var out []string
	for _, s := range snaps {
		if s.Status != snapshot.StatusComplete {
			continue
		}
		if r := verify.Snapshot(context.Background(), f, s, nil, verify.Options{}); r.OK {
			out = append(out, s.ID)
		} else if r.Err != nil {
			t.Fatalf("verify %s: %v", s.ID, r.Err)
		}
	}
	return out
}

func randomPolicy(rng *rand.Rand) retention.Policy {
	var p retention.Policy
	for p.Empty() {
		if rng.Intn(2) == 0 {
			p.Last = 1 + rng.Intn(3)
		}
		if rng.Intn(3) == 0 {
			p.Daily = 1 + rng.Intn(3)
		}
		if rng.Intn(3) == 0 {
			p.Weekly = 1 + rng.Intn(2)
		}
		if rng.Intn(4) == 0 {
			p.Monthly = 1
		}
		if rng.Intn(4) == 0 {
			p.Within = retention.Duration{Days: 1 + rng.Intn(5)}
		}
	}
	return p
}

// TestPropertyPruneKeepsAVerifyingSnapshot runs random sequences of
// backups, corruptions of random files, budgeted verifies and prunes with
// random policies (with and without --remove-broken) on a real folder,
// and checks after every prune that a folder that held a snapshot that
// verifies still holds one, and that prune removed nothing when it found
// none that verifies.
//
// Half the sequences let prune trust ledger checks (31 days), half make
// it read everything (--verify-max-age 0). Damage that keeps a file's
// size and modification time (bit rot) is only done in the second half:
// a ledger is a record of past checks, and until a check reads the file
// it vouches for it, which README states as the ledger's limit.
func TestPropertyPruneKeepsAVerifyingSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("real backups; skipped with -short")
	}
	src := propertySource(t)
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewSource(seed))
			trust := seed%2 == 0
			dir := filepath.Join(t.TempDir(), "P")
			f, err := local.OpenFolder(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			fatal := func(format string, a ...any) {
				t.Helper()
				t.Fatalf("%s\nafter steps:\n  %s", fmt.Sprintf(format, a...), strings.Join(steps, "\n  "))
			}
			at := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
			prunes := 0
			for step := 0; step < 26 || prunes < 4; step++ {
				op := rng.Intn(10)
				if step == 0 {
					op = 0
				}
				switch {
				case op < 3:
					if _, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: "P", Folder: f,
						CompressionLevel: 1, Time: at}); err != nil {
						fatal("backup: %v", err)
					}
					steps = append(steps, "backup "+snapshot.FormatID(at))
					at = at.Add(time.Duration(1+rng.Intn(60)) * time.Hour)
				case op < 6:
					steps = append(steps, corruptRandomFile(t, dir, rng, !trust))
				case op < 8:
					steps = append(steps, budgetedVerify(t, f, rng))
				default:
					prunes++
					p := randomPolicy(rng)
					removeBroken := rng.Intn(2) == 0
					maxAge := time.Duration(0)
					if trust {
						maxAge = DefaultVerifyMaxAge
					}
					before := verifyingSnapshots(t, f)
					unlock, err := f.Lock(ctx, true, 0) // the caller's lock, as the CLI takes it
					if err != nil {
						fatal("lock: %v", err)
					}
					res, err := Run(ctx, f, Options{Policy: p, RemoveBroken: removeBroken, VerifyMaxAge: maxAge})
					unlock()
					steps = append(steps, fmt.Sprintf("prune %s remove-broken=%v: %v", Describe(p), removeBroken, err))
					if err != nil && !errors.Is(err, ErrNoneVerifies) {
						fatal("prune: %v", err)
					}
					after := verifyingSnapshots(t, f)
					if len(before) > 0 && len(after) == 0 {
						fatal("the folder held verifying snapshots %v; after prune it holds none", before)
					}
					if len(before) > 0 && res.NoneVerifies {
						fatal("prune found none verifying while %v verify", before)
					}
					if res.NoneVerifies && res.Removed() != 0 {
						fatal("prune found none verifying and still removed %d", res.Removed())
					}
					// The newest snapshot that verifies is never removed.
					if len(before) > 0 && !slices.Contains(after, before[len(before)-1]) {
						fatal("the newest verifying snapshot %s was removed (verifying before %v, after %v)", before[len(before)-1], before, after)
					}
				}
			}
		})
	}
}

// corruptRandomFile damages one random Parquet file of the folder: a
// flipped byte (the file's time moves on, as any write makes it), a
// truncation, a deletion, or with bitrot a flipped byte that keeps the
// file's size and time.
func corruptRandomFile(t *testing.T, dir string, rng *rand.Rand, bitrot bool) string {
	t.Helper()
	var files []string
	for _, n := range testutil.Names(t, dir) {
		if k, _ := snapshot.Classify(n); k == snapshot.KindParquet {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return "corrupt: no file"
	}
	name := files[rng.Intn(len(files))]
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	kinds := 3
	if bitrot {
		kinds = 4
	}
	switch rng.Intn(kinds) {
	case 0, 3:
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[rng.Intn(len(data))] ^= byte(1 + rng.Intn(255))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if bitrot {
			// Bit rot: the size and time stay.
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
			return "bit rot in " + name
		}
		// A later write: its time is later (set explicitly, since the file
		// system's clock is coarse).
		later := fi.ModTime().Add(time.Second)
		os.Chtimes(p, later, later)
		return "flip a byte of " + name
	case 1:
		if err := os.Truncate(p, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		return "truncate " + name
	default:
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		return "delete " + name
	}
}

// budgetedVerify reads a random share of the folder's data, least
// recently checked first, and records it in the ledger, as verify
// --budget does.
func budgetedVerify(t *testing.T, f storage.Folder, rng *rand.Rand) string {
	t.Helper()
	ctx := context.Background()
	unlock, err := f.Lock(ctx, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	snaps := scan(t, f)
	entries, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var targets []snapshot.Info
	var total int64
	for _, s := range snaps {
		if s.Status == snapshot.StatusComplete {
			targets = append(targets, s)
			for _, e := range s.Files {
				total += e.Size
			}
		}
	}
	ledger, _ := snapshot.TrustedLedger(ctx, f, nil, snaps)
	budget := max(1, total*int64(1+rng.Intn(4))/4)
	fr := verify.Folder(ctx, f, targets, entries, verify.FolderOptions{Ledger: ledger, Budget: verify.Budget{Bytes: budget}})
	if err := snapshot.UpdateLedger(ctx, f, nil, snaps, fr.Delta, time.Now()); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("verify --budget %d of %d bytes: read %d files", budget, total, fr.Coverage.ReadFiles)
}
