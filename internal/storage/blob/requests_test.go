package blob

import (
	"context"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
)

// countedFolder is the folder "p" of a fresh root on the server name,
// reached through blobtest's counting proxy, with a cache of probes of
// its own (so that the first lock probes the store).
func countedFolder(t *testing.T, name string) (*Folder, *blobtest.Requests) {
	t.Helper()
	srv, reqs := blobtest.Get(t, name).Counted(t)
	srv.Setenv(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	return folderOf(t, serverRoot(t, context.Background(), srv.URL(t))), reqs
}

// wantRequests returns a check that the requests since the last Take
// number n, naming the operation op when they do not.
func wantRequests(t *testing.T, reqs *blobtest.Requests) func(op string, n int) {
	return func(op string, n int) {
		t.Helper()
		got := reqs.Take()
		t.Logf("%s: %q", op, got)
		if len(got) != n {
			t.Errorf("%s made %d requests, want %d: %q", op, len(got), n, got)
		}
	}
}

// TestRequestsPerOperation counts the requests of the operations a
// verify repeats, through a proxy in front of each server: reading
// statsnap's own small files, replacing the ledger, removing a file and
// taking and releasing a reader's lease. Each is one request (the lease,
// two: its own, then a look at the writer's), where gocloud alone makes
// two of a removal on S3 and a HEAD before every read.
func TestRequestsPerOperation(t *testing.T) {
	for _, name := range blobtest.Names {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f, reqs := countedFolder(t, name)
			// The first lock probes the store's conditional writes.
			unlock, err := f.Lock(ctx, false, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
			if err := f.WriteFile(ctx, ".statsnap-ledger.json", []byte("one")); err != nil {
				t.Fatal(err)
			}
			want := wantRequests(t, reqs)
			t.Logf("setup: %q", reqs.Take())
			if got := readWhole(t, f, ".statsnap-ledger.json"); got != "one" {
				t.Fatalf("read %q", got)
			}
			want("open and read a dot file", 1)
			if err := f.Replace(ctx, ".statsnap-ledger.json", []byte("two, longer")); err != nil {
				t.Fatal(err)
			}
			want("replace", 1)
			if got := readWhole(t, f, ".statsnap-ledger.json"); got != "two, longer" {
				t.Fatalf("after Replace, read %q", got)
			}
			reqs.Take()
			if err := f.Remove(ctx, ".statsnap-ledger.json"); err != nil {
				t.Fatal(err)
			}
			want("remove", 1)
			if err := f.Remove(ctx, ".statsnap-ledger.json"); err != nil {
				t.Fatalf("remove a missing file: %v", err)
			}
			want("remove a missing file", 1)
			unlock, err = f.Lock(ctx, false, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want("take a reader's lease", 2)
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
			want("release it", 1)
		})
	}
}
