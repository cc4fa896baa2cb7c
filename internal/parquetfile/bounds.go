package parquetfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/compress"
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

// checkPages walks every column chunk's page headers: each chunk must lie
// in the file's data, and each page inside its chunk, with sizes its
// codec allows. It returns, per row group, the largest size a page
// declares, compressed or not (at most 2 GiB: sizes are int32). Only
// headers are read; the cost is linear in the number of pages.
func checkPages(ctx context.Context, r Source, pr *file.Reader) ([]int64, error) {
	size, err := sizeOf(r)
	if err != nil {
		return nil, err
	}
	md := pr.MetaData()
	dataEnd := size - 8 - int64(md.Size())
	var scratch []byte
	largest := make([]int64, md.NumRowGroups())
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return nil, fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
			start := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
				start = cc.DictionaryPageOffset()
			}
			end := start + cc.TotalCompressedSize()
			if start < 4 || cc.TotalCompressedSize() <= 0 || end > dataEnd || end < start {
				return nil, fmt.Errorf("row group %d column %d: its chunk [%d, %d) is not inside the file's data [4, %d)", g, c, start, end, dataEnd)
			}
			uncompressed := cc.Compression() == compress.Codecs.Uncompressed
			for off := start; off < end; {
				h, err := readPageHeader(ctx, r, off, end, &scratch)
				if err != nil {
					return nil, fmt.Errorf("row group %d column %d: page header at %d: %w", g, c, off, err)
				}
				if h.compressed < 0 || h.uncompressed < 0 {
					return nil, fmt.Errorf("row group %d column %d: page at %d declares a negative size", g, c, off)
				}
				// A reader allocates what a header declares: without
				// compression, nothing may be declared that is not there.
				if (uncompressed || (h.typ == pageDataV2 && !h.valuesCompressed)) && h.compressed != h.uncompressed {
					return nil, fmt.Errorf("row group %d column %d: the uncompressed page at %d declares %d bytes but holds %d", g, c, off, h.uncompressed, h.compressed)
				}
				largest[g] = max(largest[g], int64(h.compressed), int64(h.uncompressed))
				off += h.headerLen + int64(h.compressed)
				if off > end {
					return nil, fmt.Errorf("row group %d column %d: a page runs past its chunk's end at %d", g, c, end)
				}
			}
		}
	}
	return largest, nil
}

// Decompress reads every page of every column chunk, decompressing it and
// checking it yields the size its header declares, after the footer and
// page checks of Check. It decodes no values: it is the check that every
// byte a reader will decompress is sound, at the cost of one pass of
// decompression. Pages are decompressed as streams, so memory stays a few
// buffers whatever a page's size. It returns the most bytes the pages of
// one row group decompress to: what a reader that holds a row group's
// values at once (DuckDB does) needs at least.
func Decompress(ctx context.Context, r Source) (rowGroupBytes int64, err error) {
	if err := checkFooter(ctx, r); err != nil {
		return 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decompress parquet: malformed file: %v", p)
		}
	}()
	pr, err := file.NewParquetReader(keepOpen{r})
	if err != nil {
		return 0, fmt.Errorf("read parquet footer: %w", err)
	}
	defer pr.Close()
	if _, err := checkPages(ctx, r, pr); err != nil {
		return 0, fmt.Errorf("check parquet pages: %w", err)
	}
	s := &streamer{ctx: ctx, r: r}
	defer s.close()
	md := pr.MetaData()
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		var inGroup int64
		for c := 0; c < rg.NumColumns(); c++ {
			ch, err := chunkOf(md, g, c)
			if err != nil {
				return 0, err
			}
			n, err := s.decompressChunk(&ch)
			if err != nil {
				return 0, fmt.Errorf("row group %d column %d: %w", g, c, err)
			}
			inGroup += n
		}
		rowGroupBytes = max(rowGroupBytes, inGroup)
	}
	return rowGroupBytes, nil
}
