package main

// End-to-end tests of `statsnap verify` (and the statuses of `statsnap
// snapshots`) through the real binary. Every problem kind comes from a real
// fault made on a real snapshot: bytes flipped, files truncated, deleted,
// swapped, rewritten by DuckDB, manifests edited by hand.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/gofrs/flock"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// vDoc is verify's JSON.
type vDoc struct {
	OK        bool `json:"ok"`
	Snapshots []struct {
		Snapshot string              `json:"snapshot"`
		Status   string              `json:"status"`
		OK       bool                `json:"ok"`
		Problems []verify.Problem    `json:"problems"`
		Warnings []verify.Problem    `json:"warnings"`
		Files    []verify.FileResult `json:"files"`
	} `json:"snapshots"`
	Skipped []struct {
		Snapshot string `json:"snapshot"`
		Status   string `json:"status"`
	} `json:"skipped"`
}

// vFixture is one player's sample database and one snapshot of it, made
// once and cloned by every subtest.
type vFixture struct {
	root   string // holds data/players/V and data/backups/V
	id     string
	gt     string
	tables map[string]*snapshot.Table
}

const vGamertag = "V"

var (
	vOnce    sync.Once
	vShared_ *vFixture
)

// vShared is the fixture every verify test reads from (each works on its
// own clone): one sample player backed up once, in a folder TestMain
// removes.
func vShared(t *testing.T) *vFixture {
	t.Helper()
	vOnce.Do(func() {
		root := filepath.Join(filepath.Dir(binPath), "verify-fixture")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		vShared_ = vSetup(t, root)
	})
	if vShared_ == nil {
		t.Fatal("the shared verify fixture could not be made (see the first test that asked for it)")
	}
	return vShared_
}

func vSetup(t *testing.T, root string) *vFixture {
	t.Helper()
	samplePlayer(t, root, vGamertag, 30)
	r := mustCLI(t, root, "backup", "--gamertag", vGamertag, "--time", "2026-02-01T14:30:25+01:00", "--json")
	var doc backupJSONDoc
	jsonOut(t, r, &doc)
	if len(doc.Snapshots) != 1 {
		t.Fatalf("backup made %d snapshots", len(doc.Snapshots))
	}
	fx := &vFixture{root: root, id: doc.Snapshots[0].Snapshot, gt: vGamertag}
	p, _ := readManifest(t, filepath.Join(fx.backupDir(), snapshot.ManifestName(fx.id)))
	fx.tables = p.Tables
	for _, k := range []string{"match_stats", "highlight_events", "medals_earned", "antagonists"} {
		if fx.tables[k] == nil {
			t.Fatalf("the sample has no table %s", k)
		}
	}
	return fx
}

func (fx *vFixture) backupDir() string { return filepath.Join(fx.root, "data", "backups", fx.gt) }
func (fx *vFixture) db() string {
	return filepath.Join(fx.root, "data", "players", fx.gt, "stats.duckdb")
}

// file is the path of table key's file in folder.
func (fx *vFixture) file(folder, key string) string {
	return filepath.Join(folder, fx.tables[key].File)
}

// clone copies the backup folder to a fresh place, nested so that
// "../../etc/passwd" seen from it stays inside the test's own folder.
func (fx *vFixture) clone(t *testing.T) (work, folder string) {
	t.Helper()
	work = t.TempDir()
	folder = filepath.Join(work, "a", "b", fx.gt)
	testutil.CopyDir(t, fx.backupDir(), folder)
	return work, folder
}

// vVerify runs `verify --json` and decodes its document.
func vVerify(t *testing.T, dir string, env []string, args ...string) (result, vDoc) {
	t.Helper()
	r := cliEnv(t, dir, env, append([]string{"verify", "--json"}, args...)...)
	var doc vDoc
	if r.Code == 0 || r.Code == 3 {
		jsonOut(t, r, &doc)
	}
	return r, doc
}

