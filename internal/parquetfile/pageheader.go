package parquetfile

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/apache/thrift/lib/go/thrift"
)

// Page types and encodings of the Parquet format, as numbered in its
// Thrift definition.
const (
	pageData       = 0
	pageIndex      = 1
	pageDictionary = 2
	pageDataV2     = 3

	encPlain          = 0
	encPlainDict      = 2
	encRLE            = 3
	encBitPacked      = 4
	encDeltaBinary    = 5
	encDeltaLength    = 6
	encDeltaByteArray = 7
	encRLEDict        = 8
	encByteStream     = 9
)

// pageHeader is what a page header declares: its sizes, and for data and
// dictionary pages the fields a decoder needs.
type pageHeader struct {
	headerLen                int64
	typ                      int32
	compressed, uncompressed int32

	numValues int32
	encoding  int32
	// Data page v1: the level encodings.
	defEncoding, repEncoding int32
	// Data page v2.
	numNulls, numRows  int32
	defBytes, repBytes int32
	valuesCompressed   bool
	hasData, hasDataV2 bool
	hasDict            bool
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
	h := pageHeader{typ: -1, valuesCompressed: true}
	err := readStruct(ctx, p, func(id int16, typ thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			h.typ, err = p.ReadI32(ctx)
		case id == 2 && typ == thrift.I32:
			h.uncompressed, err = p.ReadI32(ctx)
		case id == 3 && typ == thrift.I32:
			h.compressed, err = p.ReadI32(ctx)
		case id == 5 && typ == thrift.STRUCT:
			h.hasData = true
			err = readStruct(ctx, p, func(id int16, typ thrift.TType) (bool, error) {
				return readI32(ctx, p, typ, pick(id, &h.numValues, &h.encoding, &h.defEncoding, &h.repEncoding))
			})
		case id == 7 && typ == thrift.STRUCT:
			h.hasDict = true
			err = readStruct(ctx, p, func(id int16, typ thrift.TType) (bool, error) {
				return readI32(ctx, p, typ, pick(id, &h.numValues, &h.encoding))
			})
		case id == 8 && typ == thrift.STRUCT:
			h.hasDataV2 = true
			err = readStruct(ctx, p, func(id int16, typ thrift.TType) (bool, error) {
				if id == 7 && typ == thrift.BOOL {
					v, err := p.ReadBool(ctx)
					h.valuesCompressed = v
					return true, err
				}
				return readI32(ctx, p, typ, pick(id, &h.numValues, &h.numNulls, &h.numRows, &h.encoding, &h.defBytes, &h.repBytes))
			})
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return h, err
	}
	h.headerLen = int64(len(b) - buf.Len())
	return h, nil
}

// readStruct reads one struct, handing each field to field, which reads
// it and returns true, or returns false to have it skipped.
func readStruct(ctx context.Context, p *thrift.TCompactProtocol, field func(id int16, typ thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			break
		}
		done, err := field(id, typ)
		if err != nil {
			return err
		}
		if !done {
			if err := thrift.SkipDefaultDepth(ctx, p, typ); err != nil {
				return err
			}
		}
	}
	return p.ReadStructEnd(ctx)
}

// pick returns the destination of field id, numbered from 1, or nil.
func pick(id int16, dsts ...*int32) *int32 {
	if id < 1 || int(id) > len(dsts) {
		return nil
	}
	return dsts[id-1]
}

// readI32 reads an I32 field into dst; any other field, or a nil dst, is
// left to be skipped.
func readI32(ctx context.Context, p *thrift.TCompactProtocol, typ thrift.TType, dst *int32) (bool, error) {
	if dst == nil || typ != thrift.I32 {
		return false, nil
	}
	v, err := p.ReadI32(ctx)
	*dst = v
	return true, err
}
