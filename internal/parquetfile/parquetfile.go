// Package parquetfile reads what statsnap needs from a Parquet file: with
// arrow-go, the footer's row count and the Arrow schema derived from the
// file in a canonical form; with its own streaming decoder, a decode of
// every value in bounded memory.
package parquetfile

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Field is one field of an Arrow schema in the canonical form kept in
// manifests: built from type IDs and parameters, so it does not change
// when arrow-go changes how it prints types.
type Field struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable"`
	Children []Field `json:"children,omitempty"`
}

// Info is what the footer says about a file.
type Info struct {
	Rows      int64
	RowGroups int
	Fields    []Field
	// IPC is the Arrow IPC serialization of the schema, base64: the exact
	// form, kept for readers that want arrow-go's own schema back.
	IPC string
}

// Source is what a Parquet reader needs.
type Source = parquet.ReaderAtSeeker

// keepOpen hides the caller's Close from arrow-go, whose Reader.Close
// closes its source: the file belongs to the caller, who may hash it,
// inspect it and decode it through one descriptor.
type keepOpen struct{ Source }

// Inspect reads the footer of a Parquet file.
func Inspect(r Source) (info Info, err error) {
	return InspectContext(context.Background(), r)
}

// InspectContext reads the footer of a Parquet file, refusing one whose
// footer or schema is out of bounds before arrow-go builds anything from
// it.
func InspectContext(ctx context.Context, r Source) (info Info, err error) {
	return inspect(ctx, r, false)
}

// Check is InspectContext plus a walk of every page header: the
// structural checks a file passes before any reader decodes it (DuckDB
// allocates what a page header declares). It returns ErrBounds, wrapped,
// when the file declares more than the bounds allow.
func Check(ctx context.Context, r Source) (info Info, err error) {
	return inspect(ctx, r, true)
}

func inspect(ctx context.Context, r Source, pages bool) (info Info, err error) {
	if err := checkFooter(ctx, r); err != nil {
		return Info{}, err
	}
	defer func() {
		// arrow-go panics on some malformed footers; a tampered file must
		// be a problem to report, not a crash.
		if p := recover(); p != nil {
			err = fmt.Errorf("read parquet footer: malformed file: %v", p)
		}
	}()
	pr, err := file.NewParquetReader(keepOpen{r})
	if err != nil {
		return Info{}, fmt.Errorf("read parquet footer: %w", err)
	}
	defer pr.Close()
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if pages {
		if _, err := checkPages(ctx, r, pr); err != nil {
			return Info{}, fmt.Errorf("check parquet pages: %w", err)
		}
	}
	sc, err := pqarrow.FromParquet(pr.MetaData().Schema, &pqarrow.ArrowReadProperties{}, pr.MetaData().KeyValueMetadata())
	if err != nil {
		return Info{}, fmt.Errorf("derive arrow schema: %w", err)
	}
	if pr.NumRows() < 0 {
		return Info{}, fmt.Errorf("read parquet footer: it claims %d rows", pr.NumRows())
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("serialize arrow schema: %w", err)
	}
	return Info{
		Rows:      pr.NumRows(),
		RowGroups: pr.NumRowGroups(),
		Fields:    Canonical(sc),
		IPC:       base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// Canonical returns the canonical field list of s.
func Canonical(s *arrow.Schema) []Field {
	out := make([]Field, 0, s.NumFields())
	for _, f := range s.Fields() {
		out = append(out, canonicalField(f))
	}
	return out
}

func canonicalField(f arrow.Field) Field {
	cf := Field{Name: f.Name, Nullable: f.Nullable, Type: typeName(f.Type)}
	switch t := f.Type.(type) {
	case arrow.NestedType:
		for _, c := range t.Fields() {
			cf.Children = append(cf.Children, canonicalField(c))
		}
	}
	return cf
}

func typeName(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.TimestampType:
		return fmt.Sprintf("timestamp[%s,%s]", t.Unit, t.TimeZone)
	case *arrow.Time32Type:
		return fmt.Sprintf("time32[%s]", t.Unit)
	case *arrow.Time64Type:
		return fmt.Sprintf("time64[%s]", t.Unit)
	case *arrow.DurationType:
		return fmt.Sprintf("duration[%s]", t.Unit)
	case arrow.DecimalType:
		return fmt.Sprintf("%s(%d,%d)", t.ID(), t.GetPrecision(), t.GetScale())
	case *arrow.FixedSizeBinaryType:
		return fmt.Sprintf("fixed_size_binary[%d]", t.ByteWidth)
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("fixed_size_list[%d]", t.Len())
	case *arrow.DictionaryType:
		return fmt.Sprintf("dictionary[%s,%s]", typeName(t.IndexType), typeName(t.ValueType))
	case arrow.ExtensionType:
		return fmt.Sprintf("extension[%s,%s]", t.ExtensionName(), typeName(t.StorageType()))
	}
	return t.ID().String()
}

// Equal reports whether two canonical field lists are the same.
func Equal(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Type != b[i].Type || a[i].Nullable != b[i].Nullable || !Equal(a[i].Children, b[i].Children) {
			return false
		}
	}
	return true
}

// maxDescribe bounds Describe's output: a message need not list a
// hostile schema's million fields.
const maxDescribe = 4096

// Describe prints a field list compactly for messages, cut short (with
// "…") past a few kilobytes. The work is linear in what it prints.
func Describe(fs []Field) string {
	var b bytes.Buffer
	describe(&b, fs)
	if b.Len() > maxDescribe {
		cut := maxDescribe
		for cut > 0 && !utf8.RuneStart(b.Bytes()[cut]) {
			cut--
		}
		return b.String()[:cut] + "…"
	}
	return b.String()
}

func describe(b *bytes.Buffer, fs []Field) {
	for i, f := range fs {
		if b.Len() > maxDescribe {
			return
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name + " " + f.Type)
		if len(f.Children) > 0 {
			b.WriteString("<")
			describe(b, f.Children)
			b.WriteString(">")
		}
	}
}

// DecodeAll decodes every value of every column, row group by row group,
// and returns the number of rows it decoded. It decodes what Parquet
// stores, page by page as a stream (stream.go): every level, dictionary
// index, length and value, checked against the counts, bounds and sizes
// the file declares, so memory stays a few buffers whatever the footer
// claims and whatever the size of a page or a value. (arrow-go's reader,
// used before, holds pages whole, refuses pages above 256 MiB, refuses
// some valid files DuckDB writes, such as fixed-size lists with NULLs and
// format 2 INT32 deltas of 33 bits, and took 2.3 times as long.)
func DecodeAll(ctx context.Context, r Source) (rows int64, err error) {
	if err := checkFooter(ctx, r); err != nil {
		return 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode parquet: malformed file: %v", p)
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
	for g := 0; g < pr.NumRowGroups(); g++ {
		n, err := streamRowGroup(ctx, r, pr, g, nil)
		if err != nil {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			return rows, fmt.Errorf("decode parquet: %w", err)
		}
		rows += n
	}
	return rows, nil
}
