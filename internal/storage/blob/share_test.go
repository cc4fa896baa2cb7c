package blob

import (
	"context"
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
	other, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	other.Path += "/other"
	a, b := serverRoot(t, ctx, loc), serverRoot(t, ctx, other.String())
	if a.bucket != b.bucket {
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
	_, open := buckets.m[b.store]
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
	for _, name := range []string{"a.parquet", ".statsnap-ledger.json"} {
		if err := f.WriteFile(ctx, name, []byte("short")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.List(ctx); err != nil {
			t.Fatal(err)
		}
		if got := readWhole(t, f, name); got != "short" {
			t.Fatalf("%s: read %q", name, got)
		}
		if err := f.Remove(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := f.WriteFile(ctx, name, []byte("a longer content")); err != nil {
			t.Fatal(err)
		}
		if got := readWhole(t, f, name); got != "a longer content" {
			t.Fatalf("%s written again after the listing: read %q", name, got)
		}
	}
}
