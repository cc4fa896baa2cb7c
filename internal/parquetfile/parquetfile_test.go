package parquetfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// sampleFile writes a small zstd Parquet file of n rows with arrow-go.
func sampleFile(t testing.TB, n int) []byte {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%3 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append("player")
		}
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(i), 1}, nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	if err := pqarrow.WriteTable(tbl, &buf, 1000, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInspectAndDecode(t *testing.T) {
	data := sampleFile(t, 2500)
	info, err := Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 2500 || info.RowGroups != 3 {
		t.Errorf("rows %d groups %d", info.Rows, info.RowGroups)
	}
	want := "id INT64, name STRING, tags LIST<element INT32>"
	if got := Describe(info.Fields); got != want {
		t.Errorf("fields %q, want %q", got, want)
	}
	if !Equal(info.Fields, info.Fields) || Equal(info.Fields, info.Fields[1:]) {
		t.Error("Equal is wrong")
	}
	n, err := DecodeAll(context.Background(), bytes.NewReader(data))
	if err != nil || n != 2500 {
		t.Errorf("decoded %d rows, %v", n, err)
	}
}

// TestHostileFooters: files that lie about themselves are refused with an
// error, never a panic or an allocation the file's size does not justify.
func TestHostileFooters(t *testing.T) {
	good := sampleFile(t, 10)
	footerLen := binary.LittleEndian.Uint32(good[len(good)-8:])
	cases := map[string][]byte{
		"empty":      {},
		"magic only": []byte("PAR1"),
		"truncated":  good[:len(good)/2],
		"footer longer than file": func() []byte {
			b := append([]byte{}, good...)
			binary.LittleEndian.PutUint32(b[len(b)-8:], 0x7fffffff)
			return b
		}(),
		"garbage footer": func() []byte {
			b := append([]byte{}, good...)
			start := len(b) - 8 - int(footerLen)
			for i := start; i < len(b)-8; i++ {
				b[i] = 0xff
			}
			return b
		}(),
	}
	for name, data := range cases {
		if _, err := Inspect(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: Inspect accepted it", name)
		}
		if _, err := DecodeAll(context.Background(), bytes.NewReader(data)); err == nil {
			t.Errorf("%s: DecodeAll accepted it", name)
		}
	}
}

// FuzzInspect: arbitrary bytes never crash the footer reader or the
// decoder; whatever claims rows must decode to at most... anything, but
// without panicking.
func FuzzInspect(f *testing.F) {
	good := sampleFile(f, 20)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		info, err := Inspect(bytes.NewReader(data))
		if err != nil {
			return
		}
		if info.Rows < 0 {
			t.Fatalf("negative rows %d accepted", info.Rows)
		}
		DecodeAll(context.Background(), bytes.NewReader(data))
	})
}
