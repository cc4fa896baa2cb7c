package parquetfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/klauspost/compress/zstd"
)

// thriftOut writes Thrift's compact protocol by hand, as Parquet's footer
// and page headers are written, so that tests can forge what no writer
// would make. Any error fails the test.
type thriftOut struct {
	t   testing.TB
	ctx context.Context
	buf *thrift.TMemoryBuffer
	p   thrift.TProtocol
}

func newThriftOut(t testing.TB) *thriftOut {
	buf := thrift.NewTMemoryBuffer()
	return &thriftOut{t: t, ctx: context.Background(), buf: buf, p: thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})}
}

func (w *thriftOut) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// field writes field id of type ty, its value written by value.
func (w *thriftOut) field(id int16, ty thrift.TType, value func()) {
	w.must(w.p.WriteFieldBegin(w.ctx, "", ty, id))
	value()
	w.must(w.p.WriteFieldEnd(w.ctx))
}

func (w *thriftOut) i32(id int16, v int32) {
	w.field(id, thrift.I32, func() { w.must(w.p.WriteI32(w.ctx, v)) })
}

func (w *thriftOut) i64(id int16, v int64) {
	w.field(id, thrift.I64, func() { w.must(w.p.WriteI64(w.ctx, v)) })
}

func (w *thriftOut) str(id int16, v string) {
	w.field(id, thrift.STRING, func() { w.must(w.p.WriteString(w.ctx, v)) })
}

// object writes a struct whose fields fields writes: the message itself,
// or an element of a list.
func (w *thriftOut) object(fields func()) {
	w.must(w.p.WriteStructBegin(w.ctx, ""))
	fields()
	w.must(w.p.WriteFieldStop(w.ctx))
	w.must(w.p.WriteStructEnd(w.ctx))
}

// structField writes field id holding a struct.
func (w *thriftOut) structField(id int16, fields func()) {
	w.field(id, thrift.STRUCT, func() { w.object(fields) })
}

// list writes field id holding a list declared as n elements of type
// elem, which elems writes (it may write another number).
func (w *thriftOut) list(id int16, elem thrift.TType, n int, elems func()) {
	w.field(id, thrift.LIST, func() {
		w.must(w.p.WriteListBegin(w.ctx, elem, n))
		elems()
		w.must(w.p.WriteListEnd(w.ctx))
	})
}

// bytes is all that has been written.
func (w *thriftOut) bytes() []byte {
	w.must(w.p.Flush(w.ctx))
	return w.buf.Bytes()
}

// forgedFooter builds a Parquet file of no data whose footer lists
// schema elements as elems says: each entry is one element's num_children
// (0 for a leaf).
func forgedFooter(t testing.TB, elems func(yield func(children int32))) []byte {
	t.Helper()
	var footer []int32
	elems(func(c int32) { footer = append(footer, c) })
	w := newThriftOut(t)
	w.object(func() { // FileMetaData
		w.i32(1, 1) // version
		w.list(2, thrift.STRUCT, len(footer), func() {
			for i, c := range footer {
				w.object(func() { // SchemaElement
					if c == 0 {
						w.i32(1, 1) // type INT32
					}
					w.i32(3, 1) // repetition_type OPTIONAL
					w.str(4, fmt.Sprintf("c%d", i))
					if c > 0 {
						w.i32(5, c) // num_children
					}
				})
			}
		})
		w.i64(3, 0)                            // num_rows
		w.list(4, thrift.STRUCT, 0, func() {}) // row_groups
	})
	return framed(nil, w.bytes())
}

// framed is a Parquet file of data (pages, starting at offset 4) and a
// footer: the magic, the data, the footer, its length and the magic.
func framed(data, footer []byte) []byte {
	var out bytes.Buffer
	out.WriteString("PAR1")
	out.Write(data)
	out.Write(footer)
	binary.Write(&out, binary.LittleEndian, uint32(len(footer)))
	out.WriteString("PAR1")
	return out.Bytes()
}

// deep is a root and a chain of depth groups ending in one leaf.
func deep(depth int) func(func(int32)) {
	return func(yield func(int32)) {
		yield(1)
		for i := 0; i < depth-1; i++ {
			yield(1)
		}
		yield(0)
	}
}

// wide is a root with n leaves.
func wide(n int) func(func(int32)) {
	return func(yield func(int32)) {
		yield(int32(n))
		for i := 0; i < n; i++ {
			yield(0)
		}
	}
}

// bounded runs f, failing the test if it does not return within a
// minute (a hang, not a speed check) or allocates more than maxAlloc.
func bounded(t *testing.T, maxAlloc uint64, f func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("did not return")
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > maxAlloc {
		t.Errorf("allocated %d bytes, bound %d", got, maxAlloc)
	}
}

