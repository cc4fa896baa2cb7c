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
