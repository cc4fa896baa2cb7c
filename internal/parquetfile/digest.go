package parquetfile

import (
	"encoding/binary"
	"hash"
	"hash/fnv"

	"github.com/apache/arrow-go/v18/parquet"
)

// digest records what the streaming decoder decodes, column by column,
// so that tests can compare it with arrow-go's decode of the same file.
// Every value is written as its length and its bytes (fixed-width values
// little-endian), every level as two bytes.
type digest struct {
	cols   map[int]*columnDigest
	cur    *columnDigest
	dict   [][]byte
	inDict bool
}

type columnDigest struct {
	values, defs, reps hash.Hash64
	n                  int64
}

func newDigest() *digest { return &digest{cols: map[int]*columnDigest{}} }

func (d *digest) column(c int) {
	if d.cols[c] == nil {
		d.cols[c] = &columnDigest{values: fnv.New64a(), defs: fnv.New64a(), reps: fnv.New64a()}
	}
	d.cur = d.cols[c]
}

func (d *digest) startDict() { d.dict, d.inDict = nil, true }
func (d *digest) endDict()   { d.inDict = false }

func (d *digest) value(v []byte) {
	if d.inDict {
		d.dict = append(d.dict, append([]byte(nil), v...))
		return
	}
	d.cur.n++
	d.cur.values.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(v))))
	d.cur.values.Write(v)
}

func (d *digest) dictValues(i uint64, k int64) {
	for ; k > 0; k-- {
		d.value(d.dict[i])
	}
}

func (d *digest) int(t parquet.Type, v int64) {
	if t == parquet.Types.Int32 {
		d.value(binary.LittleEndian.AppendUint32(nil, uint32(v)))
		return
	}
	d.value(binary.LittleEndian.AppendUint64(nil, uint64(v)))
}

func levelWrite(h hash.Hash64, l int16, k int64) {
	b := binary.LittleEndian.AppendUint16(nil, uint16(l))
	for ; k > 0; k-- {
		h.Write(b)
	}
}

func (d *digest) def(l int16, k int64) { levelWrite(d.cur.defs, l, k) }
func (d *digest) rep(l int16, k int64) { levelWrite(d.cur.reps, l, k) }