// vKinds is the sorted set of problem kinds of a document's snapshots.
func vKinds(doc vDoc) []verify.Kind {
	set := map[verify.Kind]bool{}
	for _, s := range doc.Snapshots {
		for _, p := range s.Problems {
			set[p.Kind] = true
		}
	}
	out := []verify.Kind{}
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func vProblems(doc vDoc, kind verify.Kind) []verify.Problem {
	var out []verify.Problem
	for _, s := range doc.Snapshots {
		for _, p := range s.Problems {
			if p.Kind == kind {
				out = append(out, p)
			}
		}
	}
	return out
}

// vExpect checks the exit code and the exact set of problem kinds.
func vExpect(t *testing.T, r result, doc vDoc, code int, kinds ...verify.Kind) {
	t.Helper()
	kinds = slices.Sorted(slices.Values(kinds))
	if kinds == nil {
		kinds = []verify.Kind{}
	}
	got := vKinds(doc)
	if r.Code != code || !slices.Equal(got, kinds) {
		t.Fatalf("want exit %d with problems %v, got exit %d with %v\nstdout: %s\nstderr: %s", code, kinds, r.Code, got, r.Stdout, r.Stderr)
	}
	if (code == 0) != doc.OK {
		t.Fatalf("exit %d but ok=%v", code, doc.OK)
	}
	for _, s := range doc.Snapshots {
		for _, p := range s.Problems {
			if p.Detail == "" || strings.Contains(p.Detail, "\n") {
				t.Errorf("problem %s: detail %q is not one sentence", p.Kind, p.Detail)
			}
		}
	}
}

func vReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// vEditManifest rewrites the manifest's text with edit, which must change it.
func vEditManifest(t *testing.T, folder, id string, edit func(string) string) {
	t.Helper()
	path := filepath.Join(folder, snapshot.ManifestName(id))
	before := string(vReadFile(t, path))
	after := edit(before)
	if after == before {
		t.Fatal("the manifest edit changed nothing")
	}
	vWrite(t, path, []byte(after))
}

// vSetTableField replaces the JSON value of field in table key's entry of
// an indented manifest, the way someone editing it by hand would.
func vSetTableField(t *testing.T, manifest, key, field, value string) string {
	t.Helper()
	start := strings.Index(manifest, "\n    "+strconv.Quote(key)+": {")
	if start < 0 {
		t.Fatalf("manifest has no table %s", key)
	}
	rel := strings.Index(manifest[start:], "\n      "+strconv.Quote(field)+": ")
	if rel < 0 {
		t.Fatalf("table %s has no field %s", key, field)
	}
	vs := start + rel + len("\n      "+strconv.Quote(field)+": ")
	ve := vs + strings.IndexAny(manifest[vs:], ",\n")
	manifest = manifest[:vs] + value + manifest[ve:]
	// A format 2 entry repeats file, rows, size and hash in its one part
	// (files[0]): the edit goes there too, as a forger keeping the entry
	// consistent would make it, so that verify meets it in the file check.
	switch field {
	case "file", "rows", "file_size_bytes", "blake3":
	default:
		return manifest
	}
	fs := strings.Index(manifest[start:], "\n      \"files\": [")
	next := strings.Index(manifest[start+1:], "\n    \"")
	if fs < 0 || (next >= 0 && fs > next+1) {
		return manifest
	}
	fs += start
	fe := fs + strings.Index(manifest[fs:], "\n      ]")
	rel = strings.Index(manifest[fs:fe], "\n          "+strconv.Quote(field)+": ")
	if rel < 0 {
		return manifest
	}
	vs = fs + rel + len("\n          "+strconv.Quote(field)+": ")
	ve = vs + strings.IndexAny(manifest[vs:], ",\n")
	return manifest[:vs] + value + manifest[ve:]
}

// vSetTop replaces a top-level member's value.
func vSetTop(t *testing.T, manifest, field, value string) string {
	t.Helper()
	prefix := "\n  " + strconv.Quote(field) + ": "
	vs := strings.Index(manifest, prefix)
	if vs < 0 {
		t.Fatalf("manifest has no member %s", field)
	}
	vs += len(prefix)
	ve := vs + strings.IndexAny(manifest[vs:], ",\n")
	return manifest[:vs] + value + manifest[ve:]
}

// vReseal recomputes the manifest checksum the way a forger without the
// key can.
func vReseal(t *testing.T, folder, id string) {
	t.Helper()
	path := filepath.Join(folder, snapshot.ManifestName(id))
	raw := vReadFile(t, path)
	canon, err := snapshot.Canonical(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := vSetTop(t, string(raw), "manifest_checksum", strconv.Quote(snapshot.Checksum(canon)))
	vWrite(t, path, []byte(s))
}

// vRewrite replaces path with DuckDB's rewrite of it through query, where
// the query reads the original as the view "orig".
func vRewrite(t *testing.T, path, query string) {
	t.Helper()
	tmp := path + ".new"
	testutil.Exec(t,
		"CREATE VIEW orig AS SELECT * FROM read_parquet("+sqlq.Literal(path)+")",
		"COPY ("+query+") TO "+sqlq.Literal(tmp)+" (FORMAT PARQUET, COMPRESSION 'zstd')")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyIntact: an intact snapshot passes, in JSON with SPEC's keys
// and in human output.
func TestVerifyIntact(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	work, folder := fx.clone(t)
	r, doc := vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 0)
	if len(doc.Snapshots) != 1 || doc.Snapshots[0].Snapshot != id || doc.Snapshots[0].Status != "complete" {
		t.Fatalf("want snapshot %s complete, got %+v", id, doc.Snapshots)
	}
	s := doc.Snapshots[0]
	if len(s.Files) != len(fx.tables) {
		t.Fatalf("want %d files, got %d", len(fx.tables), len(s.Files))
	}
	for _, f := range s.Files {
		want := fx.tables[f.Table]
		if want == nil || !f.OK || f.Rows != want.Rows || f.BLAKE3 != want.BLAKE3 || f.Size != want.FileSizeBytes {
			t.Errorf("file %+v disagrees with the manifest %+v", f, want)
		}
	}
	// --deep, fewer workers, and the JSON keys SPEC fixes.
	r, doc = vVerify(t, work, nil, "--backup", folder, "--deep", "--jobs", "1")
	vExpect(t, r, doc, 0)
	var generic map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &generic); err != nil {
		t.Fatal(err)
	}
	snaps, _ := generic["snapshots"].([]any)
	if _, ok := generic["ok"].(bool); !ok || len(snaps) != 1 {
		t.Fatalf("JSON lacks ok or snapshots: %s", r.Stdout)
	}
	s0 := snaps[0].(map[string]any)
	for _, k := range []string{"snapshot", "ok", "problems"} {
		if _, ok := s0[k]; !ok {
			t.Errorf("snapshot JSON lacks %q", k)
		}
	}
	if _, ok := s0["problems"].([]any); !ok {
		t.Errorf("problems must be a list, even empty: %v", s0["problems"])
	}
	// Human output: one line per file and a verdict.
	h := cli(t, work, "verify", "--backup", folder)
	if h.Code != 0 || !strings.Contains(h.Stdout, "verify: OK") || strings.Count(h.Stdout, "_"+id+".parquet") != len(fx.tables) {
		t.Fatalf("human output: exit %d\n%s%s", h.Code, h.Stdout, h.Stderr)
	}
}

// TestVerifyFileFaults: one row per fault made on the bytes of the
// files, with the problem kinds verify must report.
func TestVerifyFileFaults(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	fileFaults := []struct {
		name  string
		fault func(t *testing.T, folder string)
		kinds []verify.Kind
		check func(t *testing.T, doc vDoc)
	}{
		{"flip one byte", func(t *testing.T, folder string) {
			p := fx.file(folder, "highlight_events")
			b := vReadFile(t, p)
			// A byte in the middle of the data, before the footer: only
			// the hash can see it (--deep might too).
			footer := len(b) - 8 - int(binary.LittleEndian.Uint32(b[len(b)-8:]))
			b[footer/2] ^= 0x01
			vWrite(t, p, b)
		}, []verify.Kind{verify.KindHashMismatch}, func(t *testing.T, doc vDoc) {
			p := vProblems(doc, verify.KindHashMismatch)[0]
			if p.Table != "highlight_events" || !strings.Contains(p.Detail, fx.tables["highlight_events"].BLAKE3) {
				t.Errorf("hash_mismatch should name the table and the expected hash: %+v", p)
			}
		}},
		{"truncate", func(t *testing.T, folder string) {
			p := fx.file(folder, "match_stats")
			if err := os.Truncate(p, fx.tables["match_stats"].FileSizeBytes/2); err != nil {
				t.Fatal(err)
			}
		}, []verify.Kind{verify.KindSizeMismatch, verify.KindUnreadable}, func(t *testing.T, doc vDoc) {
			p := vProblems(doc, verify.KindSizeMismatch)[0]
			want := fx.tables["match_stats"].FileSizeBytes
			if !strings.Contains(p.Detail, fmt.Sprint(want/2)) || !strings.Contains(p.Detail, fmt.Sprint(want)) {
				t.Errorf("size_mismatch should give both sizes: %s", p.Detail)
			}
		}},
		{"delete", func(t *testing.T, folder string) {
			if err := os.Remove(fx.file(folder, "medals_earned")); err != nil {
				t.Fatal(err)
			}
		}, []verify.Kind{verify.KindMissing}, func(t *testing.T, doc vDoc) {
			p := vProblems(doc, verify.KindMissing)[0]
			if p.Table != "medals_earned" || p.File != fx.tables["medals_earned"].File {
				t.Errorf("missing names the wrong file: %+v", p)
			}
		}},
		{"stray parquet with the snapshot's id", func(t *testing.T, folder string) {
			testutil.CopyFile(t, fx.file(folder, "antagonists"), filepath.Join(folder, "stray_"+id+".parquet"))
			// A file of another snapshot, and one that is not Parquet, are not this snapshot's business.
			testutil.CopyFile(t, fx.file(folder, "antagonists"), filepath.Join(folder, "stray_20200101_000000.parquet"))
			vWrite(t, filepath.Join(folder, "notes.txt"), []byte("hello"))
		}, []verify.Kind{verify.KindUnexpectedFile}, func(t *testing.T, doc vDoc) {
			ps := vProblems(doc, verify.KindUnexpectedFile)
			if len(ps) != 1 || ps[0].File != "stray_"+id+".parquet" {
				t.Errorf("want exactly the stray file, got %+v", ps)
			}
		}},
		{"swap two tables' files", func(t *testing.T, folder string) {
			a, b := fx.file(folder, "match_stats"), fx.file(folder, "highlight_events")
			tmp := a + ".swap"
			for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
				if err := os.Rename(mv[0], mv[1]); err != nil {
					t.Fatal(err)
				}
			}
		}, []verify.Kind{verify.KindSizeMismatch, verify.KindRowsMismatch, verify.KindSchemaMismatch}, func(t *testing.T, doc vDoc) {
			for _, kind := range []verify.Kind{verify.KindSizeMismatch, verify.KindRowsMismatch, verify.KindSchemaMismatch} {
				tables := map[string]bool{}
				for _, p := range vProblems(doc, kind) {
					tables[p.Table] = true
				}
				if !tables["match_stats"] || !tables["highlight_events"] || len(tables) != 2 {
					t.Errorf("%s should name both swapped tables, got %v", kind, tables)
				}
			}
		}},
		{"replace with fewer rows of the same table", func(t *testing.T, folder string) {
			vRewrite(t, fx.file(folder, "highlight_events"), "SELECT * FROM orig LIMIT 100")
		}, []verify.Kind{verify.KindSizeMismatch, verify.KindRowsMismatch}, func(t *testing.T, doc vDoc) {
			p := vProblems(doc, verify.KindRowsMismatch)[0]
			if !strings.Contains(p.Detail, "says 100 rows") || !strings.Contains(p.Detail, fmt.Sprint(fx.tables["highlight_events"].Rows)) {
				t.Errorf("rows_mismatch should give both counts: %s", p.Detail)
			}
		}},
		{"replace with other rows, same count", func(t *testing.T, folder string) {
			// Same table, same schema, same row count, different rows: only
			// the hash can tell.
			col := vIntColumn(t, fx.tables["highlight_events"])
			vRewrite(t, fx.file(folder, "highlight_events"), fmt.Sprintf(`SELECT * REPLACE (CAST(%q + 1 AS %s) AS %q) FROM orig`, col, vDuckType(t, fx.tables["highlight_events"], col), col))
		}, nil, func(t *testing.T, doc vDoc) {
			got := vKinds(doc)
			if len(got) != 1 || (got[0] != verify.KindSizeMismatch && got[0] != verify.KindHashMismatch) {
				t.Errorf("want only size_mismatch or hash_mismatch, got %v", got)
			}
		}},
		{"change a column type", func(t *testing.T, folder string) {
			col := vIntColumn(t, fx.tables["match_stats"])
			vRewrite(t, fx.file(folder, "match_stats"), fmt.Sprintf(`SELECT * REPLACE (CAST(%q AS VARCHAR) AS %q) FROM orig`, col, col))
		}, []verify.Kind{verify.KindSizeMismatch, verify.KindSchemaMismatch}, func(t *testing.T, doc vDoc) {
			col := vIntColumn(t, fx.tables["match_stats"])
			p := vProblems(doc, verify.KindSchemaMismatch)[0]
			if !strings.Contains(p.Detail, col+" INT") || !strings.Contains(p.Detail, col+" STRING") {
				t.Errorf("schema_mismatch should show the expected and actual type of %s: %s", col, p.Detail)
			}
		}},
		{"symlink in place of a file", func(t *testing.T, folder string) {
			// The link leads out of the folder, to a FIFO that would block
			// forever if it were ever opened.
			p := fx.file(folder, "antagonists")
			fifo := filepath.Join(filepath.Dir(folder), "fifo")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(p)
			if err := os.Symlink(fifo, p); err != nil {
				t.Fatal(err)
			}
		}, []verify.Kind{verify.KindManifestCorrupt}, nil},
		{"hostile footer", func(t *testing.T, folder string) {
			// A footer length pointing before the start of the file.
			p := fx.file(folder, "antagonists")
			b := vReadFile(t, p)
			binary.LittleEndian.PutUint32(b[len(b)-8:], math.MaxUint32)
			vWrite(t, p, b)
		}, []verify.Kind{verify.KindHashMismatch, verify.KindUnreadable}, nil},
	}
	for _, tc := range fileFaults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			work, folder := fx.clone(t)
			tc.fault(t, folder)
			r, doc := vVerifyTimeout(t, work, "--backup", folder)
			if tc.kinds != nil {
				vExpect(t, r, doc, 3, tc.kinds...)
			} else if r.Code != 3 || doc.OK {
				t.Fatalf("want exit 3, got %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			if tc.check != nil {
				tc.check(t, doc)
			}
		})
	}
}

