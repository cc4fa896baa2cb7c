package parquetfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest zstd window the streaming decoder accepts:
// zstd's level 22 uses 128 MiB, and DuckDB's files never need more.
const zstdMaxWindow = 1 << 27

// streamBuffer is the read buffer of one decompressed stream.
const streamBuffer = 256 << 10

// errShort marks a page whose content ends before what it declares.
var errShort = errors.New("the page ends before its values do")

// region reads one stretch of a page's decompressed bytes: n is how many
// are left in it.
type region struct {
	br *bufio.Reader
	n  int64
}

func short(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errShort
	}
	return err
}

func (s *region) byte() (byte, error) {
	if s.n <= 0 {
		return 0, errShort
	}
	b, err := s.br.ReadByte()
	if err != nil {
		return 0, short(err)
	}
	s.n--
	return b, nil
}

func (s *region) full(p []byte) error {
	if int64(len(p)) > s.n {
		return errShort
	}
	if _, err := io.ReadFull(s.br, p); err != nil {
		return short(err)
	}
	s.n -= int64(len(p))
	return nil
}

// skip reads past n bytes, in steps so that a huge value is never held.
func (s *region) skip(n int64) error {
	if n < 0 || n > s.n {
		return errShort
	}
	for n > 0 {
		step := int(min(n, 8<<20))
		got, err := s.br.Discard(step)
		s.n -= int64(got)
		n -= int64(got)
		if err != nil {
			return short(err)
		}
	}
	return nil
}

func (s *region) u32() (uint32, error) {
	var b [4]byte
	if err := s.full(b[:]); err != nil {
		return 0, err
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

func (s *region) uvarint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("a varint longer than 10 bytes")
}

func (s *region) zigzag() (int64, error) {
	u, err := s.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// sub runs f on the next n bytes of s as a region of its own, then reads
// past whatever f left of them.
func (s *region) sub(n int64, f func(*region) error) error {
	if n < 0 || n > s.n {
		return errShort
	}
	inner := region{br: s.br, n: n}
	err := f(&inner)
	s.n -= n - inner.n
	if err != nil {
		return err
	}
	return s.skip(inner.n)
}

// exact passes through a decompressed stream and fails when it yields
// more bytes than the page header declares; fewer surface as errShort.
type exact struct {
	r    io.Reader
	left int64
}

func (e *exact) Read(p []byte) (int, error) {
	if e.left <= 0 {
		var one [1]byte
		for {
			n, err := e.r.Read(one[:])
			if n > 0 {
				return 0, errors.New("the page decompresses to more bytes than its header declares")
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// inflater decompresses one page at a time, reusing its zstd decoder and
// read buffer from page to page.
type inflater struct {
	zd     *zstd.Decoder
	br     *bufio.Reader
	closer io.Closer
}

func (f *inflater) close() {
	if f.closer != nil {
		f.closer.Close()
		f.closer = nil
	}
	if f.zd != nil {
		f.zd.Close()
		f.zd = nil
	}
}

// open returns the decompressed bytes of one page body (or of its value
// part), which must come to exactly size bytes.
func (f *inflater) open(body io.Reader, compressedLen int64, codec compress.Compression, compressed bool, size int64) (*region, error) {
	if f.closer != nil {
		f.closer.Close()
		f.closer = nil
	}
	var r io.Reader
	switch {
	case !compressed || codec == compress.Codecs.Uncompressed:
		if compressedLen != size {
			return nil, fmt.Errorf("an uncompressed page of %d bytes declares %d", compressedLen, size)
		}
		r = body
	case codec == compress.Codecs.Zstd:
		if f.zd == nil {
			zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
			if err != nil {
				return nil, err
			}
			f.zd = zd
		}
		if err := f.zd.Reset(body); err != nil {
			return nil, fmt.Errorf("decompress page: %w", err)
		}
		r = f.zd
	default:
		c, err := compress.GetCodec(codec)
		if err != nil {
			return nil, err
		}
		// GZIP and BROTLI pages are streams of their format; arrow-go's
		// SNAPPY and LZ4 codecs stream other framings than Parquet's.
		if sc, ok := c.(compress.StreamingCodec); ok && (codec == compress.Codecs.Gzip || codec == compress.Codecs.Brotli) {
			rc := sc.NewReader(body)
			f.closer, r = rc, rc
			break
		}
		// SNAPPY and LZ4 have no streaming form: the page is decompressed
		// whole, which costs its size in memory (statsnap writes zstd).
		data := make([]byte, compressedLen)
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, short(err)
		}
		out, err := decodeWhole(c, data, size)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(out)
	}
	e := &exact{r: r, left: size}
	if f.br == nil {
		f.br = bufio.NewReaderSize(e, streamBuffer)
	} else {
		f.br.Reset(e)
	}
	return &region{br: f.br, n: size}, nil
}

// decodeWhole decompresses a block codec's page, turning its panics on
// hostile input into errors.
func decodeWhole(c compress.Codec, data []byte, size int64) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decompress page: %v", p)
		}
	}()
	if ec, ok := c.(compress.ErrorCodec); ok {
		if out, err = ec.DecodeWithError(make([]byte, size), data); err != nil {
			return nil, fmt.Errorf("decompress page: %w", err)
		}
	} else {
		out = c.Decode(make([]byte, size), data)
	}
	if int64(len(out)) != size {
		return nil, fmt.Errorf("the page decompresses to %d bytes; its header declares %d", len(out), size)
	}
	return out, nil
}

// drain reads what is left of a page and checks that the decompressed
// stream ends exactly there.
func drain(s *region) error {
	if err := s.skip(s.n); err != nil {
		return fmt.Errorf("the page decompresses to fewer bytes than its header declares: %w", err)
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		if err == nil {
			return errors.New("the page decompresses to more bytes than its header declares")
		}
		return fmt.Errorf("decompress page: %w", err)
	}
	return nil
}
