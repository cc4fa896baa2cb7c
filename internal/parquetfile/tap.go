package parquetfile

import (
	"context"
	"io"
)

// tapTail is how much of a file's end a Tap keeps: the footer and its
// frame. arrow-go reads the last 64 KiB first; statsnap's footers are a
// few KiB. A longer footer is read from the file instead.
const tapTail = 1 << 20

// Tap watches a file's bytes go by, as they are hashed, and keeps what
// Check reads: the file's tail (the footer) and the header of every page.
// A Check through Source then needs no read of its own for those, which on
// an object store is a ranged request per page header (a verify of a
// 1 MiB snapshot took 1.2 s that way instead of 0.13 s).
//
// The tap walks the pages from the first byte after the magic, header to
// header, the way DuckDB lays them out: column chunks back to back. It
// knows nothing of the footer yet, so it may also decode a "header" where
// there is none (in another writer's gap, or the footer itself); Check
// only ever asks for the offsets its own walk from the footer reaches, and
// a header the tap does not hold is read from the file as before. What
// the tap serves was decoded by the same function from the same bytes
// that were hashed, so a Check through it sees the hashed bytes.
type Tap struct {
	size int64 // of the whole file, known before the first byte
	pos  int64 // bytes seen so far

	next    int64  // offset of the next page header, or -1 when lost
	hdr     []byte // bytes of that header seen so far
	want    int    // how many bytes of it to gather before decoding
	headers map[int64]pageHeader

	tail      []byte // the file's last len(tail) bytes, once seen
	tailStart int64
}

// NewTap returns a Tap for a file of size bytes.
func NewTap(size int64) *Tap {
	t := &Tap{size: size, next: 4, headers: make(map[int64]pageHeader)}
	t.tailStart = max(0, size-tapTail)
	t.tail = make([]byte, 0, size-t.tailStart)
	t.arm()
	return t
}

// arm sets how many bytes the header at t.next needs gathered: 4 KiB
// first, as readPageHeader reads, never past the file's end.
func (t *Tap) arm() {
	t.want = int(min(4<<10, t.size-t.next))
	if t.want <= 0 {
		t.lose()
	}
}

// lose stops the walk: Check reads what it needs from the file.
func (t *Tap) lose() {
	t.next = -1
	t.hdr = nil
}

// Write takes the file's next bytes, in order. It never fails.
func (t *Tap) Write(p []byte) (int, error) {
	start := t.pos
	t.pos += int64(len(p))
	if t.pos > t.tailStart {
		from := max(0, t.tailStart-start)
		room := int64(cap(t.tail) - len(t.tail))
		t.tail = append(t.tail, p[from:from+min(int64(len(p))-from, room)]...)
	}
	for t.next >= 0 {
		if len(t.hdr) < t.want {
			// Gather the header's bytes from p. The window read may run
			// past the next page's header: those bytes stay in t.hdr.
			have := t.next + int64(len(t.hdr)) // the next byte wanted
			if have >= t.pos {
				break // it comes with a later write
			}
			if have < start { // cannot happen: bytes come in order
				t.lose()
				break
			}
			at := have - start
			take := min(int64(t.want-len(t.hdr)), int64(len(p))-at)
			t.hdr = append(t.hdr, p[at:at+take]...)
			if len(t.hdr) < t.want {
				break
			}
		}
		h, err := decodePageHeader(context.Background(), t.hdr[:t.want])
		switch {
		case err == nil && h.compressed >= 0 && h.headerLen > 0:
			t.headers[t.next] = h
			step := h.headerLen + int64(h.compressed)
			t.next += step
			if step < int64(len(t.hdr)) {
				t.hdr = t.hdr[:copy(t.hdr, t.hdr[step:])]
			} else {
				t.hdr = t.hdr[:0]
			}
			t.arm()
		case err != nil && t.want < maxPageHeader && int64(t.want) < t.size-t.next:
			// A long header (statistics): gather up to the bound, as
			// readPageHeader's second read does.
			t.want = int(min(maxPageHeader, t.size-t.next))
		default:
			t.lose()
		}
	}
	return len(p), nil
}

// Source returns r, with the footer and page-header reads that Check makes
// served from what the tap saw when it saw the whole file. r must be the
// file the tap watched (or a copy of the same bytes).
func (t *Tap) Source(r Source) Source {
	if t.pos != t.size {
		return r
	}
	return &tapped{Source: r, t: t}
}

type tapped struct {
	Source
	t *Tap
}

func (s *tapped) ReadAt(p []byte, off int64) (int, error) {
	t := s.t
	if off >= t.tailStart && off < t.size {
		n := copy(p, t.tail[off-t.tailStart:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	return s.Source.ReadAt(p, off)
}

// pageHeader answers readPageHeader from the tap: the header at off, when
// the tap decoded one there that readPageHeader would decode too (it lies
// wholly before end).
func (s *tapped) pageHeader(off, end int64) (pageHeader, bool) {
	h, ok := s.t.headers[off]
	if !ok || off+h.headerLen > end {
		return pageHeader{}, false
	}
	return h, true
}

// headerSource is a Source that may already hold decoded page headers.
type headerSource interface {
	pageHeader(off, end int64) (pageHeader, bool)
}
