package parquetfile

import (
	"bytes"
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// countingSource counts the reads that reach the file.
type countingSource struct {
	*bytes.Reader
	reads atomic.Int64
}

func (c *countingSource) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.Reader.ReadAt(p, off)
}

// feed writes data to a new tap in pieces of random sizes, as a hash
// stream would, some of them a byte long so that headers and the tail
// arrive split.
func feed(data []byte, seed uint64) *Tap {
	t := NewTap(int64(len(data)))
	r := rand.New(rand.NewPCG(seed, 1))
	for rest := data; len(rest) > 0; {
		n := 1 + r.IntN(min(len(rest), 1+r.IntN(70000)))
		if r.IntN(4) == 0 {
			n = 1
		}
		if _, err := t.Write(rest[:n]); err != nil {
			panic(err)
		}
		rest = rest[n:]
	}
	return t
}

// duckFile writes a Parquet file with DuckDB, of several row groups and
// columns, as backup does.
func duckFile(t *testing.T) []byte {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(t.TempDir(), "t.parquet")
	_, err = db.Exec(`COPY (SELECT i, 'player ' || (i % 977) AS name, [i, i*2] AS l, {'a': i % 3, 'b': NULL} AS s,
		CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END AS d FROM range(300000) t(i))
		TO '` + p + `' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 60000)`)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTapServesCheck: on files DuckDB and arrow-go write, a Check through
// a tap that saw the whole file says what a Check of the file says, and
// reads nothing from the file itself.
func TestTapServesCheck(t *testing.T) {
	files := map[string][]byte{"duckdb": duckFile(t), "arrow-go": sampleFile(t, 5000)}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			want, err := Check(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(5) {
				tap := feed(data, seed)
				src := &countingSource{Reader: bytes.NewReader(data)}
				got, err := Check(context.Background(), tap.Source(src))
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: through the tap %+v, directly %+v", seed, got, want)
				}
				if n := src.reads.Load(); n != 0 {
					t.Fatalf("seed %d: the check read the file %d times; the tap holds all it needs", seed, n)
				}
				if len(tap.headers) < 10 {
					t.Fatalf("seed %d: the tap decoded only %d page headers", seed, len(tap.headers))
				}
			}
		})
	}
}

// TestTapIncomplete: a tap that did not see the whole file (the stream
// failed) serves nothing.
func TestTapIncomplete(t *testing.T) {
	data := sampleFile(t, 500)
	tap := NewTap(int64(len(data)))
	tap.Write(data[:len(data)-1])
	src := &countingSource{Reader: bytes.NewReader(data)}
	if _, err := Check(context.Background(), tap.Source(src)); err != nil {
		t.Fatal(err)
	}
	if src.reads.Load() == 0 {
		t.Fatal("a tap that missed the last byte served the check")
	}
}

// TestTapDamagedHeader: a page header damaged after the tap saw it is the
// file's problem either way; one damaged before makes the tap lose its
// walk, and the check reads the file and finds what a direct check finds.
func TestTapDamagedHeader(t *testing.T) {
	data := duckFile(t)
	bad := bytes.Clone(data)
	bad[5] ^= 0xff // inside the first page header
	_, direct := Check(context.Background(), bytes.NewReader(bad))
	tap := feed(bad, 7)
	_, tapped := Check(context.Background(), tap.Source(bytes.NewReader(bad)))
	if (direct == nil) != (tapped == nil) || (direct != nil && direct.Error() != tapped.Error()) {
		t.Fatalf("direct: %v; through the tap: %v", direct, tapped)
	}
}

// FuzzTap: whatever the bytes, a Check through a tap that saw them gives
// the same verdict and the same Info as a Check of the bytes themselves.
// Seeds: FuzzCheck's, in testdata/fuzz/FuzzTap too.
func FuzzTap(f *testing.F) {
	for _, s := range checkSeeds(f) {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) > 1<<20 {
			return
		}
		ctx := context.Background()
		want, werr := Check(ctx, bytes.NewReader(data))
		got, gerr := Check(ctx, feed(data, seed).Source(bytes.NewReader(data)))
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("directly: %v; through the tap: %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("through the tap %+v, directly %+v", got, want)
		}
	})
}
