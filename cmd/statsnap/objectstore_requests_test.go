package main

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
	"testing"

	gcblob "gocloud.dev/blob"

	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
)

// TestObjectStoreVerifyRequests pins the requests of a verify of one
// player folder on every server, through a counting proxy: one request
// per data file, and around them only what the lock, the listing, the
// manifest and the ledger need. README's "What differs underneath"
// describes this pattern; a request more (a HEAD before each read, a
// second listing) fails here.
func TestObjectStoreVerifyRequests(t *testing.T) {
	for _, server := range blobtest.Names {
		t.Run(server, func(t *testing.T) {
			srv, reqs := blobtest.Get(t, server).Counted(t)
			tmp := t.TempDir()
			s := store{srv: srv, root: srv.URL(t), env: append(append([]string{}, srv.Env...), "TMPDIR="+tmp)}
			dir := t.TempDir()
			// Enough matches for a file above the 1 MiB that a tap keeps
			// of a file's end, so that a decode without a copy would read
			// ranges of it.
			samplePlayer(t, dir, "Alice", 2000)
			s.must(t, dir, "backup", "--gamertag", "Alice", "--output", s.root)
			var v verifyJSON
			reqs.Take()
			jsonOut(t, s.must(t, dir, "verify", "--backup", s.folder("Alice"), "--json"), &v)
			got := classify(reqs.Take())
			if len(v.Snapshots) != 1 {
				t.Fatalf("verify: %+v", v)
			}
			files := len(v.Snapshots[0].Files)
			var largest int64
			for _, f := range v.Snapshots[0].Files {
				largest = max(largest, f.Size)
			}
			if largest <= 1<<20 {
				t.Fatalf("the largest file is %d bytes: the --deep check below needs one above 1 MiB", largest)
			}
			want := map[string]int{
				"list one key":        1, // the folder exists (before a lease is written in it)
				"PUT reader lease":    1,
				"GET writer lease":    1,
				"list":                1,
				"list manifests":      1, // while the folder is listed, so that their GETs start sooner
				"GET manifest":        1, // read once, while the folder is listed
				"GET ledger":          1, // read at the start; the save swaps it by version
				"GET data":            files,
				"PUT ledger":          1,
				"DELETE reader lease": 1,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("verify of %d files made\n%v\nwant\n%v", files, got, want)
			}
			// --deep decodes each file from the copy it streams into while
			// hashing, not by ranged reads: the same requests.
			reqs.Take()
			s.must(t, dir, "verify", "--deep", "--backup", s.folder("Alice"))
			if got := classify(reqs.Take()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("verify --deep of %d files made\n%v\nwant\n%v", files, got, want)
			}
		})
	}
}

// classify names each request by method and what it touches; probes of
// conditional writes (made once a day) are left out.
func classify(log []string) map[string]int {
	out := map[string]int{}
	for _, l := range log {
		method, uri, _ := strings.Cut(l, " ")
		u, err := url.Parse(uri)
		if err != nil {
			out["unparsed "+l]++
			continue
		}
		q := u.Query()
		if q.Has("list-type") || q.Get("comp") == "list" || (method == "GET" && strings.HasSuffix(u.Path, "/o")) {
			if q.Get("max-keys") == "1" || q.Get("maxResults") == "1" || q.Get("maxresults") == "1" {
				out["list one key"]++
			} else if strings.HasSuffix(q.Get("prefix"), "backup_metadata_") {
				out["list manifests"]++
			} else {
				out["list"]++
			}
			continue
		}
		key := u.Path
		if n := q.Get("name"); n != "" { // a GCS upload
			key = n
		}
		name := path.Base(key)
		if method == "POST" {
			method = "PUT"
		}
		var what string
		switch {
		case strings.HasPrefix(name, ".statsnap-probe-"):
			continue
		case strings.HasPrefix(name, ".statsnap.lock.r-"):
			what = "reader lease"
		case name == ".statsnap.lock":
			what = "writer lease"
		case name == ".statsnap-ledger.json":
			what = "ledger"
		case strings.HasPrefix(name, "backup_metadata_"):
			what = "manifest"
		case strings.HasSuffix(name, ".parquet"):
			what = "data"
		default:
			what = name
		}
		out[method+" "+what]++
	}
	return out
}

// TestObjectStoreVerifyRoot: verify --backup given a backup root in a
// bucket (not a player folder) verifies every player folder, as on disk.
// On an object store the root is told from a player folder by the
// listing taken under a reader's lease; that lease is gone afterwards.
func TestObjectStoreVerifyRoot(t *testing.T) {
	s := newStore(t, "minio")
	dir := t.TempDir()
	samplePlayer(t, dir, "Alice", 10)
	samplePlayer(t, dir, "Bob", 10)
	s.must(t, dir, "backup", "--all", "--output", s.root)
	var v verifyJSON
	jsonOut(t, s.must(t, dir, "verify", "--backup", s.root, "--json"), &v)
	if !v.OK || len(v.Players) != 2 || v.Players[0].Gamertag != "Alice" || v.Players[1].Gamertag != "Bob" || len(v.Snapshots) != 2 {
		t.Fatalf("verify of the root: %+v", v)
	}
	b, prefix := s.bucket(t)
	it := b.List(&gcblob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		if !o.IsDir {
			t.Errorf("the root holds %s after verify", o.Key)
		}
	}
	// A folder that does not exist is said so, and no lease is left in
	// (or made for) it.
	if r := s.run(t, dir, "verify", "--backup", s.folder("Nobody")); r.Code != exitError || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("verify of a missing folder: exit %d %s", r.Code, r.Stderr)
	}
	if objs, _, err := b.ListPage(context.Background(), gcblob.FirstPageToken, 1, &gcblob.ListOptions{Prefix: prefix + "Nobody/"}); err != nil || len(objs) != 0 {
		t.Errorf("the missing folder holds %v (%v)", objs, err)
	}
}
