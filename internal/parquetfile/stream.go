package parquetfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// maxDeltaBlock bounds a DELTA_BINARY_PACKED block (writers use 128 to
// 2,048 values), which the decoder holds whole.
const maxDeltaBlock = 1 << 16

// chunk is one column chunk to decode.
type chunk struct {
	rowGroup, column int
	phys             parquet.Type
	typeLen          int64
	maxDef, maxRep   int16
	codec            compress.Compression
	start, end       int64
	numValues        int64
	rows             int64
}

// streamer decodes every value of column chunks page by page, holding no
// page whole: memory is a few read buffers and zstd windows, whatever
// the size of a page or of a value. It decodes what Parquet stores (the
// levels, each value's bytes, dictionary indices), not Arrow arrays: the
// checks are the counts, bounds and lengths that an assembled array
// would imply.
type streamer struct {
	ctx     context.Context
	r       io.ReaderAt
	in, alt inflater
	scratch []byte
	// dig, when set (tests only), receives every decoded value and level,
	// and then dictionaries are held in memory.
	dig *digest
}

func (s *streamer) close() {
	s.in.close()
	s.alt.close()
}

// streamRowGroup decodes every column chunk of row group g and returns
// its row count, which every column must agree with.
func streamRowGroup(ctx context.Context, r io.ReaderAt, pr *file.Reader, g int, dig *digest) (int64, error) {
	s := &streamer{ctx: ctx, r: r, dig: dig}
	defer s.close()
	md := pr.MetaData()
	rg := md.RowGroup(g)
	for c := 0; c < rg.NumColumns(); c++ {
		ch, err := chunkOf(md, g, c)
		if err != nil {
			return 0, err
		}
		if dig != nil {
			dig.column(c)
		}
		if err := s.chunk(&ch); err != nil {
			return 0, fmt.Errorf("row group %d column %s: %w", g, md.Schema.Column(c).Path(), err)
		}
	}
	return rg.NumRows(), nil
}

// chunkOf describes column c of row group g.
func chunkOf(md *metadata.FileMetaData, g, c int) (chunk, error) {
	rg := md.RowGroup(g)
	cc, err := rg.ColumnChunk(c)
	if err != nil {
		return chunk{}, fmt.Errorf("row group %d column %d: %w", g, c, err)
	}
	col := md.Schema.Column(c)
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	return chunk{rowGroup: g, column: c, phys: col.PhysicalType(), typeLen: int64(col.TypeLength()),
		maxDef: col.MaxDefinitionLevel(), maxRep: col.MaxRepetitionLevel(), codec: cc.Compression(),
		start: start, end: start + cc.TotalCompressedSize(), numValues: cc.NumValues(), rows: rg.NumRows()}, nil
}

// decompressChunk decompresses every page of a chunk to its end, checking
// each yields the size its header declares, and returns their total; it
// decodes nothing.
func (s *streamer) decompressChunk(c *chunk) (int64, error) {
	var total int64
	for off := c.start; off < c.end; {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		h, err := readPageHeader(s.ctx, s.r, off, c.end, &s.scratch)
		if err != nil {
			return 0, fmt.Errorf("page header at %d: %w", off, err)
		}
		body := off + h.headerLen
		next := body + int64(h.compressed)
		if h.compressed < 0 || h.uncompressed < 0 || next > c.end {
			return 0, fmt.Errorf("the page at %d does not fit in its chunk", off)
		}
		var st *region
		switch h.typ {
		case pageData, pageDictionary:
			st, err = s.in.open(s.section(body, h.compressed), int64(h.compressed), c.codec, true, int64(h.uncompressed))
		case pageDataV2:
			lv := int64(h.repBytes) + int64(h.defBytes)
			if h.repBytes < 0 || h.defBytes < 0 || lv > int64(h.compressed) || lv > int64(h.uncompressed) {
				return 0, fmt.Errorf("page at %d: its level lengths do not fit in it", off)
			}
			vlen := int64(h.compressed) - lv
			st, err = s.in.open(io.NewSectionReader(s.r, body+lv, vlen), vlen, c.codec, h.valuesCompressed, int64(h.uncompressed)-lv)
		default:
			off = next
			continue
		}
		if err == nil {
			err = drain(st)
		}
		total += int64(h.uncompressed)
		if err != nil {
			return 0, fmt.Errorf("page at %d: %w", off, err)
		}
		off = next
	}
	return total, nil
}

