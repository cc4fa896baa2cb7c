package snapshot

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/zeebo/blake3"

	"github.com/openspartan/statsnap/internal/storage"
)

// FormatVersion is the manifest format this build writes; it reads every
// version up to it. Version 2 added Table.Files: a table's rows may be
// held by several Parquet files, and a file may have been written by an
// earlier snapshot of the same folder (incremental snapshots, see
// docs/incremental.md). Version 1 manifests name one file per table.
const FormatVersion = 2

// MaxManifestSize bounds what is read of a manifest: a real one is a few
// hundred kilobytes even for thousands of tables.
const MaxManifestSize = 64 << 20

// maxDepth bounds JSON nesting; a real manifest is about 8 levels deep.
const maxDepth = 64

// Manifest is backup_metadata_{ts}.json: the seed's metadata, field for
// field, plus what makes the snapshot provable and restorable.
//
// The types of this file are the on-disk format, version FormatVersion,
// and nothing else: they import no reader of databases or Parquet files,
// so a change there cannot change the format unnoticed. Backup maps its
// readers' types onto them field by field; the golden test
// (testdata/manifest.golden.json) fails on any change to the JSON. A new
// member is a decision: add it here, to the golden file, and, if older
// builds must refuse it, raise FormatVersion.
type Manifest struct {
	Gamertag         string            `json:"gamertag"`
	BackupTimestamp  string            `json:"backup_timestamp"`
	BackupDatetime   string            `json:"backup_datetime"`
	SourceDB         string            `json:"source_db"`
	Compression      string            `json:"compression"`
	CompressionLevel int               `json:"compression_level"`
	Tables           map[string]*Table `json:"tables"`
	TotalSizeBytes   int64             `json:"total_size_bytes"`
	TotalSizeMB      float64           `json:"total_size_mb"`

	FormatVersion  int    `json:"format_version,omitempty"`
	ToolVersion    string `json:"tool_version,omitempty"`
	DuckDBVersion  string `json:"duckdb_version,omitempty"`
	StorageVersion string `json:"storage_version,omitempty"`
	HashAlgorithm  string `json:"hash_algorithm,omitempty"`
	// TableOrder is the order restore creates tables in: foreign-key
	// parents before children.
	TableOrder []string   `json:"table_order,omitempty"`
	Schemas    []Object   `json:"schemas,omitempty"`
	Types      []Object   `json:"types,omitempty"`
	Sequences  []Sequence `json:"sequences,omitempty"`
	Indexes    []Object   `json:"indexes,omitempty"`
	Views      []Object   `json:"views,omitempty"`
	Macros     []Object   `json:"macros,omitempty"`
	Comments   []Object   `json:"comments,omitempty"`
	// Skipped are the source's tables this snapshot does not hold,
	// because the user chose to leave them out (backup --skip-table). A
	// snapshot with any is partial: verify, snapshots and restore --list
	// say so.
	Skipped []SkippedTable `json:"skipped_tables,omitempty"`

	// Checksum is the BLAKE3 of the canonical manifest (see Canonical);
	// MAC the keyed BLAKE3 of the same bytes, when backup had a key.
	Checksum string `json:"manifest_checksum,omitempty"`
	MAC      string `json:"manifest_mac,omitempty"`
}

// SkippedTable is a table of the source left out of a snapshot, and why.
type SkippedTable struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Reason says why: what statsnap found that it cannot carry, or that
	// the user asked for the table to be left out.
	Reason string `json:"reason"`
}

// Key is the skipped table's manifest key.
func (s SkippedTable) Key() string { return TableKey(s.Schema, s.Name) }

// MaxSkipReason bounds a skipped table's reason, in bytes.
const MaxSkipReason = 4096

// Partial reports a snapshot that leaves some of the source's tables out.
func (m *Manifest) Partial() bool { return len(m.Skipped) > 0 }

