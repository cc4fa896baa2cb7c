// Package storagetest is the conformance suite every storage backend
// passes: the guarantees statsnap's commands rely on, checked the same
// way on a local folder, in memory and on each object store.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
)

// Opener opens a fresh handle on the same empty backup root each time it
// is called within one test: two handles stand for two processes (or
// machines) sharing the root. The suite closes what it opens.
type Opener func(t *testing.T) storage.Root

// Options adapts the suite to a backend.
type Options struct {
	// BigSize is the size of the large-file test (default 65 MiB, above
	// the 64 MiB that object stores upload in parts).
	BigSize int64
}

// Run runs the whole suite. newRoot is called once per subtest to make
// a fresh root, which the returned Opener then opens again.
func Run(t *testing.T, fresh func(t *testing.T) Opener, opt Options) {
	if opt.BigSize == 0 {
		opt.BigSize = 65 << 20
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener, opt Options)
	}{
		{"FoldersAndPlayers", testFolders},
		{"WriteListOpen", testWriteListOpen},
		{"RangedRead", testRangedRead},
		{"PublishIsAtomicAndNeverReplaces", testPublish},
		{"Remove", testRemove},
		{"Replace", testReplace},
		{"CompareAndSwap", testSwap},
		{"CompareAndSwapRace", testSwapRace},
		{"MissingObjects", testMissing},
		{"UnsafeNames", testUnsafeNames},
		{"NamesWithSpacesAndNonASCII", testNames},
		{"LockContention", testLock},
		{"BigFile", testBig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := fresh(t)
			tc.fn(t, open, opt)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func root(t *testing.T, open Opener) storage.Root {
	t.Helper()
	r := open(t)
	t.Cleanup(func() { r.Close() })
	return r
}

func folder(t *testing.T, r storage.Root, name string) storage.Folder {
	t.Helper()
	f, err := r.Folder(ctx(t), name, true)
	if err != nil {
		t.Fatalf("create folder %q: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func read(t *testing.T, f storage.Folder, name string) []byte {
	t.Helper()
	r, err := f.Open(ctx(t), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if int64(len(b)) != r.Size() {
		t.Fatalf("%s: Size() = %d, read %d bytes", name, r.Size(), len(b))
	}
	return b
}

func names(t *testing.T, f storage.Folder) []string {
	t.Helper()
	es, err := f.List(ctx(t))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func stage(t *testing.T, f storage.Folder, name string, data []byte) {
	t.Helper()
	p, err := f.StagePath(name)
	if err != nil {
		t.Fatalf("StagePath %s: %v", name, err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatalf("write staged %s: %v", name, err)
	}
}

func testFolders(t *testing.T, open Opener, _ Options) {
	r := root(t, open)
	c := ctx(t)
	if _, err := r.Folder(c, "nobody", false); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("opening a missing folder without create: err = %v, want ErrNotFound", err)
	}
	for _, n := range []string{"Zed", "alpha", "Chocobo Flör"} {
		f := folder(t, r, n)
		// An object store has no empty folders: a folder exists by its files.
		if err := f.WriteFile(c, "x.json", []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := r.Players(c)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ps) != fmt.Sprint([]string{"Chocobo Flör", "Zed", "alpha"}) {
		t.Fatalf("Players() = %q", ps)
	}
	// Another process sees the same folders and files.
	r2 := root(t, open)
	f, err := r2.Folder(c, "Chocobo Flör", false)
	if err != nil {
		t.Fatalf("second handle: %v", err)
	}
	defer f.Close()
	if b := read(t, f, "x.json"); string(b) != "Chocobo Flör" {
		t.Fatalf("second handle read %q", b)
	}
}

func testWriteListOpen(t *testing.T, open Opener, _ Options) {
	r := root(t, open)
	f := folder(t, r, "p")
	c := ctx(t)
	if err := f.WriteFile(c, "b.json", []byte("bee")); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(c, "a.json", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(c, "a.json", []byte("again")); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("WriteFile over an existing file: err = %v, want ErrExist", err)
	}
	if err := f.Sync(c); err != nil {
		t.Fatal(err)
	}
	es, err := f.List(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "a.json" || es[1].Name != "b.json" || es[0].Size != 1 || es[1].Size != 3 {
		t.Fatalf("List() = %+v", es)
	}
	if es[0].ModTime.IsZero() {
		t.Errorf("List() has no modification time")
	}
	if b := read(t, f, "a.json"); string(b) != "a" {
		t.Fatalf("a.json holds %q after a refused overwrite", b)
	}
}

func testRangedRead(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	c := ctx(t)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	stage(t, f, storage.TempPrefix+"r", data)
	if err := f.Publish(c, storage.TempPrefix+"r", "r.parquet"); err != nil {
		t.Fatal(err)
	}
	h, err := f.Open(c, "r.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Size() != int64(len(data)) {
		t.Fatalf("Size() = %d", h.Size())
	}
	for _, rg := range [][2]int{{0, 4}, {len(data) - 8, 8}, {12345, 70000}, {len(data) - 1, 1}} {
		buf := make([]byte, rg[1])
		n, err := h.ReadAt(buf, int64(rg[0]))
		if n != rg[1] || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", rg[0], rg[1], n, err)
		}
		if !bytes.Equal(buf, data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("ReadAt(%d, %d) returned other bytes", rg[0], rg[1])
		}
	}
	buf := make([]byte, 16)
	if n, err := h.ReadAt(buf, int64(len(data)-4)); n != 4 || err != io.EOF {
		t.Fatalf("ReadAt past the end = %d, %v; want 4, io.EOF", n, err)
	}
	if _, err := h.Seek(-8, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(h)
	if err != nil || !bytes.Equal(tail, data[len(data)-8:]) {
		t.Fatalf("Seek(-8, End)+Read = %x, %v", tail, err)
	}
	if _, err := h.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(h)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("read after Seek(0) returned other bytes (%v)", err)
	}
}

func testPublish(t *testing.T, open Opener, _ Options) {
	r := root(t, open)
	f := folder(t, r, "p")
	c := ctx(t)
	staged := storage.TempPrefix + "m.json"
	if err := f.WriteFile(c, staged, []byte("new")); err != nil {
		t.Fatal(err)
	}
	// A staged file can be read back before it is published (backup
	// hashes what DuckDB wrote)…
	if b := read(t, f, staged); string(b) != "new" {
		t.Fatalf("staged file reads %q", b)
	}
	// …and another process never sees it under its final name.
	r2 := root(t, open)
	f2 := folder(t, r2, "p")
	if _, err := f2.Open(c, "m.json"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unpublished file visible: %v", err)
	}
	if err := f.Publish(c, staged, "m.json"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(c); err != nil {
		t.Fatal(err)
	}
	if b := read(t, f2, "m.json"); string(b) != "new" {
		t.Fatalf("published file reads %q elsewhere", b)
	}
	for _, n := range names(t, f) {
		if n == staged {
			t.Errorf("staging name still listed after Publish")
		}
	}
	// Publishing over an existing name fails and keeps the old bytes.
	stage(t, f, staged, []byte("other"))
	if err := f.Publish(c, staged, "m.json"); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("Publish over an existing file: err = %v, want ErrExist", err)
	}
	if b := read(t, f2, "m.json"); string(b) != "new" {
		t.Fatalf("existing file replaced by %q", b)
	}
	if err := f.Remove(c, staged); err != nil {
		t.Fatal(err)
	}
	// Two processes publishing one name at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, ff := range []storage.Folder{f, f2} {
		stage(t, ff, storage.TempPrefix+fmt.Sprint("race", i), []byte(fmt.Sprint("writer", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ff.Publish(c, storage.TempPrefix+fmt.Sprint("race", i), "race.json")
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !errors.Is(err, storage.ErrExist) {
			t.Fatalf("racing publish: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing publishes of one name succeeded, want 1", won)
	}
}

func testRemove(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	c := ctx(t)
	for _, n := range []string{"a", "b"} {
		if err := f.WriteFile(c, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Remove(c, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(c, "a"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	if err := f.Sync(c); err != nil {
		t.Fatal(err)
	}
	if n := names(t, f); fmt.Sprint(n) != "[b]" {
		t.Fatalf("after Remove: %q", n)
	}
	if _, err := f.Open(c, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("removed file opens: %v", err)
	}
}

// testReplace: a backend that replaces a file in one step (the ledger
// on an object store) creates a missing file, replaces an existing one
// whole, as another handle sees at once, and refuses unsafe and staging
// names.
func testReplace(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	other := folder(t, root(t, open), "p")
	c := ctx(t)
	rp, ok := storage.ReplacerOf(f)
	if !ok {
		t.Skip("this backend replaces a file by Remove, then Publish")
	}
	const name = ".statsnap-ledger.json"
	for _, want := range []string{"first", "second, and longer", "3"} {
		if err := rp.Replace(c, name, []byte(want)); err != nil {
			t.Fatalf("Replace: %v", err)
		}
		if got := string(read(t, other, name)); got != want {
			t.Fatalf("after Replace with %q, another handle reads %q", want, got)
		}
		if n := names(t, other); fmt.Sprint(n) != "["+name+"]" {
			t.Fatalf("after Replace: %q", n)
		}
	}
	for _, bad := range []string{"../x", "a/b", "", storage.TempPrefix + "x"} {
		if err := rp.Replace(c, bad, []byte("x")); err == nil {
			t.Errorf("Replace(%q) succeeded", bad)
		}
	}
}

// swapper returns f's Swapper; every backend has one.
func swapper(t *testing.T, f storage.Folder) storage.Swapper {
	t.Helper()
	sw, ok := storage.SwapperOf(f)
	if !ok {
		t.Fatalf("%T is no storage.Swapper: the ledger of concurrent verifies would lose records", f)
	}
	return sw
}

func readVersion(t *testing.T, sw storage.Swapper, name string) ([]byte, storage.Version) {
	t.Helper()
	data, v, err := sw.ReadVersion(ctx(t), name, 1<<20)
	if err != nil {
		t.Fatalf("ReadVersion %s: %v", name, err)
	}
	if v == "" || v == storage.Absent {
		t.Fatalf("ReadVersion %s: version %q for a stored file", name, v)
	}
	return data, v
}

// testSwap: a file is created only where it is missing, replaced only
// at the version read, as another handle sees at once; a stale version,
// of a file replaced or removed since, writes nothing and says
// ErrChanged; nothing of the machinery shows in the listing.
func testSwap(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	other := folder(t, root(t, open), "p")
	sw, osw := swapper(t, f), swapper(t, other)
	c := ctx(t)
	const name = ".statsnap-ledger.json"
	if _, v, err := sw.ReadVersion(c, name, 100); !errors.Is(err, storage.ErrNotFound) || v != storage.Absent {
		t.Fatalf("ReadVersion of a missing file: %q, %v; want Absent, ErrNotFound", v, err)
	}
	if err := sw.ReplaceIf(c, name, []byte("one"), storage.Absent); err != nil {
		t.Fatalf("create where missing: %v", err)
	}
	if err := osw.ReplaceIf(c, name, []byte("lost"), storage.Absent); !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("create where another handle just created: %v, want ErrChanged", err)
	}
	got, v1 := readVersion(t, osw, name)
	if string(got) != "one" || string(read(t, other, name)) != "one" {
		t.Fatalf("after a refused create, read %q", got)
	}
	if err := osw.ReplaceIf(c, name, []byte("two, longer"), v1); err != nil {
		t.Fatalf("replace at the version read: %v", err)
	}
	if err := sw.ReplaceIf(c, name, []byte("lost"), v1); !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("replace at a version replaced since: %v, want ErrChanged", err)
	}
	got, v2 := readVersion(t, sw, name)
	if string(got) != "two, longer" || v2 == v1 {
		t.Fatalf("after a refused replace: %q at %q (first version %q)", got, v2, v1)
	}
	// A replace with the same bytes at the current version passes; the
	// one before it is then stale wherever versions are not the content.
	if err := sw.ReplaceIf(c, name, []byte("3"), v2); err != nil {
		t.Fatal(err)
	}
	if got := read(t, other, name); string(got) != "3" {
		t.Fatalf("another handle reads %q", got)
	}
	// A bounded read returns one byte more than the limit.
	if err := sw.ReplaceIf(c, name, bytes.Repeat([]byte("x"), 100), versionOf(t, sw, name)); err != nil {
		t.Fatal(err)
	}
	data, vbig, err := sw.ReadVersion(c, name, 10)
	if err != nil || len(data) != 11 || vbig == "" {
		t.Fatalf("ReadVersion with limit 10 of 100 bytes: %d bytes, %q, %v", len(data), vbig, err)
	}
	if err := sw.ReplaceIf(c, name, []byte("small"), vbig); err != nil {
		t.Fatalf("replace a large file at the version read with a limit: %v", err)
	}
	_, v3 := readVersion(t, sw, name)
	if err := f.Remove(c, name); err != nil {
		t.Fatal(err)
	}
	if err := osw.ReplaceIf(c, name, []byte("lost"), v3); !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("replace at the version of a file removed since: %v, want ErrChanged", err)
	}
	if _, err := f.Open(c, name); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused replace of a removed file made one: %v", err)
	}
	if err := f.WriteFile(c, "keep.json", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := sw.ReplaceIf(c, name, []byte("again"), storage.Absent); err != nil {
		t.Fatal(err)
	}
	if n := names(t, other); fmt.Sprint(n) != "["+name+" keep.json]" {
		t.Fatalf("the listing shows %q", n)
	}
	for _, bad := range []string{"../x", "a/b", "", storage.TempPrefix + "x"} {
		if err := sw.ReplaceIf(c, bad, []byte("x"), storage.Absent); err == nil {
			t.Errorf("ReplaceIf(%q) succeeded", bad)
		}
	}
	if err := sw.ReplaceIf(c, name, []byte("x"), ""); err == nil {
		t.Errorf("ReplaceIf with no version succeeded")
	}
}

func versionOf(t *testing.T, sw storage.Swapper, name string) storage.Version {
	t.Helper()
	_, v := readVersion(t, sw, name)
	return v
}

// testSwapRace: writers on handles of their own (processes, machines)
// each add their marks to one file by read, change, compare-and-swap,
// retrying on ErrChanged, as the ledger's updates do. Of two swaps from
// one version only one may win, so every mark of every writer is in the
// file at the end; a store that let both win would lose some.
func testSwapRace(t *testing.T, open Opener, _ Options) {
	const name = ".statsnap-ledger.json"
	const writers, marks = 4, 3
	c := ctx(t)
	first := swapper(t, folder(t, root(t, open), "p"))
	if err := first.ReplaceIf(c, name, []byte("start"), storage.Absent); err != nil {
		t.Fatal(err)
	}
	sws := make([]storage.Swapper, writers)
	for i := range sws {
		sws[i] = swapper(t, folder(t, root(t, open), "p"))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for m := range marks {
				mark := fmt.Sprintf(" w%d.%d", w, m)
				for try := 0; ; try++ {
					if try == 200 {
						errs <- fmt.Errorf("writer %d: no swap won in 200 tries", w)
						return
					}
					data, v, err := sws[w].ReadVersion(c, name, 1<<20)
					if err != nil {
						errs <- err
						return
					}
					// Let the others read the same version: in memory,
					// writers would otherwise rarely meet.
					runtime.Gosched()
					err = sws[w].ReplaceIf(c, name, append(data, mark...), v)
					if err == nil {
						break
					}
					if !errors.Is(err, storage.ErrChanged) {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := string(read(t, folder(t, root(t, open), "p"), name))
	for w := range writers {
		for m := range marks {
			if mark := fmt.Sprintf(" w%d.%d", w, m); !strings.Contains(got, mark) {
				t.Errorf("mark%s was lost: %q", mark, got)
			}
		}
	}
	if want := len("start") + writers*marks*len(" w0.0"); len(got) != want {
		t.Errorf("the file holds %d bytes, want %d: %q", len(got), want, got)
	}
	t.Logf("%d swaps lost a race and tried again", conflicts)
}

func testMissing(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	c := ctx(t)
	for _, n := range []string{"nope.parquet", ".statsnap-ledger.json"} {
		if _, err := f.Open(c, n); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Open of a missing file %s: %v, want ErrNotFound", n, err)
		}
	}
	if err := f.Publish(c, storage.TempPrefix+"never-staged", "x"); err == nil {
		t.Fatalf("publishing a file never staged succeeded")
	}
	if n := names(t, f); len(n) != 0 {
		t.Fatalf("empty folder lists %q", n)
	}
}

func testUnsafeNames(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "p")
	c := ctx(t)
	for _, bad := range []string{"../x", "a/b", "..", "", "x\x00"} {
		if _, err := f.Open(c, bad); !errors.Is(err, storage.ErrUnsafeName) {
			t.Errorf("Open(%q): %v, want ErrUnsafeName", bad, err)
		}
		if err := f.WriteFile(c, bad, nil); !errors.Is(err, storage.ErrUnsafeName) {
			t.Errorf("WriteFile(%q): %v, want ErrUnsafeName", bad, err)
		}
	}
	r := root(t, open)
	if _, err := r.Folder(c, "../up", true); !errors.Is(err, storage.ErrUnsafeName) {
		t.Errorf("Folder(../up): %v, want ErrUnsafeName", err)
	}
}

func testNames(t *testing.T, open Opener, _ Options) {
	f := folder(t, root(t, open), "Flör Spartan 東京")
	c := ctx(t)
	for _, n := range []string{"match stats é.parquet", "東京 %20+&=?#.json", "a b"} {
		stage(t, f, storage.TempPrefix+"n", []byte(n))
		if err := f.Publish(c, storage.TempPrefix+"n", n); err != nil {
			t.Fatalf("publish %q: %v", n, err)
		}
		if b := read(t, f, n); string(b) != n {
			t.Fatalf("%q reads %q", n, b)
		}
	}
	if n := names(t, f); fmt.Sprint(n) != fmt.Sprint([]string{"a b", "match stats é.parquet", "東京 %20+&=?#.json"}) {
		t.Fatalf("List() = %q", n)
	}
}

func testLock(t *testing.T, open Opener, _ Options) {
	c := ctx(t)
	a := folder(t, root(t, open), "p")
	b := folder(t, root(t, open), "p")
	unlock, err := a.Lock(c, true, 0)
	if err != nil {
		t.Fatalf("exclusive lock: %v", err)
	}
	if _, err := b.Lock(c, true, 0); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second exclusive lock: %v, want ErrLocked", err)
	}
	if _, err := b.Lock(c, false, 0); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("shared lock under an exclusive one: %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	// Readers share.
	u1, err := a.Lock(c, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := b.Lock(c, false, 0)
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if _, err := b.Lock(c, true, 0); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("exclusive lock under shared ones: %v, want ErrLocked", err)
	}
	if err := u1(); err != nil {
		t.Fatal(err)
	}
	if err := u2(); err != nil {
		t.Fatal(err)
	}
	// A waiter gets the lock once it is released.
	unlock, err = a.Lock(c, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(c, true, 2*time.Minute)
		if err == nil {
			err = u()
		}
		got <- err
	}()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting for a released lock: %v", err)
	}
	// A cancelled wait returns the context's error.
	unlock, err = a.Lock(c, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	cc, cancel := context.WithCancel(c)
	cancel()
	if _, err := b.Lock(cc, true, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	// The lock is not a file of the folder.
	if n := names(t, a); len(n) != 0 {
		t.Fatalf("List() shows %q", n)
	}
}

func testBig(t *testing.T, open Opener, opt Options) {
	f := folder(t, root(t, open), "p")
	c := ctx(t)
	name := storage.TempPrefix + "big"
	p, err := f.StagePath(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	want := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(w, want), rng, opt.BigSize); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish(c, name, "big.parquet"); err != nil {
		t.Fatal(err)
	}
	h, err := f.Open(c, "big.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Size() != opt.BigSize {
		t.Fatalf("Size() = %d, want %d", h.Size(), opt.BigSize)
	}
	got := sha256.New()
	if _, err := io.Copy(got, h); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("the big file came back with other bytes")
	}
	tail := make([]byte, 8)
	if _, err := h.ReadAt(tail, opt.BigSize-8); err != nil && err != io.EOF {
		t.Fatal(err)
	}
}