// TestVerifyManifestEdits: one row per hand edit of the manifest; the
// checksum catches every one, and the file checks say what the edit
// claims that the files deny.
func TestVerifyManifestEdits(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	manifestEdits := []struct {
		name  string
		edit  func(t *testing.T, m string) string
		kinds []verify.Kind
	}{
		{"rows", func(t *testing.T, m string) string {
			return vSetTableField(t, m, "match_stats", "rows", fmt.Sprint(fx.tables["match_stats"].Rows+1))
		}, []verify.Kind{verify.KindManifestCorrupt, verify.KindRowsMismatch}},
		{"blake3", func(t *testing.T, m string) string {
			return vSetTableField(t, m, "match_stats", "blake3", strconv.Quote(strings.Repeat("ab", 32)))
		}, []verify.Kind{verify.KindManifestCorrupt, verify.KindHashMismatch}},
		{"file_size_bytes", func(t *testing.T, m string) string {
			return vSetTableField(t, m, "match_stats", "file_size_bytes", "12")
		}, []verify.Kind{verify.KindManifestCorrupt, verify.KindSizeMismatch}},
		{"source_db", func(t *testing.T, m string) string {
			return vSetTop(t, m, "source_db", `"data/players/someone_else/stats.duckdb"`)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"backup_datetime", func(t *testing.T, m string) string {
			return strings.Replace(m, `"backup_datetime": "2026-02-01T`, `"backup_datetime": "2026-02-02T`, 1)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"gamertag", func(t *testing.T, m string) string {
			return vSetTop(t, m, "gamertag", `"Mallory"`)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"format_version removed", func(t *testing.T, m string) string {
			// Passing off a statsnap manifest as a seed one would skip
			// every hash check; its files member gives it away.
			return strings.Replace(m, fmt.Sprintf("\n  \"format_version\": %d,", snapshot.FormatVersion), "", 1)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"unknown format_version", func(t *testing.T, m string) string {
			return vSetTop(t, m, "format_version", strconv.Itoa(snapshot.FormatVersion+1))
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"path traversal", func(t *testing.T, m string) string {
			return vSetTableField(t, m, "match_stats", "file", `"../../etc/passwd"`)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"duplicate key", func(t *testing.T, m string) string {
			return strings.Replace(m, "\n  \"gamertag\": ", "\n  \"gamertag\": \"Mallory\",\n  \"gamertag\": ", 1)
		}, []verify.Kind{verify.KindManifestCorrupt}},
		{"truncated manifest", func(t *testing.T, m string) string { return m[:len(m)/2] }, []verify.Kind{verify.KindManifestCorrupt}},
	}
	for _, tc := range manifestEdits {
		t.Run("manifest "+tc.name, func(t *testing.T) {
			t.Parallel()
			work, folder := fx.clone(t)
			if tc.name == "path traversal" {
				// Were verify to open ../../etc/passwd, it would meet a
				// FIFO and hang until the timeout.
				if err := os.MkdirAll(filepath.Join(work, "a", "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(filepath.Join(work, "a", "etc", "passwd"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			vEditManifest(t, folder, id, func(m string) string { return tc.edit(t, m) })
			r, doc := vVerifyTimeout(t, work, "--backup", folder)
			vExpect(t, r, doc, 3, tc.kinds...)
			p := vProblems(doc, verify.KindManifestCorrupt)[0]
			switch tc.name {
			case "unknown format_version":
				if !strings.Contains(p.Detail, fmt.Sprintf("format_version %d", snapshot.FormatVersion+1)) || !strings.Contains(p.Detail, fmt.Sprintf("reads %d", snapshot.FormatVersion)) || !strings.Contains(p.Detail, "upgrade") {
					t.Errorf("detail should name both versions and say to upgrade: %s", p.Detail)
				}
			case "path traversal":
				if !strings.Contains(p.Detail, "../../etc/passwd") {
					t.Errorf("detail should name the bad path: %s", p.Detail)
				}
			case "rows", "blake3", "source_db", "backup_datetime", "gamertag", "file_size_bytes":
				if !strings.Contains(p.Detail, "manifest_checksum") {
					t.Errorf("detail should say the checksum disagrees: %s", p.Detail)
				}
			}
		})
	}
}

// TestVerifyResealedEdit: someone who edits rows and recomputes the
// unkeyed checksum gets past the checksum, but not past the file checks.
func TestVerifyResealedEdit(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	work, folder := fx.clone(t)
	vEditManifest(t, folder, id, func(m string) string {
		return vSetTableField(t, m, "match_stats", "rows", "7")
	})
	vReseal(t, folder, id)
	r, doc := vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 3, verify.KindRowsMismatch)
}

// TestVerifyHumanOutput: one line per file and one sentence per problem.
func TestVerifyHumanOutput(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	work, folder := fx.clone(t)
	if err := os.Truncate(fx.file(folder, "match_stats"), 100); err != nil {
		t.Fatal(err)
	}
	r := cli(t, work, "verify", "--backup", folder)
	if r.Code != 3 {
		t.Fatalf("want exit 3, got %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	want := fmt.Sprintf("is 100 bytes; the manifest says %d", fx.tables["match_stats"].FileSizeBytes)
	for _, s := range []string{"problem: [size_mismatch] table match_stats: ", want, "FAIL", "verify: FAILED", "snapshot " + id + ": 2 PROBLEMS"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("human output lacks %q:\n%s", s, r.Stdout)
		}
	}
	if strings.Count(r.Stdout, "\n  ok ") != len(fx.tables)-1 {
		t.Errorf("want one line per intact file:\n%s", r.Stdout)
	}
}

// TestVerifyDeep: a file that was bad when it was written (its footer
// agrees with the manifest and its hash is the one recorded, but a data
// page is damaged) is seen by --deep only.
func TestVerifyDeep(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	work, folder := fx.clone(t)
	key := "highlight_events"
	p := fx.file(folder, key)
	b := vReadFile(t, p)
	// The end of the chunk's last page: its header stays sane, which
	// the default verify checks; only its data is damaged.
	off := vChunkEnd(t, p) - 8
	for i := 0; i < 8; i++ {
		b[off+int64(i)] = 0xff
	}
	vWrite(t, p, b)
	vEditManifest(t, folder, id, func(m string) string {
		return vSetTableField(t, m, key, "blake3", strconv.Quote(testutil.BLAKE3(b)))
	})
	vReseal(t, folder, id)
	r, doc := vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 0)
	r, doc = vVerify(t, work, nil, "--backup", folder, "--deep")
	vExpect(t, r, doc, 3, verify.KindUnreadable)
	if pr := vProblems(doc, verify.KindUnreadable)[0]; pr.Table != key {
		t.Errorf("unreadable names %s, want %s", pr.Table, key)
	}
}

// TestVerifyKeys: with a key, the MAC decides; without, the checksum.
func TestVerifyKeys(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	work := t.TempDir()
	testutil.CopyFile(t, fx.db(), filepath.Join(work, "data", "players", "K", "stats.duckdb"))
	mustCLI(t, work, "key", "generate", "k1")
	mustCLI(t, work, "key", "generate", "k2")
	mustCLI(t, work, "backup", "--gamertag", "K", "--key-file", "k1", "--time", "2026-03-01T10:00:00Z")
	mustCLI(t, work, "backup", "--gamertag", "K", "--time", "2026-03-02T10:00:00Z") // no key
	folder := filepath.Join(work, "data", "backups", "K")
	keyed := snapshot.FormatID(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	unkeyed := snapshot.FormatID(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))

	for _, c := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		kinds    []verify.Kind
		warnings []verify.Kind
		detail   string // in the first problem's detail
	}{
		{"right key", nil, []string{"--snapshot", keyed, "--key-file", "k1"}, 0, nil, nil, ""},
		{"key from the environment", []string{"STATSNAP_KEY_FILE=k1"}, []string{"--snapshot", keyed}, 0, nil, nil, ""},
		{"no key: the MAC is not checked, and that is said", nil, []string{"--snapshot", keyed}, 0, nil, []verify.Kind{verify.KindUnauthenticated}, ""},
		{"wrong key", nil, []string{"--snapshot", keyed, "--key-file", "k2"}, 3, []verify.Kind{verify.KindUnauthenticated}, nil, ""},
		{"no MAC", nil, []string{"--snapshot", unkeyed, "--key-file", "k1"}, 3, []verify.Kind{verify.KindUnauthenticated}, nil, "no manifest_mac"},
		// SPEC: --allow-unverified accepts an unauthenticated snapshot, with a warning.
		{"no MAC, allowed", nil, []string{"--snapshot", unkeyed, "--key-file", "k1", "--allow-unverified"}, 0, nil, []verify.Kind{verify.KindUnauthenticated}, ""},
	} {
		r, doc := vVerify(t, work, c.env, append([]string{"--backup", folder}, c.args...)...)
		vExpect(t, r, doc, c.code, c.kinds...)
		if c.detail != "" && !strings.Contains(doc.Snapshots[0].Problems[0].Detail, c.detail) {
			t.Errorf("%s: detail %q lacks %q", c.name, doc.Snapshots[0].Problems[0].Detail, c.detail)
		}
		var warned []verify.Kind
		for _, w := range doc.Snapshots[0].Warnings {
			warned = append(warned, w.Kind)
		}
		if !slices.Equal(warned, c.warnings) {
			t.Errorf("%s: warnings %v, want %v", c.name, warned, c.warnings)
		}
	}

	// A forger edits rows and reseals the checksum: the MAC catches it.
	vEditManifest(t, folder, keyed, func(m string) string {
		return vSetTableField(t, m, "match_stats", "rows", "1")
	})
	vReseal(t, folder, keyed)
	r, doc := vVerify(t, work, nil, "--backup", folder, "--snapshot", keyed, "--key-file", "k1")
	vExpect(t, r, doc, 3, verify.KindUnauthenticated, verify.KindRowsMismatch)
	// Stripping the MAC leaves the checksum valid but not the authentication.
	vEditManifest(t, folder, keyed, func(m string) string {
		return regexp.MustCompile(`,\n  "manifest_mac": "[0-9a-f]+"`).ReplaceAllString(m, "")
	})
	vEditManifest(t, folder, keyed, func(m string) string {
		return vSetTableField(t, m, "match_stats", "rows", fmt.Sprint(fx.tables["match_stats"].Rows))
	})
	vReseal(t, folder, keyed)
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", keyed, "--key-file", "k1")
	vExpect(t, r, doc, 3, verify.KindUnauthenticated)
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", keyed)
	vExpect(t, r, doc, 0)
}

// TestVerifyLegacyAndBare: seed-made snapshots are unverifiable unless
// --allow-unverified, and what can be checked still is.
func TestVerifyLegacyAndBare(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	work := t.TempDir()
	db := filepath.Join(work, "data", "players", "L", "stats.duckdb")
	testutil.CopyFile(t, fx.db(), db)
	folder := filepath.Join(work, "data", "backups", "L")
	legacy, seedBare := "20250115_101500", "20250116_101500"
	legacyTables := testutil.SeedExport(t, db, folder, filepath.Base(folder), legacy, true)
	testutil.SeedExport(t, db, folder, filepath.Base(folder), seedBare, false)
	mustCLI(t, work, "backup", "--gamertag", "L", "--no-metadata", "--time", "2026-04-01T10:00:00Z")
	bare := snapshot.FormatID(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))

	// snapshots tells them apart.
	var list struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, work, "snapshots", "--gamertag", "L", "--json"), &list)
	status := map[string]string{}
	for _, s := range list.Snapshots {
		status[s.Snapshot] = s.Status
	}
	if status[legacy] != "legacy" || status[seedBare] != "bare" || status[bare] != "bare" || len(status) != 3 {
		t.Fatalf("statuses %v", status)
	}

	for _, sid := range []string{legacy, seedBare, bare} {
		r, doc := vVerify(t, work, nil, "--backup", folder, "--snapshot", sid)
		vExpect(t, r, doc, 3, verify.KindUnverifiable)
		if n := len(doc.Snapshots[0].Files); n == 0 {
			t.Errorf("%s: no file was checked", sid)
		}
		r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", sid, "--allow-unverified")
		vExpect(t, r, doc, 0)
		if w := doc.Snapshots[0].Warnings; len(w) != 1 || w[0].Kind != verify.KindUnverifiable {
			t.Errorf("%s: want the unverifiable warning, got %+v", sid, w)
		}
		h := cli(t, work, "verify", "--backup", folder, "--snapshot", sid)
		if h.Code != 3 || !strings.Contains(h.Stdout, "problem: [unverifiable]") {
			t.Errorf("%s human output: exit %d\n%s", sid, h.Code, h.Stdout)
		}
	}
	// With a key, a seed snapshot cannot be authenticated either.
	mustCLI(t, work, "key", "generate", "k")
	r, doc := vVerify(t, work, nil, "--backup", folder, "--snapshot", legacy, "--key-file", "k")
	vExpect(t, r, doc, 3, verify.KindUnverifiable, verify.KindUnauthenticated)

	// What can be checked still is, --allow-unverified or not.
	vEditManifest(t, folder, legacy, func(m string) string {
		return vSetTableField(t, m, "match_stats", "rows", fmt.Sprint(legacyTables["match_stats"]+5))
	})
	if err := os.Remove(filepath.Join(folder, "antagonists_"+legacy+".parquet")); err != nil {
		t.Fatal(err)
	}
	vWrite(t, filepath.Join(folder, "stray_"+legacy+".parquet"), []byte("PAR1 not really"))
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", legacy, "--allow-unverified")
	vExpect(t, r, doc, 3, verify.KindRowsMismatch, verify.KindMissing, verify.KindUnexpectedFile)
	// A bare file that does not decode.
	p := filepath.Join(folder, "match_stats_"+seedBare+".parquet")
	b := vReadFile(t, p)
	vWrite(t, p, b[:len(b)-100])
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", seedBare, "--allow-unverified")
	vExpect(t, r, doc, 3, verify.KindUnreadable)
}

// TestVerifyAllAndDefault: the default is the newest snapshot, --all is
// every one, and an interrupted backup is passed over unless named.
func TestVerifyAllAndDefault(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	work := t.TempDir()
	db := filepath.Join(work, "data", "players", "A", "stats.duckdb")
	testutil.CopyFile(t, fx.db(), db)
	folder := filepath.Join(work, "data", "backups", "A")
	times := []time.Time{
		time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC),
	}
	for _, tm := range times {
		mustCLI(t, work, "backup", "--full", "--gamertag", "A", "--time", tm.Format(time.RFC3339))
	}
	ids := []string{snapshot.FormatID(times[0]), snapshot.FormatID(times[1]), snapshot.FormatID(times[2])}
	legacy := "20250101_000000"
	testutil.SeedExport(t, db, folder, filepath.Base(folder), legacy, true)

	r, doc := vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 0)
	if len(doc.Snapshots) != 1 || doc.Snapshots[0].Snapshot != ids[2] {
		t.Fatalf("default should be the newest, %s: %+v", ids[2], doc.Snapshots)
	}
	r, doc = vVerify(t, work, nil, "--backup", folder, "--all")
	vExpect(t, r, doc, 3, verify.KindUnverifiable)
	if len(doc.Snapshots) != 4 {
		t.Fatalf("--all checked %d snapshots, want 4", len(doc.Snapshots))
	}
	for _, s := range doc.Snapshots {
		if s.OK != (s.Snapshot != legacy) {
			t.Errorf("snapshot %s: ok=%v", s.Snapshot, s.OK)
		}
	}
	r, doc = vVerify(t, work, nil, "--backup", folder, "--all", "--allow-unverified", "--deep")
	vExpect(t, r, doc, 0)

	// Damage the middle one: --all fails, the default still passes.
	if err := os.Remove(filepath.Join(folder, "match_stats_"+ids[1]+".parquet")); err != nil {
		t.Fatal(err)
	}
	r, doc = vVerify(t, work, nil, "--backup", folder, "--all", "--allow-unverified")
	vExpect(t, r, doc, 3, verify.KindMissing)
	r, doc = vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 0)
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", ids[1])
	vExpect(t, r, doc, 3, verify.KindMissing)
	h := cli(t, work, "verify", "--backup", folder, "--all", "--allow-unverified")
	if h.Code != 3 || !strings.Contains(h.Stdout, "verify: FAILED: 1 of 4 snapshots") {
		t.Errorf("human verdict: exit %d\n%s", h.Code, h.Stdout)
	}

	// An interrupted backup: the default and --all pass over it; named, it fails.
	pending := "20260601_000000"
	testutil.CopyFile(t, filepath.Join(folder, "antagonists_"+ids[0]+".parquet"), filepath.Join(folder, "antagonists_"+pending+".parquet"))
	vWrite(t, filepath.Join(folder, snapshot.PendingName(pending)),
		[]byte(`{"snapshot":"`+pending+`","files":["antagonists_`+pending+`.parquet","backup_metadata_`+pending+`.json"]}`))
	r, doc = vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 0)
	if doc.Snapshots[0].Snapshot != ids[2] || len(doc.Skipped) != 1 || doc.Skipped[0].Snapshot != pending {
		t.Errorf("default should verify %s and skip %s: %+v", ids[2], pending, doc)
	}
	r, doc = vVerify(t, work, nil, "--backup", folder, "--snapshot", pending)
	vExpect(t, r, doc, 3, verify.KindMissing)
	var list struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	jsonOut(t, mustCLI(t, work, "snapshots", "--gamertag", "A", "--json"), &list)
	got := map[string]string{}
	for _, s := range list.Snapshots {
		got[s.Snapshot] = s.Status
	}
	want := map[string]string{ids[0]: "complete", ids[1]: "complete", ids[2]: "complete", legacy: "legacy", pending: "incomplete"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("snapshots statuses %v, want %v", got, want)
	}

	// A corrupt newest manifest fails the default verify.
	vWrite(t, filepath.Join(folder, snapshot.ManifestName("20260701_000000")), []byte("{not json"))
	r, doc = vVerify(t, work, nil, "--backup", folder)
	vExpect(t, r, doc, 3, verify.KindManifestCorrupt)
}