func (s *streamer) chunk(c *chunk) error {
	dictCount := int64(-1)
	var values, rows int64
	for off := c.start; off < c.end; {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		h, err := readPageHeader(s.ctx, s.r, off, c.end, &s.scratch)
		if err != nil {
			return fmt.Errorf("page header at %d: %w", off, err)
		}
		if h.compressed < 0 || h.uncompressed < 0 || h.numValues < 0 {
			return fmt.Errorf("page at %d declares a negative size or count", off)
		}
		body := off + h.headerLen
		next := body + int64(h.compressed)
		if next > c.end {
			return fmt.Errorf("the page at %d runs past its chunk's end", off)
		}
		switch h.typ {
		case pageDictionary:
			if !h.hasDict || dictCount >= 0 || values > 0 {
				return fmt.Errorf("page at %d: a dictionary page out of place", off)
			}
			if h.encoding != encPlain && h.encoding != encPlainDict {
				return fmt.Errorf("page at %d: a dictionary in encoding %d", off, h.encoding)
			}
			if s.dig != nil {
				s.dig.startDict()
			}
			st, err := s.in.open(s.section(body, h.compressed), int64(h.compressed), c.codec, true, int64(h.uncompressed))
			if err == nil {
				err = s.plain(st, c, int64(h.numValues))
			}
			if err == nil {
				err = drain(st)
			}
			if s.dig != nil {
				s.dig.endDict()
			}
			if err != nil {
				return fmt.Errorf("dictionary page at %d: %w", off, err)
			}
			dictCount = int64(h.numValues)
		case pageData:
			if !h.hasData {
				return fmt.Errorf("page at %d: a data page without its header", off)
			}
			n, err := s.pageV1(c, &h, body, dictCount)
			if err != nil {
				return fmt.Errorf("data page at %d: %w", off, err)
			}
			rows += n
			values += int64(h.numValues)
		case pageDataV2:
			if !h.hasDataV2 {
				return fmt.Errorf("page at %d: a data page without its header", off)
			}
			n, err := s.pageV2(c, &h, body, dictCount)
			if err != nil {
				return fmt.Errorf("data page at %d: %w", off, err)
			}
			rows += n
			values += int64(h.numValues)
		default:
			// Index pages and page types of later formats carry no values.
		}
		off = next
	}
	if values != c.numValues {
		return fmt.Errorf("its pages hold %d values; its metadata says %d", values, c.numValues)
	}
	if rows != c.rows {
		return fmt.Errorf("its pages hold %d rows; the row group has %d", rows, c.rows)
	}
	return nil
}

func (s *streamer) section(off int64, n int32) *io.SectionReader {
	return io.NewSectionReader(s.r, off, int64(n))
}

func levelWidth(top int16) int { return bits.Len16(uint16(top)) }

// pageV1 decodes a data page of format 1, whose levels and values are
// compressed together, and returns its row count.
func (s *streamer) pageV1(c *chunk, h *pageHeader, body int64, dictCount int64) (int64, error) {
	size := int64(h.uncompressed)
	st, err := s.in.open(s.section(body, h.compressed), int64(h.compressed), c.codec, true, size)
	if err != nil {
		return 0, err
	}
	n := int64(h.numValues)
	rows, present := n, n
	if c.maxRep > 0 {
		if rows, err = s.levelsV1(st, h.repEncoding, c.maxRep, n, 0, s.repDigest()); err != nil {
			return 0, fmt.Errorf("repetition levels: %w", err)
		}
	}
	if c.maxDef > 0 {
		if present, err = s.levelsV1(st, h.defEncoding, c.maxDef, n, c.maxDef, s.defDigest()); err != nil {
			return 0, fmt.Errorf("definition levels: %w", err)
		}
	}
	valuesAt := size - st.n
	reopen := func() (*region, error) {
		alt, err := s.alt.open(s.section(body, h.compressed), int64(h.compressed), c.codec, true, size)
		if err != nil {
			return nil, err
		}
		return alt, alt.skip(valuesAt)
	}
	if err := s.values(st, c, h.encoding, present, dictCount, reopen); err != nil {
		return 0, fmt.Errorf("values: %w", err)
	}
	return rows, drain(st)
}

