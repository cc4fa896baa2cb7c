package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
)

// testSnapshot backs up a small DuckDB database with backup.Backup and
// returns its folder and scanned snapshot.
func testSnapshot(t *testing.T) (*local.Folder, snapshot.Info) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "stats.duckdb")
	db, err := dbfile.Open(ctx, src, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE big AS SELECT range AS id, 'row ' || range AS label, range * 0.5 AS score,
			TIMESTAMP '2026-01-01' + INTERVAL (range) SECOND AS at FROM range(200000)`,
		`CREATE TABLE empty (id INTEGER, note VARCHAR)`,
		`CREATE SCHEMA extra`,
		`CREATE TABLE extra.small AS SELECT range AS id FROM range(10)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	folder, err := local.OpenFolder(filepath.Join(dir, "backups", "p"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(ctx, backup.Options{Source: src, Gamertag: "p", Folder: folder,
		CompressionLevel: 3, Time: time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return folder, scanOne(t, folder)
}

func scanOne(t *testing.T, folder storage.Folder) snapshot.Info {
	t.Helper()
	list, err := snapshot.Scan(context.Background(), folder)
	if err != nil || len(list) != 1 {
		t.Fatalf("scan: %d snapshots, %v", len(list), err)
	}
	return list[0]
}

func kinds(ps []Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Kind.String())
	}
	return strings.Join(out, ",")
}

func TestVerifyIntactAndJobs(t *testing.T) {
	folder, s := testSnapshot(t)
	var calls atomic.Int32
	var first []FileResult
	for _, jobs := range []int{0, 1, 2, 16} {
		calls.Store(0)
		res := Snapshot(context.Background(), folder, s, nil, Options{Jobs: jobs, Deep: true,
			Progress: func(done, total int, f FileResult) { calls.Add(1) }})
		if !res.OK || len(res.Problems) != 0 || res.Err != nil || res.Status != snapshot.StatusComplete {
			t.Fatalf("jobs=%d: %+v", jobs, res)
		}
		files := len(s.Manifest.FileNames())
		if files <= len(s.Manifest.Tables) {
			t.Fatalf("the fixture's big table is held by one file; it should be chunked")
		}
		if int(calls.Load()) != files || len(res.Files) != files {
			t.Fatalf("jobs=%d: %d progress calls, %d files, want %d", jobs, calls.Load(), len(res.Files), files)
		}
		// Results come in table and file order whatever the number of workers.
		i := 0
		for _, key := range s.Manifest.TableOrder {
			for _, p := range s.Manifest.Tables[key].DataFiles() {
				f := res.Files[i]
				if f.Table != key || f.File != p.File || f.BLAKE3 != p.BLAKE3 || f.Rows != p.Rows {
					t.Fatalf("jobs=%d: file %d is %+v, want %s of table %s", jobs, i, f, p.File, key)
				}
				i++
			}
		}
		if first == nil {
			first = res.Files
		}
	}
}

func TestVerifyCopyTo(t *testing.T) {
	folder, s := testSnapshot(t)
	dst := t.TempDir()
	res := Snapshot(context.Background(), folder, s, nil, Options{CopyTo: dst, Deep: true})
	if !res.OK {
		t.Fatalf("%+v", res)
	}
	for _, f := range res.Files {
		if f.Copy != filepath.Join(dst, f.File) {
			t.Fatalf("copy of %s at %q", f.File, f.Copy)
		}
		orig, err := os.ReadFile(filepath.Join(folder.Dir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := os.ReadFile(f.Copy)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(orig, cp) {
			t.Fatalf("copy of %s differs", f.File)
		}
	}

	// Copying again into the same folder would overwrite what restore is
	// about to read: an operational error, not a problem of the snapshot.
	res = Snapshot(context.Background(), folder, s, nil, Options{CopyTo: dst})
	if res.OK || res.Err == nil || len(res.Problems) != 0 {
		t.Fatalf("want an operational error and no problem, got %+v", res)
	}
	res = Snapshot(context.Background(), folder, s, nil, Options{CopyTo: filepath.Join(dst, "nope")})
	if res.OK || res.Err == nil || len(res.Problems) != 0 {
		t.Fatalf("want an operational error and no problem, got %+v", res)
	}

	// A damaged file is reported as a problem; its copy holds the bytes
	// that were judged.
	p := filepath.Join(folder.Dir, s.Manifest.Tables["big"].File)
	testutil.FlipByte(t, p)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dst2 := t.TempDir()
	res = Snapshot(context.Background(), folder, s, nil, Options{CopyTo: dst2})
	if res.OK || kinds(res.Problems) != KindHashMismatch.String() {
		t.Fatalf("want one hash_mismatch, got %+v", res.Problems)
	}
	if cp, _ := os.ReadFile(filepath.Join(dst2, s.Manifest.Tables["big"].File)); !bytes.Equal(cp, b) {
		t.Fatal("the copy is not the bytes that were hashed")
	}
}

func TestVerifyCancelled(t *testing.T) {
	folder, s := testSnapshot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Snapshot(ctx, folder, s, nil, Options{})
	if res.OK || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %+v", res)
	}
}

// TestVerifyHostileFooter: a footer claiming 2^62 rows, in the file and in its
// row group, must give problems, not a crash or an unbounded allocation.
func TestVerifyHostileFooter(t *testing.T) {
	folder, s := testSnapshot(t)
	key := "big"
	p := filepath.Join(folder.Dir, s.Manifest.Tables[key].File)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const claim = int64(1) << 62
	data = patchNumRows(t, data, claim)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := Snapshot(context.Background(), folder, s, nil, Options{Deep: true})
	runtime.ReadMemStats(&after)
	if res.OK || res.Err != nil {
		t.Fatalf("want problems, got %+v", res)
	}
	got := kinds(res.Problems)
	if !strings.Contains(got, KindRowsMismatch.String()) {
		t.Fatalf("want rows_mismatch among %s", got)
	}
	for _, pr := range res.Problems {
		if pr.Table != key {
			t.Errorf("problem about another table: %+v", pr)
		}
	}
	t.Logf("problems: %+v; allocated %d MiB", res.Problems, (after.TotalAlloc-before.TotalAlloc)>>20)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<20 {
		t.Fatalf("verifying allocated %d MiB", grew>>20)
	}
}

// patchNumRows rewrites a Parquet footer so that FileMetaData.num_rows and
// every RowGroup.num_rows claim n, walking the Thrift compact encoding.
func patchNumRows(t *testing.T, data []byte, n int64) []byte {
	t.Helper()
	ctx := context.Background()
	metaLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	metaStart := len(data) - 8 - metaLen
	meta := data[metaStart : len(data)-8]
	buf := thrift.NewTMemoryBufferLen(len(meta))
	buf.Write(meta)
	pr := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
	pos := func() int { return len(meta) - buf.Len() }
	type span struct{ start, end int }
	var spans []span
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// readI64At records where field num_rows's varint is.
	readI64At := func() {
		start := pos()
		_, err := pr.ReadI64(ctx)
		must(err)
		spans = append(spans, span{start, pos()})
	}
	_, err := pr.ReadStructBegin(ctx)
	must(err)
	for {
		_, typ, id, err := pr.ReadFieldBegin(ctx)
		must(err)
		if typ == thrift.STOP {
			break
		}
		switch id {
		case 3: // FileMetaData.num_rows
			readI64At()
		case 4: // FileMetaData.row_groups
			_, size, err := pr.ReadListBegin(ctx)
			must(err)
			for i := 0; i < size; i++ {
				_, err := pr.ReadStructBegin(ctx)
				must(err)
				for {
					_, ftyp, fid, err := pr.ReadFieldBegin(ctx)
					must(err)
					if ftyp == thrift.STOP {
						break
					}
					if fid == 3 { // RowGroup.num_rows
						readI64At()
					} else {
						must(pr.Skip(ctx, ftyp))
					}
					must(pr.ReadFieldEnd(ctx))
				}
				must(pr.ReadStructEnd(ctx))
			}
			must(pr.ReadListEnd(ctx))
		default:
			must(pr.Skip(ctx, typ))
		}
		must(pr.ReadFieldEnd(ctx))
	}
	if len(spans) < 2 {
		t.Fatalf("found %d num_rows fields", len(spans))
	}
	varint := binary.AppendUvarint(nil, uint64((n<<1)^(n>>63)))
	var out []byte
	last := 0
	for _, s := range spans {
		out = append(out, meta[last:s.start]...)
		out = append(out, varint...)
		last = s.end
	}
	out = append(out, meta[last:]...)
	file := append([]byte{}, data[:metaStart]...)
	file = append(file, out...)
	file = binary.LittleEndian.AppendUint32(file, uint32(len(out)))
	return append(file, "PAR1"...)
}