// TestVerifyUsageAndOperationalErrors: bad flags exit 2, what stops
// verify from running exits 1, and the folder's lock is honoured.
func TestVerifyUsageAndOperationalErrors(t *testing.T) {
	t.Parallel()
	fx := vShared(t)
	id := fx.id
	work, folder := fx.clone(t)
	for _, args := range [][]string{
		{"verify"},
		{"verify", "--backup", folder, "--all", "--snapshot", id},
		{"verify", "--backup", folder, "--snapshot", "2026-02-01"},
		{"verify", "--backup", folder, "--snapshot", "20261341_000000"},
		{"verify", "--backup", folder, "--jobs", "-1"},
		{"verify", "--backup", folder, "--bogus"},
		{"verify", "--backup", folder, "extra"},
	} {
		if r := cli(t, work, args...); r.Code != 2 || r.Stderr == "" {
			t.Errorf("%v: want exit 2 with a message, got %d %q", args, r.Code, r.Stderr)
		}
	}
	empty := filepath.Join(work, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "--backup", filepath.Join(work, "nope")},
		{"verify", "--backup", empty},
		{"verify", "--backup", folder, "--snapshot", "20200101_000000"},
		{"verify", "--backup", folder, "--key-file", filepath.Join(work, "no-key")},
		{"verify", "--backup", fx.file(folder, "antagonists")},
	} {
		r := cli(t, work, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "statsnap: ") {
			t.Errorf("%v: want exit 1 with a message, got %d %q", args, r.Code, r.Stderr)
		}
		if r2 := cli(t, work, append(args, "--json")...); r2.Code != 1 {
			t.Errorf("%v --json: want exit 1, got %d %q", args, r2.Code, r2.Stdout)
		} else {
			oneJSONError(t, r2)
		}
	}
	// A backup or prune holds the folder: verify does not read under it.
	lock := flock.New(filepath.Join(folder, storage.LockName))
	if err := lock.Lock(); err != nil {
		t.Fatal(err)
	}
	r := cli(t, work, "verify", "--backup", folder)
	if r.Code != 1 || !strings.Contains(r.Stderr, "another statsnap process (backup or prune) is working on") {
		t.Errorf("under an exclusive lock: want exit 1, got %d %q", r.Code, r.Stderr)
	}
	lock.Unlock()
	// Readers share: a verify runs beside another reader.
	if err := lock.RLock(); err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	mustCLI(t, work, "verify", "--backup", folder)
	if os.Geteuid() != 0 {
		if err := os.Chmod(folder, 0o000); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(folder, 0o755)
		if r := cli(t, work, "verify", "--backup", folder); r.Code != 1 {
			t.Errorf("unreadable folder: want exit 1, got %d %q", r.Code, r.Stderr)
		}
	}
}

