package blob_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/blob"
	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/storage/storagetest"
)

// TestConformance runs the storage suite against every server.
func TestConformance(t *testing.T) {
	for _, name := range blobtest.Names {
		t.Run(name, func(t *testing.T) {
			srv := blobtest.Get(t, name)
			srv.Setenv(t)
			storagetest.Run(t, func(t *testing.T) storagetest.Opener {
				loc := srv.URL(t)
				return func(t *testing.T) storage.Root {
					r, err := storage.Open(context.Background(), loc)
					if err != nil {
						t.Fatalf("open %s: %v", loc, err)
					}
					return r
				}
			}, storagetest.Options{})
		})
	}
}

// TestFileURLIsLocal: file:// is the local backend, never gocloud's
// fileblob, whose IfNotExist is a stat-then-rename that two processes
// can both pass. The local backend's publish is a hard link, which the
// kernel refuses when the name exists.
func TestFileURLIsLocal(t *testing.T) {
	dir := t.TempDir()
	r, err := storage.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if lr, ok := r.(*local.Root); !ok || lr.Dir != dir {
		t.Fatalf("file:// opened %T %v, want the local backend at %s", r, r, dir)
	}
	if _, err := storage.Open(context.Background(), "file://host/x"); !errors.Is(err, storage.ErrLocation) {
		t.Fatalf("file://host/x: %v, want ErrLocation", err)
	}
}

// TestCredentialsNeverInURL: a URL with user info is refused, and query
// values that could be secrets are redacted in every location shown.
func TestCredentialsNeverInURL(t *testing.T) {
	if _, err := storage.Open(context.Background(), "s3://AKIA:secret@bucket/x"); !errors.Is(err, storage.ErrLocation) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("user info in URL: %v", err)
	}
	got := storage.Redact("s3://b/p?endpoint=http://127.0.0.1:9000&access_key=AKIA&secret=shh")
	if strings.Contains(got, "AKIA") || strings.Contains(got, "shh") || !strings.Contains(got, "127.0.0.1") {
		t.Fatalf("Redact = %q", got)
	}
}

// TestJoinKeepsParameters: a player folder's location keeps the root's
// URL parameters, which Open needs (azblob's localemu once became
// REDACTED, and the URL could no longer be opened).
func TestJoinKeepsParameters(t *testing.T) {
	root := "azblob://c/p?domain=127.0.0.1:10000&localemu=true&protocol=http"
	got := storage.Join(root, "Alice")
	u, err := url.Parse(got)
	if err != nil || u.Path != "/p/Alice" || u.Query().Get("localemu") != "true" || u.Query().Get("domain") != "127.0.0.1:10000" {
		t.Fatalf("Join(%s, Alice) = %q", root, got)
	}
	// A parameter Redact does not know (gocloud's s3blob reads profile)
	// is kept too: the joined location is opened, not shown.
	root = "s3://b/p?region=us-east-1&profile=backups"
	if u, err := url.Parse(storage.Join(root, "Bob")); err != nil || u.Query().Get("profile") != "backups" {
		t.Fatalf("Join(%s, Bob) lost the profile: %v %v", root, u, err)
	}
}
