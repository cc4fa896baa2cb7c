package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// TestConcurrentVerifiesKeepEachOthersRecords: two statsnap processes
// verify different snapshots of one folder at once, as verify's shared
// lock allows, on a local folder and on MinIO. Each read the ledger at
// its start and saves at its end, so whichever saves second saves over
// a ledger changed since it read it: its compare-and-swap is refused,
// and it merges with the first's records. Both snapshots' records must
// be in the ledger afterwards; a plain replace would keep only the
// second's.
func TestConcurrentVerifiesKeepEachOthersRecords(t *testing.T) {
	for _, where := range []string{"local", "minio"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			samplePlayer(t, dir, "Alice", 40)
			var env []string
			var out []string
			loc := filepath.Join(dir, "data", "backups", "Alice")
			if where != "local" {
				s := newStore(t, where)
				s.srv.Setenv(t) // for this process's own look at the ledger
				env, out, loc = s.env, []string{"--output", s.root}, s.folder("Alice")
			}
			var ids []string
			for _, ts := range []string{"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z"} {
				args := append([]string{"backup", "--full", "--gamertag", "Alice", "--time", ts, "--json"}, out...)
				r := cliEnv(t, dir, env, args...)
				if r.Code != 0 {
					t.Fatalf("backup: exit %d: %s", r.Code, r.Stderr)
				}
				var doc backupJSONDoc
				jsonOut(t, r, &doc)
				ids = append(ids, doc.Snapshots[0].Snapshot)
			}
			ctx := context.Background()
			f, err := storage.OpenFolder(ctx, loc, false)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			conflicts := 0
			for round := range 3 {
				// Each round starts with no ledger (the backups wrote
				// one), so that only the verifies' saves can put the
				// snapshots' records in it.
				if err := f.Remove(ctx, snapshot.LedgerName); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				res := make([]result, len(ids))
				for i, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res[i] = binCLI(t, dir, env, "verify", "--verbose", "--backup", loc, "--snapshot", id)
					}()
				}
				wg.Wait()
				for i, r := range res {
					if r.Code != 0 {
						t.Fatalf("round %d: verify --snapshot %s: exit %d\n%s%s", round, ids[i], r.Code, r.Stdout, r.Stderr)
					}
					if strings.Contains(r.Stderr, "could not update the verification ledger") {
						t.Fatalf("round %d: verify --snapshot %s: %s", round, ids[i], r.Stderr)
					}
					conflicts += strings.Count(r.Stderr, "merging again")
				}
				l, err := snapshot.LoadLedger(ctx, f, snapshot.FolderName(loc), nil)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				for _, id := range ids {
					if c, ok := l.Snapshots[id]; !ok || !c.OK {
						t.Errorf("round %d: the ledger lost the verify of %s: %v", round, id, l.Snapshots)
					}
				}
			}
			// How often the two saves met depends on timing; the records
			// must survive either way.
			t.Logf("%d saves found the ledger changed and merged again", conflicts)
		})
	}
}
