package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/testutil"
)

// storageVersionOf is the storage version DuckDB reports for a file.
func storageVersionOf(t *testing.T, path string) string {
	t.Helper()
	db := testutil.OpenDB(t, path, false)
	cat, err := catalog.ReadTables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return cat.StorageVersion
}

// TestRestoreStorageVersion: a new database keeps the source's storage
// version unless --storage-version chooses another (so that an older
// DuckDB can open it); an existing target keeps its own, and asking to
// change it is a usage error that changes nothing.
func TestRestoreStorageVersion(t *testing.T) {
	dir := t.TempDir()
	src := samplePlayer(t, dir, "V", 10)
	mustCLI(t, dir, "backup", "--gamertag", "V")
	folder := filepath.Join(dir, "data", "backups", "V")
	source := storageVersionOf(t, src)

	kept := filepath.Join(dir, "kept.duckdb")
	mustCLI(t, dir, "restore", "--db", kept, "--gamertag", "V", "--backup", folder)
	if got := storageVersionOf(t, kept); got != source {
		t.Errorf("default: restored at %q, the source is %q", got, source)
	}
	// (v0.10.0 and v1.0.0 write the same format, which DuckDB reports as v1.0.0+.)
	for _, v := range []string{"v1.2.0", "v1.4.0"} {
		p := filepath.Join(dir, v+".duckdb")
		mustCLI(t, dir, "restore", "--db", p, "--gamertag", "V", "--backup", folder, "--storage-version", v)
		if got := storageVersionOf(t, p); got != v && got != v+"+" {
			t.Errorf("--storage-version %s: restored at %q", v, got)
		}
		rsCompare(t, src, p, rsCmpOpts{})
	}

	before := testutil.FileBLAKE3(t, kept)
	if r := cli(t, dir, "restore", "--db", kept, "--gamertag", "V", "--backup", folder, "--storage-version", "v1.2.0"); r.Code != exitUsage {
		t.Errorf("--storage-version on an existing target: exit %d %s", r.Code, r.Stderr)
	}
	if testutil.FileBLAKE3(t, kept) != before {
		t.Error("the existing target changed")
	}
	for _, bad := range []string{"1.0", "latest", "v1.0"} {
		if r := cli(t, dir, "restore", "--db", filepath.Join(dir, "x.duckdb"), "--gamertag", "V", "--backup", folder, "--storage-version", bad); r.Code != exitUsage {
			t.Errorf("--storage-version %s: exit %d", bad, r.Code)
		}
	}
	if r := cli(t, dir, "restore", "--db", filepath.Join(dir, "y.duckdb"), "--gamertag", "V", "--backup", folder, "--storage-version", "v0.9.0"); r.Code != exitError {
		t.Errorf("--storage-version v0.9.0 (older than DuckDB writes): exit %d", r.Code)
	}
}