// TestHostileSchemasRefused: the 60,000-deep schema that made verify and
// restore spin for 90 s, and 10⁶ columns that took 2.5 GB, are refused by
// a linear pass over the footer, before arrow-go builds anything, with
// allocation bounded by the footer's size.
func TestHostileSchemasRefused(t *testing.T) {
	ctx := context.Background()
	for name, elems := range map[string]func(func(int32)){
		"60000 deep": deep(60000), "1e6 wide": wide(1_000_000),
		"one level too deep": deep(MaxDepth + 1), "one column too many": wide(MaxSchemaNodes + 1),
	} {
		t.Run(name, func(t *testing.T) {
			data := forgedFooter(t, elems)
			for fn, call := range map[string]func() error{
				"Inspect":   func() error { _, err := Inspect(bytes.NewReader(data)); return err },
				"Check":     func() error { _, err := Check(ctx, bytes.NewReader(data)); return err },
				"DecodeAll": func() error { _, err := DecodeAll(ctx, bytes.NewReader(data)); return err },
			} {
				var err error
				bounded(t, uint64(4*len(data))+1<<20, func() { err = call() })
				if !errors.Is(err, ErrBounds) {
					t.Errorf("%s: %v, want ErrBounds", fn, err)
				}
			}
		})
	}
	// At the bounds, the footer check lets the schema through.
	for name, elems := range map[string]func(func(int32)){"max depth": deep(MaxDepth), "max width": wide(MaxSchemaNodes)} {
		data := forgedFooter(t, elems)
		if err := checkFooter(ctx, bytes.NewReader(data)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMalformedSchemaLists: counts that do not add up are refused, never
// looped on.
func TestMalformedSchemaLists(t *testing.T) {
	ctx := context.Background()
	for name, elems := range map[string]func(func(int32)){
		"children past the end": func(y func(int32)) { y(5); y(0) },
		"negative children":     func(y func(int32)) { y(-1); y(0) },
		"elements after root":   func(y func(int32)) { y(1); y(0); y(0) },
		"unclosed group":        func(y func(int32)) { y(2); y(1); y(0) },
	} {
		data := forgedFooter(t, elems)
		if err := checkFooter(ctx, bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCancelledCheck: a cancelled context stops the footer walk.
func TestCancelledCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := forgedFooter(t, wide(50_000))
	if _, err := Check(ctx, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Check on a cancelled context: %v", err)
	}
}

// TestDescribeLinear: a 60,000-deep field chain is described in bounded
// output (the old recursion copied every level's text into its parent:
// quadratic).
func TestDescribeLinear(t *testing.T) {
	f := Field{Name: "leaf", Type: "int32"}
	for i := 0; i < 60000; i++ {
		f = Field{Name: "g", Type: "struct", Children: []Field{f}}
	}
	var s string
	bounded(t, 1<<20, func() { s = Describe([]Field{f}) })
	if len(s) > maxDescribe+len("…") || !strings.HasSuffix(s, "…") || !strings.HasPrefix(s, "g struct<g struct<") {
		t.Errorf("Describe: %d bytes, %.40q…", len(s), s)
	}
	short := []Field{{Name: "a", Type: "int64"}, {Name: "s", Type: "struct", Children: []Field{{Name: "x", Type: "utf8"}}}}
	if got := Describe(short); got != "a int64, s struct<x utf8>" {
		t.Errorf("Describe = %q", got)
	}
}

// forgedPageFile builds a one-column INT32 file whose only page header
// declares uncompressed bytes, followed by junk of compressed bytes.
func forgedPageFile(t testing.TB, uncompressed, compressed int32) []byte {
	t.Helper()
	return forgedPage(t, uncompressed, make([]byte, compressed), 0, 1, false)
}

// forgedPage builds a one-column INT32 file (OPTIONAL, or REQUIRED) of
// one page, whose header declares uncompressed bytes and numValues
// values, with body as its content, in codec (Parquet's number).
func forgedPage(t testing.TB, uncompressed int32, body []byte, codec int32, numValues int32, required bool) []byte {
	t.Helper()
	compressed := int32(len(body))
	repetition := int32(1)
	if required {
		repetition = 0
	}
	h := newThriftOut(t)
	h.object(func() { // PageHeader
		h.i32(1, 0) // DATA_PAGE
		h.i32(2, uncompressed)
		h.i32(3, compressed)
		h.structField(5, func() { // DataPageHeader
			h.i32(1, numValues)
			h.i32(2, 0) // PLAIN
			h.i32(3, 3) // RLE
			h.i32(4, 3)
		})
	})
	header := h.bytes()
	chunk := int64(len(header)) + int64(compressed)

	w := newThriftOut(t)
	w.object(func() { // FileMetaData
		w.i32(1, 1)
		w.list(2, thrift.STRUCT, 2, func() {
			w.object(func() {
				w.str(4, "schema")
				w.i32(5, 1)
			})
			w.object(func() {
				w.i32(1, 1) // INT32
				w.i32(3, repetition)
				w.str(4, "x")
			})
		})
		w.i64(3, 1)
		w.list(4, thrift.STRUCT, 1, func() {
			w.object(func() { // RowGroup
				w.list(1, thrift.STRUCT, 1, func() {
					w.object(func() { // ColumnChunk
						w.i64(2, 4)
						w.structField(3, func() { // ColumnMetaData
							w.i32(1, 1)
							w.list(2, thrift.I32, 1, func() { w.must(w.p.WriteI32(w.ctx, 0)) })
							w.list(3, thrift.STRING, 1, func() { w.must(w.p.WriteString(w.ctx, "x")) })
							w.i32(4, codec)
							w.i64(5, int64(numValues))
							w.i64(6, int64(len(header))+int64(uncompressed))
							w.i64(7, chunk)
							w.i64(9, 4)
						})
					})
				})
				w.i64(2, int64(uncompressed))
				w.i64(3, int64(numValues))
			})
		})
	})

	return framed(append(header, body...), w.bytes())
}

// TestPageBombRefused: a page header of an uncompressed chunk declaring
// more bytes than the page holds (readers allocate what it declares) is
// refused by Check, Decompress and DecodeAll with a few reads of headers;
// a sane forged page passes the walk.
func TestPageBombRefused(t *testing.T) {
	ctx := context.Background()
	bomb := forgedPageFile(t, 1<<30+1, 16)
	for fn, call := range map[string]func() error{
		"Check":      func() error { _, err := Check(ctx, bytes.NewReader(bomb)); return err },
		"Decompress": func() error { _, err := Decompress(ctx, bytes.NewReader(bomb)); return err },
		"DecodeAll":  func() error { _, err := DecodeAll(ctx, bytes.NewReader(bomb)); return err },
	} {
		var err error
		bounded(t, 8<<20, func() { err = call() })
		if err == nil || !strings.Contains(err.Error(), "declares 1073741825 bytes but holds 16") {
			t.Errorf("%s: %v, want the page refused", fn, err)
		}
	}
	if _, err := Inspect(bytes.NewReader(bomb)); err != nil {
		t.Errorf("Inspect reads only the footer, which is sane: %v", err)
	}
	sane := forgedPageFile(t, 16, 16)
	if _, err := Check(ctx, bytes.NewReader(sane)); err != nil {
		t.Errorf("Check on a sane page: %v", err)
	}
}

// zstdZeros compresses n zero bytes.
func zstdZeros(t testing.TB, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestHugePageStreamed: a zstd page declaring 1 GiB (beyond arrow-go's 256
// MiB), held in a file of a few KiB, passes Check, and Decompress and
// DecodeAll read all of it as streams in a few MiB of allocations; the
// same page declaring one byte more than it decompresses to, or one
// value more than it holds, is refused.
func TestHugePageStreamed(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 30
	body := zstdZeros(t, size)
	good := forgedPage(t, size, body, 6, size/4, true)
	if _, err := Check(ctx, bytes.NewReader(good)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	var err error
	var inGroup int64
	bounded(t, 32<<20, func() { inGroup, err = Decompress(ctx, bytes.NewReader(good)) })
	if err != nil || inGroup != size {
		t.Errorf("Decompress = %d bytes, %v; want %d", inGroup, err, size)
	}
	var rows int64
	bounded(t, 32<<20, func() { rows, err = DecodeAll(ctx, bytes.NewReader(good)) })
	if err != nil || rows != size/4 {
		t.Errorf("DecodeAll = %d rows, %v; want %d", rows, err, size/4)
	}
	for name, bad := range map[string][]byte{
		"size":   forgedPage(t, size+1, body, 6, size/4, true),
		"values": forgedPage(t, size, body, 6, size/4+1, true),
	} {
		if _, err := DecodeAll(ctx, bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: DecodeAll accepted a page that lies about its %s", name, name)
		}
	}
	if _, err := Decompress(ctx, bytes.NewReader(forgedPage(t, size-1, body, 6, size/4, true))); err == nil {
		t.Error("Decompress accepted a page that decompresses to more than it declares")
	}
}
