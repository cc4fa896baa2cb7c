package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/internal/typezoo"
)

// TestBackupTypeZoo backs up a database holding every DuckDB type and
// hostile names through the binary, then reads each file back with
// DuckDB's read_parquet and the encodings the manifest records: every
// value must equal the source's.
func TestBackupTypeZoo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "zoo.duckdb")
	db, err := sql.Open("duckdb", src+"?storage_compatibility_version=v1.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := typezoo.Create(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var doc backupJSONDoc
	jsonOut(t, mustCLI(t, dir, "backup", "--db", src, "--json"), &doc)
	folder := filepath.Join(dir, "data", "backups", "zoo")
	p, _ := readManifest(t, filepath.Join(dir, doc.Snapshots[0].Manifest))
	// Every value of every table decodes (arrow-go, the decoder before,
	// called zoo_nested's fixed-size lists with NULLs unreadable).
	mustCLI(t, dir, "verify", "--deep", "--backup", folder)

	check, done := testutil.Attached(t, map[string]string{"src": src})
	defer done()
	encoded := 0
	for key, e := range p.Tables {
		var plans []codec.ColumnPlan
		var names []string
		for _, c := range e.Columns {
			plans = append(plans, codec.ColumnPlan{Name: c.Name, Type: c.Type, Encoding: c.Encoding, Generated: c.Generated, Shapes: c.VariantShapes})
			if c.Encoding != "" {
				encoded++
			}
			if !c.Generated {
				names = append(names, sqlq.Ident(c.Name))
			}
		}
		if len(plans) == 0 {
			t.Errorf("%s: manifest lists no columns", key)
			continue
		}
		cols, decoded, err := codec.InsertLists(plans)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		_ = cols
		// Every file of the table, in order (a big table is chunked).
		var files []string
		for _, part := range e.DataFiles() {
			files = append(files, sqlq.Literal(filepath.Join(folder, part.File)))
		}
		file := "[" + strings.Join(files, ", ") + "]"
		srcTable := "src." + sqlq.Ident(e.Schema) + "." + sqlq.Ident(e.Name)
		// Compare as text too: = treats 1 month and 30 days, or -0.0 and
		// 0.0, as equal, and VARIANT's hash is not stable.
		var asText []string
		for _, n := range names {
			asText = append(asText, "CAST("+n+" AS VARCHAR)")
		}
		restored := fmt.Sprintf("SELECT %s FROM (SELECT %s FROM read_parquet(%s))", strings.Join(asText, ", "), decoded, file)
		original := fmt.Sprintf("SELECT %s FROM %s", strings.Join(asText, ", "), srcTable)
		for _, q := range []string{
			fmt.Sprintf("SELECT count(*) FROM ((%s) EXCEPT ALL (%s))", original, restored),
			fmt.Sprintf("SELECT count(*) FROM ((%s) EXCEPT ALL (%s))", restored, original),
		} {
			var diff int64
			if err := check.QueryRowContext(context.Background(), q).Scan(&diff); err != nil {
				t.Errorf("%s: %v", key, err)
				break
			}
			if diff != 0 {
				t.Errorf("%s: %d rows differ between the source and the snapshot", key, diff)
			}
		}
	}
	if encoded == 0 {
		t.Error("no column needed an encoding: the zoo lost its hard types")
	}
	want := 0
	for _, zt := range typezoo.Tables {
		if _, ok := p.Tables[zt.Key()]; ok {
			want++
		}
	}
	if want < len(typezoo.Tables)-1 {
		t.Errorf("manifest holds %d of the zoo's %d tables", want, len(typezoo.Tables))
	}
	if len(p.Types) == 0 {
		t.Error("the named ENUM type is not recorded")
	}
}