// levelsV1 decodes n levels of a format 1 page and returns how many equal
// target.
func (s *streamer) levelsV1(st *region, enc int32, top int16, n int64, target int16, dig levelSink) (int64, error) {
	w := levelWidth(top)
	switch enc {
	case encRLE:
		l, err := st.u32()
		if err != nil {
			return 0, err
		}
		var count int64
		err = st.sub(int64(l), func(r *region) error {
			var err error
			count, err = levels(r, w, n, top, target, dig)
			return err
		})
		return count, err
	case encBitPacked:
		nb := (n*int64(w) + 7) / 8
		var count int64
		err := st.sub(nb, func(r *region) error {
			var err error
			count, err = bitPackedLevels(r, w, n, top, target, dig)
			return err
		})
		return count, err
	}
	return 0, fmt.Errorf("levels in encoding %d", enc)
}

// pageV2 decodes a data page of format 2, whose levels precede the
// separately compressed values, and returns its row count.
func (s *streamer) pageV2(c *chunk, h *pageHeader, body int64, dictCount int64) (int64, error) {
	if h.repBytes < 0 || h.defBytes < 0 || int64(h.repBytes)+int64(h.defBytes) > int64(h.compressed) ||
		int64(h.repBytes)+int64(h.defBytes) > int64(h.uncompressed) {
		return 0, errors.New("its level lengths do not fit in it")
	}
	if h.numNulls < 0 || h.numNulls > h.numValues || h.numRows < 0 {
		return 0, errors.New("it declares impossible counts")
	}
	lv := int64(h.repBytes) + int64(h.defBytes)
	raw, err := s.in.open(s.section(body, int32(lv)), lv, c.codec, false, lv)
	if err != nil {
		return 0, err
	}
	n := int64(h.numValues)
	rows, present := n, n
	if c.maxRep > 0 {
		err = raw.sub(int64(h.repBytes), func(r *region) error {
			var err error
			rows, err = levels(r, levelWidth(c.maxRep), n, c.maxRep, 0, s.repDigest())
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("repetition levels: %w", err)
		}
	} else if err := raw.skip(int64(h.repBytes)); err != nil {
		return 0, err
	}
	if c.maxDef > 0 {
		err = raw.sub(int64(h.defBytes), func(r *region) error {
			var err error
			present, err = levels(r, levelWidth(c.maxDef), n, c.maxDef, c.maxDef, s.defDigest())
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("definition levels: %w", err)
		}
	}
	if rows != int64(h.numRows) {
		return 0, fmt.Errorf("its levels hold %d rows; its header says %d", rows, h.numRows)
	}
	if n-present != int64(h.numNulls) {
		return 0, fmt.Errorf("its levels hold %d nulls; its header says %d", n-present, h.numNulls)
	}
	vbody, vlen, vsize := body+lv, int64(h.compressed)-lv, int64(h.uncompressed)-lv
	open := func(f *inflater) (*region, error) {
		return f.open(io.NewSectionReader(s.r, vbody, vlen), vlen, c.codec, h.valuesCompressed, vsize)
	}
	st, err := open(&s.in)
	if err != nil {
		return 0, err
	}
	if err := s.values(st, c, h.encoding, present, dictCount, func() (*region, error) { return open(&s.alt) }); err != nil {
		return 0, fmt.Errorf("values: %w", err)
	}
	return rows, drain(st)
}

// width is the size of one PLAIN value of a fixed-width type, or 0.
func width(c *chunk) int64 {
	switch c.phys {
	case parquet.Types.Int32, parquet.Types.Float:
		return 4
	case parquet.Types.Int64, parquet.Types.Double:
		return 8
	case parquet.Types.Int96:
		return 12
	case parquet.Types.FixedLenByteArray:
		return c.typeLen
	}
	return 0
}

// values decodes n values of a page in encoding enc. reopen returns a
// second reader of the same values, from their start, for the encoding
// that stores two streams of lengths one after the other.
func (s *streamer) values(st *region, c *chunk, enc int32, n int64, dictCount int64, reopen func() (*region, error)) error {
	if n == 0 {
		// A page of nulls only: whatever its encoding wrote (a bit
		// width, a header) holds no value, and drain reads past it.
		return nil
	}
	switch enc {
	case encPlain:
		return s.plain(st, c, n)
	case encPlainDict, encRLEDict:
		if dictCount < 0 {
			return errors.New("dictionary indices without a dictionary page")
		}
		w, err := st.byte()
		if err != nil {
			return err
		}
		if w > 32 {
			return fmt.Errorf("dictionary indices of %d bits", w)
		}
		return hybrid(st, int(w), n, func(v uint64, k int64) error {
			if v >= uint64(dictCount) {
				return fmt.Errorf("dictionary index %d of a dictionary of %d", v, dictCount)
			}
			if s.dig != nil {
				s.dig.dictValues(v, k)
			}
			return nil
		})
	case encRLE:
		if c.phys != parquet.Types.Boolean {
			return errors.New("RLE values of a type other than BOOLEAN")
		}
		l, err := st.u32()
		if err != nil {
			return err
		}
		return st.sub(int64(l), func(r *region) error {
			return hybrid(r, 1, n, func(v uint64, k int64) error {
				if s.dig != nil {
					for ; k > 0; k-- {
						s.dig.value([]byte{byte(v)})
					}
				}
				return nil
			})
		})
	case encDeltaBinary:
		if c.phys != parquet.Types.Int32 && c.phys != parquet.Types.Int64 {
			return errors.New("DELTA_BINARY_PACKED values of a type other than INT32 or INT64")
		}
		d, err := newDelta(st, n)
		if err != nil {
			return err
		}
		if s.dig == nil {
			// Any bits are a valid integer: reading past them is the
			// decode, in time linear in the bytes, not in the count.
			return d.skipAll()
		}
		for i := int64(0); i < n; i++ {
			v, err := d.next()
			if err != nil {
				return err
			}
			s.dig.int(c.phys, v)
		}
		return nil
	case encDeltaLength:
		if c.phys != parquet.Types.ByteArray {
			return errors.New("DELTA_LENGTH_BYTE_ARRAY values of a type other than BYTE_ARRAY")
		}
		return s.deltaLength(st, n)
	case encDeltaByteArray:
		if c.phys != parquet.Types.ByteArray && c.phys != parquet.Types.FixedLenByteArray {
			return errors.New("DELTA_BYTE_ARRAY values of a type other than a byte array")
		}
		return s.deltaByteArray(st, c, n, reopen)
	case encByteStream:
		w := width(c)
		if w <= 0 || c.phys == parquet.Types.Int96 {
			return errors.New("BYTE_STREAM_SPLIT values of a type without a fixed width")
		}
		if s.dig == nil {
			return st.skip(n * w)
		}
		buf := make([]byte, n*w)
		if err := st.full(buf); err != nil {
			return err
		}
		v := make([]byte, w)
		for i := int64(0); i < n; i++ {
			for k := int64(0); k < w; k++ {
				v[k] = buf[k*n+i]
			}
			s.dig.value(v)
		}
		return nil
	}
	return fmt.Errorf("values in encoding %d", enc)
}

// plain decodes n PLAIN values.
func (s *streamer) plain(st *region, c *chunk, n int64) error {
	switch c.phys {
	case parquet.Types.Boolean:
		nb := (n + 7) / 8
		if s.dig == nil {
			return st.skip(nb)
		}
		buf := make([]byte, nb)
		if err := st.full(buf); err != nil {
			return err
		}
		for i := int64(0); i < n; i++ {
			s.dig.value([]byte{buf[i/8] >> (i % 8) & 1})
		}
		return nil
	case parquet.Types.ByteArray:
		for i := int64(0); i < n; i++ {
			if i%(64<<10) == 0 {
				if err := s.ctx.Err(); err != nil {
					return err
				}
			}
			l, err := st.u32()
			if err != nil {
				return err
			}
			if int64(l) > st.n {
				return fmt.Errorf("a value of %d bytes in the %d left of its page", l, st.n)
			}
			if s.dig == nil {
				if err := st.skip(int64(l)); err != nil {
					return err
				}
				continue
			}
			v := make([]byte, l)
			if err := st.full(v); err != nil {
				return err
			}
			s.dig.value(v)
		}
		return nil
	}
	w := width(c)
	if w < 0 || (w == 0 && c.phys != parquet.Types.FixedLenByteArray) {
		return fmt.Errorf("values of physical type %s", c.phys)
	}
	if s.dig == nil {
		return st.skip(n * w)
	}
	v := make([]byte, w)
	for i := int64(0); i < n; i++ {
		if err := st.full(v); err != nil {
			return err
		}
		s.dig.value(v)
	}
	return nil
}

// deltaLength decodes DELTA_LENGTH_BYTE_ARRAY: all the lengths, then all
// the bytes.
func (s *streamer) deltaLength(st *region, n int64) error {
	d, err := newDelta(st, n)
	if err != nil {
		return err
	}
	var total int64
	var lens []int64
	for i := int64(0); i < n; i++ {
		l, err := d.next()
		if err != nil {
			return err
		}
		if l < 0 || l > math.MaxInt32 {
			return fmt.Errorf("a value of length %d", l)
		}
		total += l
		if s.dig != nil {
			lens = append(lens, l)
		}
	}
	if total > st.n {
		return fmt.Errorf("values of %d bytes in the %d left of their page", total, st.n)
	}
	if s.dig == nil {
		return st.skip(total)
	}
	for _, l := range lens {
		v := make([]byte, l)
		if err := st.full(v); err != nil {
			return err
		}
		s.dig.value(v)
	}
	return nil
}

// deltaByteArray decodes DELTA_BYTE_ARRAY: the prefix lengths, then the
// suffix lengths, then the suffixes. Each prefix must fit in the value
// before it, so the two length streams are read side by side, the suffix
// lengths through a second reader of the page.
func (s *streamer) deltaByteArray(st *region, c *chunk, n int64, reopen func() (*region, error)) error {
	prefixes, err := newDelta(st, n)
	if err != nil {
		return err
	}
	alt, err := reopen()
	if err != nil {
		return err
	}
	skipped, err := newDelta(alt, n)
	if err != nil {
		return err
	}
	for i := int64(0); i < n; i++ {
		if _, err := skipped.next(); err != nil {
			return err
		}
	}
	if err := skipped.finish(); err != nil {
		return err
	}
	suffixes, err := newDelta(alt, n)
	if err != nil {
		return err
	}
	var prev, total int64
	var prevValue []byte
	type part struct{ prefix, suffix int64 }
	var parts []part
	for i := int64(0); i < n; i++ {
		p, err := prefixes.next()
		if err != nil {
			return err
		}
		l, err := suffixes.next()
		if err != nil {
			return err
		}
		if p < 0 || l < 0 || p > prev || p+l > math.MaxInt32 {
			return fmt.Errorf("value %d: a prefix of %d bytes of a value of %d, and a suffix of %d", i, p, prev, l)
		}
		if c.phys == parquet.Types.FixedLenByteArray && p+l != c.typeLen {
			return fmt.Errorf("value %d: %d bytes for a column of %d", i, p+l, c.typeLen)
		}
		prev = p + l
		total += l
		if s.dig != nil {
			parts = append(parts, part{p, l})
		}
	}
	if err := prefixes.finish(); err != nil {
		return err
	}
	if err := suffixes.finish(); err != nil {
		return err
	}
	if total > alt.n {
		return fmt.Errorf("suffixes of %d bytes in the %d left of their page", total, alt.n)
	}
	if s.dig == nil {
		if err := alt.skip(total); err != nil {
			return err
		}
	} else {
		for _, pt := range parts {
			v := append([]byte(nil), prevValue[:pt.prefix]...)
			suf := make([]byte, pt.suffix)
			if err := alt.full(suf); err != nil {
				return err
			}
			v = append(v, suf...)
			s.dig.value(v)
			prevValue = v
		}
	}
	// The second reader has read the page to its end; the first, which
	// the caller drains, read it to the end of the prefixes.
	return drain(alt)
}

// levels decodes n levels stored in the RLE/bit-packed hybrid, each at
// most max, and returns how many equal target.
func levels(r *region, w int, n int64, top, target int16, dig levelSink) (int64, error) {
	var count int64
	err := hybrid(r, w, n, func(v uint64, k int64) error {
		if v > uint64(top) {
			return fmt.Errorf("a level of %d above the maximum %d", v, top)
		}
		if int16(v) == target {
			count += k
		}
		if dig != nil {
			dig(int16(v), k)
		}
		return nil
	})
	return count, err
}

// bitPackedLevels decodes n levels of the deprecated BIT_PACKED encoding
// (most significant bit first).
func bitPackedLevels(r *region, w int, n int64, top, target int16, dig levelSink) (int64, error) {
	var count int64
	var acc uint64
	var have int
	for i := int64(0); i < n; i++ {
		for have < w {
			b, err := r.byte()
			if err != nil {
				return 0, err
			}
			acc = acc<<8 | uint64(b)
			have += 8
		}
		v := (acc >> (have - w)) & (1<<w - 1)
		have -= w
		if v > uint64(top) {
			return 0, fmt.Errorf("a level of %d above the maximum %d", v, top)
		}
		if int16(v) == target {
			count++
		}
		if dig != nil {
			dig(int16(v), 1)
		}
	}
	return count, nil
}

// hybrid decodes n values of w bits stored in the RLE/bit-packed hybrid,
// handing each run to visit as (value, count).
func hybrid(r *region, w int, n int64, visit func(v uint64, k int64) error) error {
	vbytes := (w + 7) / 8
	var group [64]byte
	var vals [8]uint64
	for n > 0 {
		h, err := r.uvarint()
		if err != nil {
			return err
		}
		if h&1 == 0 {
			k := int64(min(h>>1, uint64(n)))
			var v uint64
			for i := 0; i < vbytes; i++ {
				b, err := r.byte()
				if err != nil {
					return err
				}
				v |= uint64(b) << (8 * i)
			}
			if w < 64 && v>>w != 0 {
				return fmt.Errorf("a run of value %d wider than %d bits", v, w)
			}
			if k == 0 {
				continue
			}
			if err := visit(v, k); err != nil {
				return err
			}
			n -= k
			continue
		}
		if w == 0 {
			// Groups of zero-width values hold no bytes: take them whole.
			k := int64(min(h>>1, uint64(n+7)/8)) * 8
			k = min(k, n)
			if k > 0 {
				if err := visit(0, k); err != nil {
					return err
				}
			}
			n -= k
			continue
		}
		for groups := h >> 1; groups > 0 && n > 0; groups-- {
			g := group[:w]
			if err := r.full(g); err != nil {
				return err
			}
			unpack(g, w, vals[:])
			for _, v := range vals[:min(8, n)] {
				if err := visit(v, 1); err != nil {
					return err
				}
			}
			n -= min(8, n)
		}
	}
	return nil
}

// unpack reads len(out) values of w bits, least significant bit first.
func unpack(src []byte, w int, out []uint64) {
	var acc uint64
	var have, idx int
	for i := range out {
		var v uint64
		got := 0
		for got < w {
			if have == 0 {
				acc = uint64(src[idx])
				idx++
				have = 8
			}
			take := min(w-got, have)
			v |= (acc & (1<<take - 1)) << got
			acc >>= take
			have -= take
			got += take
		}
		out[i] = v
	}
}

// delta decodes a DELTA_BINARY_PACKED stream, one block at a time.
type delta struct {
	r                 *region
	block, miniblocks int
	total, read       int64
	last              int64
	buf               []uint64
	pos               int
	widths, packed    []byte
}

func newDelta(r *region, want int64) (*delta, error) {
	block, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	minis, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	total, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	first, err := r.zigzag()
	if err != nil {
		return nil, err
	}
	if block == 0 || block%128 != 0 || block > maxDeltaBlock || minis == 0 || block%minis != 0 || (block/minis)%32 != 0 {
		return nil, fmt.Errorf("DELTA_BINARY_PACKED blocks of %d values in %d miniblocks", block, minis)
	}
	if total != uint64(want) {
		return nil, fmt.Errorf("DELTA_BINARY_PACKED holds %d values; the page has %d", total, want)
	}
	return &delta{r: r, block: int(block), miniblocks: int(minis), total: int64(total), last: first}, nil
}

func (d *delta) next() (int64, error) {
	if d.read >= d.total {
		return 0, errors.New("DELTA_BINARY_PACKED read past its values")
	}
	d.read++
	if d.read == 1 {
		return d.last, nil
	}
	if d.pos == len(d.buf) {
		if err := d.load(); err != nil {
			return 0, err
		}
	}
	d.last += int64(d.buf[d.pos])
	d.pos++
	return d.last, nil
}

// load reads the next block, of which only the miniblocks holding values
// are stored.
func (d *delta) load() error {
	minDelta, err := d.r.zigzag()
	if err != nil {
		return err
	}
	if cap(d.widths) < d.miniblocks {
		d.widths = make([]byte, d.miniblocks)
	}
	d.widths = d.widths[:d.miniblocks]
	if err := d.r.full(d.widths); err != nil {
		return err
	}
	left := d.total - d.read + 1 // values still to come, this one included
	per := d.block / d.miniblocks
	n := int(min(int64(d.block), left))
	if cap(d.buf) < d.block {
		d.buf = make([]uint64, d.block)
	}
	d.buf = d.buf[:0]
	for m := 0; m*per < n; m++ {
		w := int(d.widths[m])
		if w > 64 {
			return fmt.Errorf("DELTA_BINARY_PACKED miniblock of %d bits", w)
		}
		nb := per * w / 8
		if cap(d.packed) < nb {
			d.packed = make([]byte, nb)
		}
		p := d.packed[:nb]
		if err := d.r.full(p); err != nil {
			return err
		}
		at := len(d.buf)
		d.buf = d.buf[:at+per]
		vals := d.buf[at:]
		unpack(p, w, vals)
		for i := range vals {
			vals[i] += uint64(minDelta)
		}
	}
	d.buf = d.buf[:n]
	d.pos = 0
	return nil
}

// skipAll reads past every block of a stream none of whose values has
// been read, without unpacking them.
func (d *delta) skipAll() error {
	if d.total == 0 {
		return nil
	}
	per := d.block / d.miniblocks
	for left := d.total - 1; left > 0; left -= min(left, int64(d.block)) {
		if _, err := d.r.zigzag(); err != nil {
			return err
		}
		if cap(d.widths) < d.miniblocks {
			d.widths = make([]byte, d.miniblocks)
		}
		d.widths = d.widths[:d.miniblocks]
		if err := d.r.full(d.widths); err != nil {
			return err
		}
		for m := 0; int64(m*per) < min(left, int64(d.block)); m++ {
			w := int(d.widths[m])
			if w > 64 {
				return fmt.Errorf("DELTA_BINARY_PACKED miniblock of %d bits", w)
			}
			if err := d.r.skip(int64(per * w / 8)); err != nil {
				return err
			}
		}
	}
	d.read = d.total
	return nil
}

// finish reads past the values not yet read, to the end of the stream.
func (d *delta) finish() error {
	for d.read < d.total {
		if _, err := d.next(); err != nil {
			return err
		}
	}
	return nil
}

// levelSink receives levels in tests; nil otherwise.
type levelSink func(level int16, count int64)

func (s *streamer) repDigest() levelSink {
	if s.dig == nil {
		return nil
	}
	return s.dig.rep
}

func (s *streamer) defDigest() levelSink {
	if s.dig == nil {
		return nil
	}
	return s.dig.def
}
