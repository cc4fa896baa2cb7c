package parquetfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/thrift/lib/go/thrift"
)

// Bounds on what a Parquet file may declare before arrow-go or DuckDB
// builds anything from it. A file in a backup folder may be hostile: a
// 770 KB footer describing a schema 60,000 levels deep kept verify busy
// for 90 s, and 10⁶ columns cost arrow-go 2.5 GB. The bounds sit well
// above what DuckDB writes: its binder refuses types nested more than
// about 200 levels deep at the default max_expression_depth (a LIST is
// three Parquet levels), and writing 100,000 columns took it ~50 s here.
const (
	// MaxDepth is the deepest schema accepted, in Parquet schema levels
	// below the root.
	MaxDepth = 1000
	// MaxSchemaNodes is the most schema elements (columns, plus the
	// groups of nested types) accepted.
	MaxSchemaNodes = 100_000
	// MaxFooterBytes bounds the footer read and decoded into memory.
	MaxFooterBytes = 256 << 20
	// MaxPageBytes bounds the size a single page may declare, compressed
	// or not: readers allocate what a page header declares.
	MaxPageBytes = 1 << 30
	// maxPageHeader bounds the bytes read to decode one page header
	// (which may carry statistics).
	maxPageHeader = 1 << 20
)

// ErrBounds marks a file that declares more than the bounds above allow.
var ErrBounds = errors.New("beyond statsnap's bounds for a Parquet file")

// sizeOf is the length of r, found by seeking to its end.
func sizeOf(r Source) (int64, error) {
	n, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	_, err = r.Seek(0, io.SeekStart)
	return n, err
}

// checkFooter reads the footer's frame and its schema list without
// building anything from them, and refuses a file whose footer or
// schema is out of bounds. The cost is linear in the footer's size.
func checkFooter(ctx context.Context, r Source) error {
	size, err := sizeOf(r)
	if err != nil {
		return fmt.Errorf("read parquet footer: %w", err)
	}
	if size < 12 {
		return fmt.Errorf("read parquet footer: %d bytes is too short for a Parquet file", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("read parquet footer: %w", err)
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("read parquet footer: no PAR1 magic at the end (an encrypted or foreign file)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-12 {
		return fmt.Errorf("read parquet footer: it declares %d bytes in a file of %d", n, size)
	}
	if n > MaxFooterBytes {
		return fmt.Errorf("read parquet footer: %d bytes: %w (at most %d)", n, ErrBounds, MaxFooterBytes)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("read parquet footer: %w", err)
	}
	return checkSchemaList(ctx, footer)
}

// checkSchemaList walks FileMetaData's field 2, the flattened schema,
// counting elements and tracking depth from num_children.
func checkSchemaList(ctx context.Context, footer []byte) error {
	buf := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(footer)}
	p := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{MaxMessageSize: int32(len(footer)) + 1})
	bad := func(err error) error { return fmt.Errorf("read parquet footer: malformed metadata: %w", err) }
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return bad(err)
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return bad(err)
		}
		if typ == thrift.STOP {
			return fmt.Errorf("read parquet footer: malformed metadata: no schema")
		}
		if id != 2 || typ != thrift.LIST {
			if err := thrift.SkipDefaultDepth(ctx, p, typ); err != nil {
				return bad(err)
			}
			continue
		}
		_, count, err := p.ReadListBegin(ctx)
		if err != nil {
			return bad(err)
		}
		if count > MaxSchemaNodes+1 {
			return fmt.Errorf("read parquet footer: %d schema elements: %w (at most %d)", count-1, ErrBounds, MaxSchemaNodes)
		}
		if count < 1 {
			return fmt.Errorf("read parquet footer: malformed metadata: an empty schema")
		}
		// open holds, per group being filled, how many children it still
		// expects; its length is the level of the next element (the
		// root's children are at level 1).
		open := make([]int32, 0, 64)
		for i := 0; i < count; i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if i > 0 && len(open) == 0 {
				return fmt.Errorf("read parquet footer: malformed metadata: schema elements after the root's children")
			}
			kids, err := numChildren(ctx, p)
			if err != nil {
				return bad(err)
			}
			if len(open) > MaxDepth {
				return fmt.Errorf("read parquet footer: schema deeper than %d levels: %w", MaxDepth, ErrBounds)
			}
			if kids < 0 || int(kids) > count-i-1 {
				return fmt.Errorf("read parquet footer: malformed metadata: element %d claims %d children", i, kids)
			}
			if len(open) > 0 {
				open[len(open)-1]--
			}
			if kids > 0 {
				open = append(open, kids)
			}
			for len(open) > 0 && open[len(open)-1] == 0 {
				open = open[:len(open)-1]
			}
		}
		if len(open) != 0 {
			return fmt.Errorf("read parquet footer: malformed metadata: the schema ends inside a group")
		}
		return nil
	}
}