// Table is one table's entry.
type Table struct {
	Rows          int64  `json:"rows"`
	FileSizeBytes int64  `json:"file_size_bytes"`
	File          string `json:"file"`

	Schema      string       `json:"schema,omitempty"`
	Name        string       `json:"name,omitempty"`
	BLAKE3      string       `json:"blake3,omitempty"`
	CreateSQL   string       `json:"create_sql,omitempty"`
	Columns     []Column     `json:"columns,omitempty"`
	ArrowSchema *ArrowSchema `json:"arrow_schema,omitempty"`

	// Files lists, in row order, the Parquet files that hold the table's
	// rows (format 2). A file may have been written by an earlier snapshot
	// of the folder and shared because its rows were proven unchanged. File,
	// BLAKE3 and FileSizeBytes above then describe the first file, the
	// table's total size and rows, so that a reader of format 1 sees a
	// consistent, if partial, entry; DataFiles is the one way to read them.
	Files []Part `json:"files,omitempty"`
	// Fingerprint is the fingerprint of every row of the table (the parts'
	// fingerprints combined), Shape the BLAKE3 of what decides how rows
	// become Parquet (columns, types, encodings). A later backup shares a
	// part only when both its Shape and its part's fingerprint match.
	Fingerprint string `json:"fingerprint,omitempty"`
	Shape       string `json:"shape,omitempty"`
	// FingerprintVersion is the construction the table's and its parts'
	// fingerprints were made with (absent: 1). Fingerprints of different
	// constructions say nothing about each other's rows: a backup shares
	// a file, and diff compares fingerprints, only within one.
	FingerprintVersion int `json:"fingerprint_version,omitempty"`
}

// FingerprintConstruction is the construction of t's fingerprints: its
// FingerprintVersion, or 1 for entries written before the field.
func (t *Table) FingerprintConstruction() int {
	if t.FingerprintVersion == 0 {
		return 1
	}
	return t.FingerprintVersion
}

// Part is one Parquet file holding a run of a table's rows: those whose
// DuckDB rowid lies in [RowidLo, RowidHi) when the backup read them.
type Part struct {
	File          string `json:"file"`
	Rows          int64  `json:"rows"`
	FileSizeBytes int64  `json:"file_size_bytes"`
	BLAKE3        string `json:"blake3"`
	RowidLo       int64  `json:"rowid_lo"`
	RowidHi       int64  `json:"rowid_hi"`
	// Fingerprint covers every value of every row of the part, with its
	// rowid: 32 hex digits, two independent 64-bit hashes.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// DataFiles returns the files holding the table's rows, in order: Files
// in format 2, otherwise the one file the entry names.
func (t *Table) DataFiles() []Part {
	if len(t.Files) > 0 {
		return t.Files
	}
	return []Part{{File: t.File, Rows: t.Rows, FileSizeBytes: t.FileSizeBytes, BLAKE3: t.BLAKE3}}
}

// Column records how one column is stored.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Encoding is empty when the column is stored as DuckDB writes it,
	// otherwise the portable lossless encoding restore must undo.
	Encoding  string `json:"encoding,omitempty"`
	Generated bool   `json:"generated,omitempty"`
	// VariantShapes are the shapes of the column's VARIANT values that
	// are stored as typed trees (encoding variant-typed-v3 and its nested
	// forms): restore spells each out in its SQL. Restore checks them
	// with a strict grammar before any is used.
	VariantShapes []string `json:"variant_shapes,omitempty"`
}

// ArrowSchema is the schema arrow-go derives from the written file: a
// readable field list (compared by verify) and the exact IPC form.
type ArrowSchema struct {
	Fields []Field `json:"fields"`
	IPC    string  `json:"ipc_base64"`
}

// Field is one field of an Arrow schema, as recorded: its name, Arrow
// type name, nullability and, for nested types, its children.
type Field struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable"`
	Children []Field `json:"children,omitempty"`
}

