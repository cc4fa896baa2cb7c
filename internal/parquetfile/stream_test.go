package parquetfile

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/typezoo"
)

// arrowDigest decodes every column chunk of row group g with arrow-go's
// column readers and digests values and levels as digest does.
func arrowDigest(t *testing.T, data []byte, g int) (map[int]*columnDigest, error) {
	t.Helper()
	pr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	out := map[int]*columnDigest{}
	rg := pr.RowGroup(g)
	for c := 0; c < rg.NumColumns(); c++ {
		d := &columnDigest{values: fnv.New64a(), defs: fnv.New64a(), reps: fnv.New64a()}
		out[c] = d
		col := pr.MetaData().Schema.Column(c)
		cr, err := rg.Column(c)
		if err != nil {
			t.Fatal(err)
		}
		const batch = 1000
		defs, reps := make([]int16, batch), make([]int16, batch)
		put := func(v []byte) {
			d.n++
			d.values.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(v))))
			d.values.Write(v)
		}
		levels := func(total int64) {
			if col.MaxDefinitionLevel() > 0 {
				for _, l := range defs[:total] {
					d.defs.Write(binary.LittleEndian.AppendUint16(nil, uint16(l)))
				}
			}
			if col.MaxRepetitionLevel() > 0 {
				for _, l := range reps[:total] {
					d.reps.Write(binary.LittleEndian.AppendUint16(nil, uint16(l)))
				}
			}
		}
		for cr.HasNext() {
			var total int64
			var n int
			switch r := cr.(type) {
			case *file.BooleanColumnChunkReader:
				vals := make([]bool, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					b := byte(0)
					if v {
						b = 1
					}
					put([]byte{b})
				}
			case *file.Int32ColumnChunkReader:
				vals := make([]int32, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(binary.LittleEndian.AppendUint32(nil, uint32(v)))
				}
			case *file.Int64ColumnChunkReader:
				vals := make([]int64, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(binary.LittleEndian.AppendUint64(nil, uint64(v)))
				}
			case *file.Int96ColumnChunkReader:
				vals := make([]parquet.Int96, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(v[:])
				}
			case *file.Float32ColumnChunkReader:
				vals := make([]float32, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
				}
			case *file.Float64ColumnChunkReader:
				vals := make([]float64, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
				}
			case *file.ByteArrayColumnChunkReader:
				vals := make([]parquet.ByteArray, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(v)
				}
			case *file.FixedLenByteArrayColumnChunkReader:
				vals := make([]parquet.FixedLenByteArray, batch)
				total, n, err = r.ReadBatch(batch, vals, defs, reps)
				for _, v := range vals[:n] {
					put(v)
				}
			default:
				t.Fatalf("column %d: reader %T", c, cr)
			}
			if err != nil {
				return nil, fmt.Errorf("arrow-go, column %s: %w", col.Path(), err)
			}
			levels(total)
		}
	}
	return out, nil
}

// compareStreaming decodes every row group of data with the streaming
// checker and with arrow-go, and requires the same values and levels,
// column by column. It returns how many values it compared.
func compareStreaming(t *testing.T, name string, data []byte) int64 {
	t.Helper()
	ctx := context.Background()
	pr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer pr.Close()
	var compared int64
	for g := 0; g < pr.NumRowGroups(); g++ {
		dig := newDigest()
		n, err := streamRowGroup(ctx, bytes.NewReader(data), pr, g, dig)
		if err != nil {
			t.Fatalf("%s: streaming row group %d: %v", name, g, err)
		}
		if n != pr.RowGroup(g).NumRows() {
			t.Fatalf("%s: row group %d: %d rows, the footer says %d", name, g, n, pr.RowGroup(g).NumRows())
		}
		want, err := arrowDigest(t, data, g)
		if err != nil {
			// DuckDB's format 2 stores INT32 extremes as deltas of 33
			// bits, which arrow-go refuses; the streaming check decodes
			// them as DuckDB does.
			t.Logf("%s: row group %d: no comparison: %v", name, g, err)
			continue
		}
		for c, w := range want {
			got := dig.cols[c]
			path := pr.MetaData().Schema.Column(c).Path()
			switch {
			case got == nil:
				t.Errorf("%s: column %s not decoded", name, path)
			case got.n != w.n || got.values.Sum64() != w.values.Sum64():
				t.Errorf("%s: column %s: %d values (digest %x), arrow-go %d (%x)", name, path, got.n, got.values.Sum64(), w.n, w.values.Sum64())
			case got.defs.Sum64() != w.defs.Sum64() || got.reps.Sum64() != w.reps.Sum64():
				t.Errorf("%s: column %s: levels differ from arrow-go's", name, path)
			}
			if got != nil {
				compared += got.n
			}
		}
	}
	return compared
}

