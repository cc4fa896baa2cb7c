package prune

import (
	"bytes"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

var (
	oneRowOnce sync.Once
	oneRow     []byte
	oneRowErr  error
)

// oneRowParquet is a real Parquet file holding one row, as a seed export
// of a one-row table would be.
func oneRowParquet(t *testing.T) []byte {
	t.Helper()
	oneRowOnce.Do(func() {
		sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(42)
		rec := b.NewRecordBatch()
		defer rec.Release()
		tbl := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
		defer tbl.Release()
		var buf bytes.Buffer
		oneRowErr = pqarrow.WriteTable(tbl, &buf, 1000, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
		oneRow = buf.Bytes()
	})
	if oneRowErr != nil {
		t.Fatal(oneRowErr)
	}
	return oneRow
}