// numChildren reads one SchemaElement and returns its field 5.
func numChildren(ctx context.Context, p *thrift.TCompactProtocol) (int32, error) {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return 0, err
	}
	var kids int32
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return 0, err
		}
		if typ == thrift.STOP {
			break
		}
		if id == 5 && typ == thrift.I32 {
			if kids, err = p.ReadI32(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if err := thrift.SkipDefaultDepth(ctx, p, typ); err != nil {
			return 0, err
		}
	}
	return kids, p.ReadStructEnd(ctx)
}

// pageHeader is what a page header declares about its size.
type pageHeader struct {
	headerLen                int64
	compressed, uncompressed int32
}

// readPageHeader decodes the page header at off, never reading past end
// nor more than maxPageHeader bytes. Most headers are a few dozen bytes:
// it reads 4 KiB first, and more only when the header is longer.
func readPageHeader(ctx context.Context, r io.ReaderAt, off, end int64, scratch *[]byte) (pageHeader, error) {
	if hs, ok := r.(headerSource); ok {
		if h, ok := hs.pageHeader(off, end); ok {
			return h, nil
		}
	}
	var h pageHeader
	var err error
	for _, want := range []int64{4 << 10, maxPageHeader} {
		n := min(end-off, want)
		if int64(cap(*scratch)) < n {
			*scratch = make([]byte, n)
		}
		b := (*scratch)[:n]
		got, rerr := r.ReadAt(b, off)
		if rerr != nil && !(errors.Is(rerr, io.EOF) && got > 0) {
			return h, rerr
		}
		b = b[:got]
		h, err = decodePageHeader(ctx, b)
		if err == nil || int64(got) < want {
			return h, err
		}
	}
	return h, err
}

func decodePageHeader(ctx context.Context, b []byte) (pageHeader, error) {
	buf := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}
	p := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{MaxMessageSize: int32(len(b)) + 1})
	var h pageHeader
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return h, err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return h, err
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 2 && typ == thrift.I32:
			h.uncompressed, err = p.ReadI32(ctx)
		case id == 3 && typ == thrift.I32:
			h.compressed, err = p.ReadI32(ctx)
		default:
			err = thrift.SkipDefaultDepth(ctx, p, typ)
		}
		if err != nil {
			return h, err
		}
	}
	h.headerLen = int64(len(b) - buf.Len())
	return h, nil
}

// checkPages walks every column chunk's page headers: each chunk must lie
// in the file's data, each page inside its chunk, and no page may declare
// more than MaxPageBytes. Only headers are read; the cost is linear in the
// number of pages.
func checkPages(ctx context.Context, r Source, pr *file.Reader) error {
	size, err := sizeOf(r)
	if err != nil {
		return err
	}
	md := pr.MetaData()
	dataEnd := size - 8 - int64(md.Size())
	var scratch []byte
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
			start := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
				start = cc.DictionaryPageOffset()
			}
			end := start + cc.TotalCompressedSize()
			if start < 4 || cc.TotalCompressedSize() <= 0 || end > dataEnd || end < start {
				return fmt.Errorf("row group %d column %d: its chunk [%d, %d) is not inside the file's data [4, %d)", g, c, start, end, dataEnd)
			}
			for off := start; off < end; {
				h, err := readPageHeader(ctx, r, off, end, &scratch)
				if err != nil {
					return fmt.Errorf("row group %d column %d: page header at %d: %w", g, c, off, err)
				}
				if h.compressed < 0 || h.uncompressed < 0 {
					return fmt.Errorf("row group %d column %d: page at %d declares a negative size", g, c, off)
				}
				if int64(h.compressed) > MaxPageBytes || int64(h.uncompressed) > MaxPageBytes {
					return fmt.Errorf("row group %d column %d: page at %d declares %d bytes (%d compressed): %w (at most %d)", g, c, off, h.uncompressed, h.compressed, ErrBounds, MaxPageBytes)
				}
				off += h.headerLen + int64(h.compressed)
				if off > end {
					return fmt.Errorf("row group %d column %d: a page runs past its chunk's end at %d", g, c, end)
				}
			}
		}
	}
	return nil
}

// Decompress reads every page of every column chunk, decompressing it and
// checking it yields the size its header declares, after the footer and
// page checks of Check. It decodes no values: it is the check that every
// byte a reader will decompress is sound, at the cost of one pass of
// decompression.
func Decompress(ctx context.Context, r Source) (err error) {
	if err := checkFooter(ctx, r); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decompress parquet: malformed file: %v", p)
		}
	}()
	pr, err := file.NewParquetReader(keepOpen{r})
	if err != nil {
		return fmt.Errorf("read parquet footer: %w", err)
	}
	defer pr.Close()
	if err := checkPages(ctx, r, pr); err != nil {
		return fmt.Errorf("check parquet pages: %w", err)
	}
	for g := 0; g < pr.NumRowGroups(); g++ {
		rg := pr.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			pages, err := rg.GetColumnPageReader(c)
			if err != nil {
				return fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
			for pages.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := pages.Err(); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
		}
	}
	return nil
}