// duckFiles writes every table of the type zoo to Parquet with DuckDB,
// once per writer setting: statsnap's own (zstd), format 2 (data page v2,
// DELTA_* and BYTE_STREAM_SPLIT encodings) and the other codecs.
func duckFiles(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := typezoo.Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	tables, err := typezoo.Created(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{
		"zstd":         "COMPRESSION zstd, COMPRESSION_LEVEL 9",
		"v2":           "COMPRESSION zstd, PARQUET_VERSION V2",
		"v2_plain":     "COMPRESSION uncompressed, PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1",
		"snappy":       "COMPRESSION snappy, ROW_GROUP_SIZE 1000",
		"gzip":         "COMPRESSION gzip",
		"uncompressed": "COMPRESSION uncompressed",
		"lz4":          "COMPRESSION lz4_raw",
		"brotli":       "COMPRESSION brotli, PARQUET_VERSION V2",
	}
	dir := t.TempDir()
	out := map[string][]byte{}
	refused := 0
	defer func() {
		if refused > len(out) {
			t.Errorf("DuckDB wrote only %d of %d files", len(out), len(out)+refused)
		}
	}()
	for i, tb := range tables {
		// The columns as backup writes them: in statsnap's lossless
		// encodings where Parquet has no type for them.
		list := "*"
		if plans, err := codec.PlanTable(ctx, db, tb.Schema, tb.Name); err == nil {
			list = codec.SelectList(plans)
		}
		for name, opts := range settings {
			if tb.Name == "zoo_many" && name != "zstd" && name != "v2" {
				continue // the codecs are tested on the other tables, faster
			}
			path := filepath.Join(dir, fmt.Sprintf("%d_%s.parquet", i, name))
			q := fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s (FORMAT parquet, %s)", list, tb.Qualified(), sqlq.Literal(path), opts)
			if _, err := db.ExecContext(ctx, q); err != nil {
				// Some types need statsnap's own encodings (codec) to go
				// through Parquet at all.
				t.Logf("DuckDB does not write %s as is: %v", tb.Name, err)
				refused++
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out[tb.Name+"/"+name] = data
		}
	}
	return out
}

// TestStreamingMatchesArrow: every page of every type-zoo table, written
// by DuckDB in every page format, encoding and codec it offers, decodes
// through the streaming decoder to exactly the values and levels
// arrow-go's column readers decode (where arrow-go reads the file at
// all); and DecodeAll and Decompress accept every file, DecodeAll
// counting the footer's rows.
func TestStreamingMatchesArrow(t *testing.T) {
	files := duckFiles(t)
	files["arrow-go"] = sampleFile(t, 3000)
	files["arrow-go v2 delta"] = arrowEncodings(t)
	var values int64
	for name, data := range files {
		values += compareStreaming(t, name, data)
	}
	if values < 100_000 {
		t.Errorf("only %d values compared", values)
	}
	for name, data := range files {
		info, err := Inspect(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := DecodeAll(context.Background(), bytes.NewReader(data))
		if err != nil || rows != info.Rows {
			t.Errorf("%s: DecodeAll = %d rows, %v; the footer says %d", name, rows, err, info.Rows)
		}
		if _, err := Decompress(context.Background(), bytes.NewReader(data)); err != nil {
			t.Errorf("%s: Decompress: %v", name, err)
		}
	}
}

// arrowEncodings writes, with arrow-go, columns in the encodings DuckDB
// does not use for them: DELTA_BINARY_PACKED integers, DELTA_BYTE_ARRAY
// and DELTA_LENGTH_BYTE_ARRAY strings, BYTE_STREAM_SPLIT doubles, RLE
// booleans, in data pages v2 and v1.
func arrowEncodings(t testing.TB) []byte {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "l", Type: arrow.BinaryTypes.String},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "ls", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 0; i < 5000; i++ {
		if i%7 == 0 {
			b.Field(0).(*array.Int32Builder).Append(int32(-i))
			b.Field(2).AppendNull()
			b.Field(5).AppendNull()
			b.Field(6).AppendNull()
		} else {
			b.Field(0).(*array.Int32Builder).Append(int32(i*i%100003 - 50000))
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("player-%06d", i/3))
			b.Field(5).(*array.BooleanBuilder).Append(i%3 == 0)
			lb := b.Field(6).(*array.ListBuilder)
			lb.Append(true)
			for k := 0; k < i%4; k++ {
				lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", i+k))
			}
		}
		b.Field(1).(*array.Int64Builder).Append(int64(i) * -987654321987)
		b.Field(3).(*array.StringBuilder).Append(fmt.Sprint(i * 31))
		b.Field(4).(*array.Float64Builder).Append(float64(i) / 7)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(false),
		parquet.WithDataPageVersion(parquet.DataPageV2),
		parquet.WithDataPageSize(4096),
		parquet.WithEncodingFor("i64", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("s", parquet.Encodings.DeltaByteArray),
		parquet.WithEncodingFor("l", parquet.Encodings.DeltaLengthByteArray),
		parquet.WithEncodingFor("f", parquet.Encodings.ByteStreamSplit),
		parquet.WithEncodingFor("b", parquet.Encodings.RLE),
		parquet.WithEncodingFor("ls.list.element", parquet.Encodings.DeltaByteArray),
	)
	if err := pqarrow.WriteTable(tbl, &buf, 2000, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var _ hash.Hash64 = fnv.New64a()

// TestHugeValueDeep: a MAP holding one 300 MiB string, as DuckDB writes it
// (a page beyond arrow-go's 256 MiB limit), decodes in a few MiB of
// allocations, zstd as statsnap writes it and uncompressed; a length
// corrupted inside that page, so that the value runs past it, fails.
func TestHugeValueDeep(t *testing.T) {
	ctx := context.Background()
	const size = 300 << 20
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE big AS SELECT map(['k'], [repeat('x', %d)]) AS m", size)); err != nil {
		t.Fatal(err)
	}
	for _, codec := range []string{"zstd", "uncompressed"} {
		path := filepath.Join(dir, codec+".parquet")
		if _, err := db.ExecContext(ctx, fmt.Sprintf("COPY big TO %s (FORMAT parquet, COMPRESSION %s)", sqlq.Literal(path), codec)); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var rows int64
		bounded(t, 32<<20, func() { rows, err = DecodeAll(ctx, f) })
		if err != nil || rows != 1 {
			t.Fatalf("%s: DecodeAll = %d rows, %v", codec, rows, err)
		}
		if codec != "uncompressed" {
			continue
		}
		// The value's length prefix, just before its first bytes.
		pattern := append(binary.LittleEndian.AppendUint32(nil, size), "xxxxxxxx"...)
		buf := make([]byte, 1<<20)
		at := int64(-1)
		for off := int64(0); at < 0; off += int64(len(buf) - len(pattern)) {
			n, _ := f.ReadAt(buf, off)
			if n < len(pattern) {
				t.Fatal("the value's length is not in the file")
			}
			if i := bytes.Index(buf[:n], pattern); i >= 0 {
				at = off + int64(i)
			}
		}
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, size+1000), at); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeAll(ctx, f); err == nil || !strings.Contains(err.Error(), "a value of") {
			t.Errorf("a corrupted length inside the huge page: DecodeAll = %v, want a value running past its page", err)
		}
	}
}