// Object is a database object other than a table, kept as the DDL that
// recreates it: a schema, type, index, view, macro or comment.
type Object struct {
	Kind   string `json:"kind"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Table  string `json:"table,omitempty"` // the table an index belongs to
	SQL    string `json:"sql"`
}

// Sequence is a sequence's DDL with the value its next nextval must
// return once restored.
type Sequence struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	SQL       string `json:"sql"`
	Next      int64  `json:"next_value"`
	Increment int64  `json:"increment_by"`
}

// TableKey names a table the way the manifest's tables member does:
// "name" in schema main, "schema.name" elsewhere.
func TableKey(schema, name string) string {
	if schema == "main" {
		return name
	}
	return schema + "." + name
}

// Legacy reports whether m was written by the seed's script (no format
// version, no hashes).
func (m *Manifest) Legacy() bool { return m.FormatVersion == 0 }

// FileNames returns every data file the manifest names, each once, in
// table order (sorted keys for manifests without table_order).
func (m *Manifest) FileNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, key := range m.Keys() {
		for _, p := range m.Tables[key].DataFiles() {
			if !seen[p.File] {
				seen[p.File] = true
				names = append(names, p.File)
			}
		}
	}
	return names
}

// Keys returns the table keys in table_order, or sorted when the manifest
// has none (seed manifests).
func (m *Manifest) Keys() []string {
	if len(m.TableOrder) == len(m.Tables) && len(m.TableOrder) > 0 {
		return m.TableOrder
	}
	keys := make([]string, 0, len(m.Tables))
	for k := range m.Tables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Rows sums the rows of every table.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// Errors of manifests.
var (
	ErrManifestCorrupt = errors.New("manifest is corrupt")
	ErrUnknownFormat   = errors.New("manifest format version is unknown")
)

// Canonical returns the bytes the checksum and the MAC cover: the
// manifest's JSON with the checksum and MAC members removed, objects'
// keys sorted, no insignificant space, numbers exactly as written. It is
// computed from the raw JSON, not from this build's struct, so fields a
// newer statsnap adds are covered too.
func Canonical(raw []byte) ([]byte, error) {
	return canonicalWithout(raw, "manifest_checksum", "manifest_mac")
}

// canonicalWithout is Canonical for any statsnap object whose checksum
// and MAC members are called sum and mac (the ledger uses it too).
func canonicalWithout(raw []byte, sum, mac string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	delete(v, sum)
	delete(v, mac)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Checksum returns the hex BLAKE3-256 of canonical bytes.
func Checksum(canonical []byte) string {
	s := blake3.Sum256(canonical)
	return hex.EncodeToString(s[:])
}

// MAC returns the hex keyed BLAKE3-256 of canonical bytes.
func MAC(key, canonical []byte) (string, error) {
	h, err := blake3.NewKeyed(key)
	if err != nil {
		return "", fmt.Errorf("keyed hash: %w", err)
	}
	_, _ = h.Write(canonical) // a hash.Hash never fails to write
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Marshal returns the manifest's JSON with its checksum (and MAC when key
// is not nil) filled in.
func Marshal(m *Manifest, key []byte) ([]byte, error) {
	m.Checksum, m.MAC = "", ""
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	canon, err := Canonical(raw)
	if err != nil {
		return nil, err
	}
	m.Checksum = Checksum(canon)
	if key != nil {
		if m.MAC, err = MAC(key, canon); err != nil {
			return nil, err
		}
	}
	return json.MarshalIndent(m, "", "  ")
}

// Parsed is a manifest read from disk with what verify needs to know.
type Parsed struct {
	*Manifest
	Raw []byte
}

// Canonical returns the bytes the checksum and the MAC cover. It is
// computed on demand: listing a thousand snapshots needs none of them.
func (p *Parsed) Canonical() ([]byte, error) {
	c, err := Canonical(p.Raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifestCorrupt, err)
	}
	return c, nil
}

// ReadManifest reads at most MaxManifestSize bytes and parses them.
func ReadManifest(r io.Reader) (*Parsed, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrManifestCorrupt, MaxManifestSize>>20)
	}
	return ParseManifest(raw)
}

var hexRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseManifest parses and validates an untrusted manifest: valid UTF-8,
// no duplicate keys, bounded nesting, known format version, and every
// name it gives a plain name inside the folder. It does not check the
// checksum (verify reports that as its own problem).
func ParseManifest(raw []byte) (*Parsed, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrManifestCorrupt)
	}
	if err := checkStructure(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifestCorrupt, err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifestCorrupt, err)
	}
	if m.FormatVersion < 0 || m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%w: format_version %d, this build reads %d and older; upgrade statsnap to read it", ErrUnknownFormat, m.FormatVersion, FormatVersion)
	}
	if err := validate(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifestCorrupt, err)
	}
	return &Parsed{Manifest: &m, Raw: raw}, nil
}

func validate(m *Manifest) error {
	if m.BackupTimestamp != "" && !ValidID(m.BackupTimestamp) {
		return fmt.Errorf("backup_timestamp %q is not a snapshot id", m.BackupTimestamp)
	}
	if m.Tables == nil {
		return errors.New("no tables member")
	}
	files := map[string]string{}
	for key, t := range m.Tables {
		if t == nil {
			return fmt.Errorf("table %q: entry is null", key)
		}
		if err := storage.CheckName(t.File); err != nil {
			return fmt.Errorf("table %q: file %v", key, err)
		}
		if strings.HasPrefix(t.File, ".") {
			return fmt.Errorf("table %q: file %q is a hidden name", key, t.File)
		}
		if t.Rows < 0 || t.FileSizeBytes < 0 {
			return fmt.Errorf("table %q: negative rows or size", key)
		}
		if len(t.Files) > 0 {
			if err := validateParts(m, key, t); err != nil {
				return err
			}
		}
		for _, p := range t.DataFiles() {
			if other, ok := files[p.File]; ok {
				return fmt.Errorf("tables %q and %q share file %q", other, key, p.File)
			}
			files[p.File] = key
		}
		if m.Legacy() {
			continue
		}
		if t.Name == "" || t.Schema == "" || TableKey(t.Schema, t.Name) != key {
			return fmt.Errorf("table %q: schema %q and name %q do not match its key", key, t.Schema, t.Name)
		}
		if !hexRe.MatchString(t.BLAKE3) {
			return fmt.Errorf("table %q: blake3 %q is not 64 lowercase hex digits", key, t.BLAKE3)
		}
		// A column's name may hold a NUL byte (read_csv_auto makes one from
		// a CSV header that has one): readers refer to such a column
		// without spelling its name in SQL. A schema or table name cannot
		// be made with one, and restore spells them.
		if strings.ContainsRune(t.Schema, 0) || strings.ContainsRune(t.Name, 0) {
			return fmt.Errorf("table %q: schema or table name contains NUL", key)
		}
	}
	if err := validateSkipped(m); err != nil {
		return err
	}
	if !m.Legacy() {
		if m.HashAlgorithm != "blake3" {
			return fmt.Errorf("hash_algorithm %q, want blake3", m.HashAlgorithm)
		}
		if !ValidID(m.BackupTimestamp) {
			return fmt.Errorf("backup_timestamp %q is not a snapshot id", m.BackupTimestamp)
		}
		if _, err := ParseDatetime(m.BackupDatetime); err != nil {
			return err
		}
		if len(m.TableOrder) != len(m.Tables) {
			return fmt.Errorf("table_order lists %d tables, tables has %d", len(m.TableOrder), len(m.Tables))
		}
		for _, k := range m.TableOrder {
			if _, ok := m.Tables[k]; !ok {
				return fmt.Errorf("table_order names %q, which tables lacks", k)
			}
		}
	}
	return nil
}

// validateSkipped checks skipped_tables: statsnap format only, each a
// named table the snapshot does not hold, once, with a reason.
func validateSkipped(m *Manifest) error {
	if len(m.Skipped) == 0 {
		return nil
	}
	if m.Legacy() {
		return errors.New("skipped_tables in a manifest without format_version")
	}
	seen := map[string]bool{}
	for i, s := range m.Skipped {
		if s.Schema == "" || s.Name == "" {
			return fmt.Errorf("skipped_tables[%d]: empty schema or name", i)
		}
		if strings.ContainsRune(s.Schema, 0) || strings.ContainsRune(s.Name, 0) {
			return fmt.Errorf("skipped_tables[%d]: schema or name contains NUL", i)
		}
		if s.Reason == "" || len(s.Reason) > MaxSkipReason {
			return fmt.Errorf("skipped_tables[%d]: reason is empty or longer than %d bytes", i, MaxSkipReason)
		}
		key := s.Key()
		if seen[key] {
			return fmt.Errorf("skipped_tables names %q twice", key)
		}
		seen[key] = true
		if _, ok := m.Tables[key]; ok {
			return fmt.Errorf("skipped_tables names %q, which tables holds", key)
		}
	}
	return nil
}

var fingerprintRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// validateParts checks a format 2 table's files: plain Parquet names of
// this snapshot or an earlier one, each once, whose rows and sizes add up
// to the table's and whose rowid ranges follow each other.
func validateParts(m *Manifest, key string, t *Table) error {
	if m.FormatVersion < 2 {
		return fmt.Errorf("table %q: files is a member of format 2, this manifest says format %d", key, m.FormatVersion)
	}
	if len(t.Files) > MaxParts {
		return fmt.Errorf("table %q: %d files, more than %d", key, len(t.Files), MaxParts)
	}
	if t.Files[0].File != t.File {
		return fmt.Errorf("table %q: file %q is not its first file %q", key, t.File, t.Files[0].File)
	}
	if t.FingerprintVersion < 0 || t.FingerprintVersion > 1000 {
		return fmt.Errorf("table %q: fingerprint_version %d is not one statsnap writes", key, t.FingerprintVersion)
	}
	if t.Fingerprint != "" && !fingerprintRe.MatchString(t.Fingerprint) {
		return fmt.Errorf("table %q: fingerprint %q is not 32 lowercase hex digits", key, t.Fingerprint)
	}
	if t.Shape != "" && !hexRe.MatchString(t.Shape) {
		return fmt.Errorf("table %q: shape %q is not 64 lowercase hex digits", key, t.Shape)
	}
	var rows, size, hi int64
	seen := map[string]bool{}
	for i, p := range t.Files {
		if err := storage.CheckName(p.File); err != nil {
			return fmt.Errorf("table %q: file %v", key, err)
		}
		k, id := Classify(p.File)
		if k != KindParquet || id > m.BackupTimestamp {
			return fmt.Errorf("table %q: file %q is not a Parquet file of snapshot %s or an earlier one", key, p.File, m.BackupTimestamp)
		}
		if seen[p.File] {
			return fmt.Errorf("table %q: file %q is listed twice", key, p.File)
		}
		seen[p.File] = true
		if !hexRe.MatchString(p.BLAKE3) {
			return fmt.Errorf("table %q: file %q: blake3 %q is not 64 lowercase hex digits", key, p.File, p.BLAKE3)
		}
		if p.Fingerprint != "" && !fingerprintRe.MatchString(p.Fingerprint) {
			return fmt.Errorf("table %q: file %q: fingerprint %q is not 32 lowercase hex digits", key, p.File, p.Fingerprint)
		}
		if p.Rows < 0 || p.FileSizeBytes < 0 || p.RowidLo < hi || p.RowidHi < p.RowidLo || (i > 0 && p.RowidLo == p.RowidHi) {
			return fmt.Errorf("table %q: file %q: bad rows, size or rowid range", key, p.File)
		}
		hi = p.RowidHi
		// The sums are bounded: a part count above is capped and each term
		// is checked non-negative, but 2^63 can still be passed by adding.
		if rows+p.Rows < rows || size+p.FileSizeBytes < size {
			return fmt.Errorf("table %q: rows or sizes overflow", key)
		}
		rows += p.Rows
		size += p.FileSizeBytes
	}
	if rows != t.Rows || size != t.FileSizeBytes {
		return fmt.Errorf("table %q: its files hold %d rows in %d bytes, the table says %d rows in %d bytes", key, rows, size, t.Rows, t.FileSizeBytes)
	}
	if t.BLAKE3 != t.Files[0].BLAKE3 {
		return fmt.Errorf("table %q: blake3 is not its first file's", key)
	}
	return nil
}

// MaxParts bounds the files of one table: a hostile manifest must not make
// verify or restore plan millions of reads.
const MaxParts = 100_000

// checkStructure scans the JSON once, refusing duplicate object keys
// (Go's decoder would silently keep the last one, so two readers could
// see two different manifests) and nesting deeper than maxDepth. It is a
// byte scanner rather than json.Decoder.Token, which took 60% of listing
// time; syntax errors are left to json.Unmarshal, which runs next.
func checkStructure(raw []byte) error { return checkStructureDepth(raw, maxDepth) }

// checkStructureDepth is checkStructure with another nesting bound.
func checkStructureDepth(raw []byte, maxDepth int) error {
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]struct{}
	}
	var stack []frame
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return fmt.Errorf("nested deeper than %d levels", maxDepth)
			}
			stack = append(stack, frame{obj: c == '{', wantKey: c == '{'})
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("unbalanced brackets")
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		case '"':
			j, escaped := i+1, false
			for ; j < len(raw) && raw[j] != '"'; j++ {
				if raw[j] == '\\' {
					j++
					escaped = true
				}
			}
			if j >= len(raw) {
				return errors.New("unterminated string")
			}
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				key := string(raw[i+1 : j])
				if escaped {
					// "\u0074ables" is "tables": compare keys as decoded.
					if err := json.Unmarshal(raw[i:j+1], &key); err != nil {
						return err
					}
				}
				top := &stack[n-1]
				if top.keys == nil {
					top.keys = map[string]struct{}{}
				}
				if _, dup := top.keys[key]; dup {
					return fmt.Errorf("duplicate key %q", key)
				}
				top.keys[key] = struct{}{}
				top.wantKey = false
			}
			i = j
		}
	}
	if len(stack) != 0 {
		return errors.New("unbalanced brackets")
	}
	return nil
}