// vVerifyTimeout is vVerify with a deadline: a verify that opened a FIFO
// would block forever.
func vVerifyTimeout(t *testing.T, dir string, args ...string) (result, vDoc) {
	t.Helper()
	r, ended := cliBounded(t, dir, 60*time.Second, append([]string{"verify", "--json"}, args...)...)
	if !ended {
		t.Fatalf("verify %v did not finish: it must have opened something it should not", args)
	}
	var doc vDoc
	if r.Code == 0 || r.Code == 3 {
		jsonOut(t, r, &doc)
	}
	return r, doc
}

// vIntColumn is the first 32- or 64-bit integer column of a table.
func vIntColumn(t *testing.T, tb *snapshot.Table) string {
	t.Helper()
	for _, f := range tb.ArrowSchema.Fields {
		if f.Type == "INT32" || f.Type == "INT64" {
			return f.Name
		}
	}
	t.Fatal("no integer column")
	return ""
}

// vDuckType is the DuckDB type of an integer column, from its Arrow type.
func vDuckType(t *testing.T, tb *snapshot.Table, col string) string {
	t.Helper()
	for _, f := range tb.ArrowSchema.Fields {
		if f.Name == col {
			return map[string]string{"INT32": "INTEGER", "INT64": "BIGINT"}[f.Type]
		}
	}
	t.Fatalf("no column %s", col)
	return ""
}

// vChunkEnd is where the file's first column chunk ends, according to
// its footer.
func vChunkEnd(t *testing.T, path string) int64 {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cc, err := r.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	return start + cc.TotalCompressedSize()
}
