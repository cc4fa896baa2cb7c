package blob

import (
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
)

// TestRootsShareABucket: two roots on one store share one client, and
// closing one leaves the other working; the last close closes it.
func TestRootsShareABucket(t *testing.T) {
	srv := blobtest.Get(t, "minio")
	srv.Setenv(t)
	ctx := context.Background()
	loc := srv.URL(t)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := OpenRoot(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	u2 := *u
	u2.Path += "/other"
	b, err := OpenRoot(ctx, &u2, "")
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := a.(*Root), b.(*Root)
	if ra.bucket != rb.bucket {
		t.Fatal("two roots on one store opened two clients")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // a second Close releases nothing more
		t.Fatal(err)
	}
	if _, err := b.Players(ctx); err != nil {
		t.Fatalf("the other root after the first closed: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	buckets.Lock()
	_, open := buckets.m[rb.store]
	buckets.Unlock()
	if open {
		t.Error("the bucket stayed open after its last root closed")
	}
}

// TestListedSizesFollowOwnWrites: Open takes a listed object's size from
// the last List, and this process's own removals and writes drop it, so
// a name written again after the listing is read whole.
func TestListedSizesFollowOwnWrites(t *testing.T) {
	srv := blobtest.Get(t, "minio")
	srv.Setenv(t)
	ctx := context.Background()
	f := folderOf(t, serverRoot(t, ctx, srv.URL(t)))
	read := func(name string) string {
		t.Helper()
		h, err := f.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		b, err := io.ReadAll(h)
		if err != nil {
			t.Fatal(err)
		}
		if h.Size() != int64(len(b)) {
			t.Fatalf("%s: Size %d, but %d bytes read", name, h.Size(), len(b))
		}
		return string(b)
	}
	for _, name := range []string{"a.parquet", ".statsnap-ledger.json"} {
		if err := f.WriteFile(ctx, name, []byte("short")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.List(ctx); err != nil {
			t.Fatal(err)
		}
		if got := read(name); got != "short" {
			t.Fatalf("%s: read %q", name, got)
		}
		if err := f.Remove(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := f.WriteFile(ctx, name, []byte("a longer content")); err != nil {
			t.Fatal(err)
		}
		if got := read(name); got != "a longer content" {
			t.Fatalf("%s written again after the listing: read %q", name, got)
		}
	}
}
