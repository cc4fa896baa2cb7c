// Package backuptest makes real snapshots for the tests of the packages
// that read them. It is apart from internal/testutil because it runs
// backups: testutil is imported by the tests of the packages backup itself
// uses, and would make an import cycle.
package backuptest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
)

// GrowingSnapshots makes n real, full snapshots of one database in the
// folder backups/{gamertag} of a new temporary directory, a day apart from
// first: table log grows by 10 rows each time (50 rows at first), table
// fixed (30 rows) never changes. Every file is the snapshot's own; tests
// share rows between them with ShareRows, as incremental backups would. It
// returns the folder, the ids oldest first, and the database's path.
func GrowingSnapshots(t testing.TB, gamertag string, first time.Time, n int) (*local.Folder, []string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	testutil.WriteDB(t, src,
		`CREATE TABLE log (n INTEGER, s VARCHAR)`,
		`INSERT INTO log SELECT range, 'row ' || range FROM range(50)`,
		`CREATE TABLE fixed AS SELECT range AS id, range * 0.5 AS score FROM range(30)`)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups", gamertag), true)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	for k := range n {
		if k > 0 {
			testutil.WriteDB(t, src, fmt.Sprintf(`INSERT INTO log SELECT range, 'row ' || range FROM range(%d, %d)`, 40+10*k, 50+10*k))
		}
		res, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: gamertag, Folder: folder, CompressionLevel: 3,
			Time: first.AddDate(0, 0, k), Full: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	return folder, ids, src
}
