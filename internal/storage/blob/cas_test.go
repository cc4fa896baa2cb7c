package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	gcblob "gocloud.dev/blob"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
)

// TestSwapProbeRefusesIgnoredIfMatch: on a store that accepts If-Match
// and ignores it, a compare-and-swap would be a plain write; the probe
// sees a replace at a wrong version pass and refuses the store with
// ErrUnsupported (the ledger then falls back to its plain replace),
// leaving nothing behind.
func TestSwapProbeRefusesIgnoredIfMatch(t *testing.T) {
	for _, name := range blobtest.Names {
		t.Run(name, func(t *testing.T) {
			srv := blobtest.Get(t, name)
			srv.Setenv(t)
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			ctx := context.Background()
			f := folderOf(t, serverRoot(t, ctx, srv.URL(t)))
			ignoreIfMatch.Store(true)
			defer ignoreIfMatch.Store(false)
			err := f.ReplaceIf(ctx, ".statsnap-ledger.json", []byte("x"), storage.Absent)
			if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "If-Match") {
				t.Fatalf("ReplaceIf on a store ignoring If-Match: %v, want ErrUnsupported naming If-Match", err)
			}
			if _, err := f.Open(ctx, ".statsnap-ledger.json"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("a refused store got the file: %v", err)
			}
			keys := listAll(t, f)
			if len(keys) != 0 {
				t.Fatalf("the probe left %q", keys)
			}
			// The same store, honest again, passes.
			ignoreIfMatch.Store(false)
			if err := f.ReplaceIf(ctx, ".statsnap-ledger.json", []byte("x"), storage.Absent); err != nil {
				t.Fatalf("ReplaceIf: %v", err)
			}
		})
	}
}

// listAll lists every key of the folder's prefix, hidden ones too.
func listAll(t *testing.T, f *Folder) []string {
	t.Helper()
	objs, _, err := f.root.bucket.ListPage(context.Background(), gcblob.FirstPageToken, 100, &gcblob.ListOptions{Prefix: f.prefix})
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// TestSwapRefusedWithoutVersions: a driver that names no version when
// it reads (gocloud's fileblob) is refused with ErrUnsupported, never
// taken for one that compares.
func TestSwapRefusedWithoutVersions(t *testing.T) {
	f := folderOf(t, fileRoot(t, t.TempDir(), 0))
	ctx := context.Background()
	err := f.ReplaceIf(ctx, ".statsnap-ledger.json", []byte("x"), storage.Absent)
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "version") {
		t.Fatalf("ReplaceIf on fileblob: %v, want ErrUnsupported", err)
	}
}

// TestSwapRequests: after the probe, a versioned read is one request, a
// compare-and-swap one, and a refused one one, on every server.
func TestSwapRequests(t *testing.T) {
	for _, name := range blobtest.Names {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f, reqs := countedFolder(t, name)
			const ledger = ".statsnap-ledger.json"
			if err := f.ReplaceIf(ctx, ledger, []byte("one"), storage.Absent); err != nil {
				t.Fatal(err)
			}
			t.Logf("probe and create: %q", reqs.Take())
			want := wantRequests(t, reqs)
			data, v, err := f.ReadVersion(ctx, ledger, 1<<20)
			if err != nil || string(data) != "one" {
				t.Fatalf("ReadVersion: %q %v", data, err)
			}
			want("versioned read", 1)
			if err := f.ReplaceIf(ctx, ledger, []byte("two"), v); err != nil {
				t.Fatal(err)
			}
			want("compare-and-swap", 1)
			if err := f.ReplaceIf(ctx, ledger, []byte("lost"), v); !errors.Is(err, storage.ErrChanged) {
				t.Fatalf("a stale swap: %v", err)
			}
			want("refused compare-and-swap", 1)
			if err := f.ReplaceIf(ctx, ledger, []byte("lost"), storage.Absent); !errors.Is(err, storage.ErrChanged) {
				t.Fatalf("a create over an existing file: %v", err)
			}
			want("refused create", 1)
		})
	}
}
