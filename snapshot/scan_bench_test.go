package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/storage/local"
)

// BenchmarkScan1000 lists a folder of 1,000 snapshots whose manifests are
// the size of a real one (15 tables with Arrow schemas, about 100 KB).
func BenchmarkScan1000(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 1000; i++ {
		id := FormatID(time.Date(2020, 1, 1, 0, 0, 0, 0, time.Local).Add(time.Duration(i) * 7 * time.Hour))
		m := testManifest()
		m.BackupTimestamp = id
		m.Tables = map[string]*Table{}
		m.TableOrder = nil
		for k := 0; k < 15; k++ {
			name := fmt.Sprintf("table_%d", k)
			var fields []Field
			for c := 0; c < 20; c++ {
				fields = append(fields, Field{Name: fmt.Sprintf("column_%d", c), Type: "INT64", Nullable: true})
			}
			m.Tables[name] = &Table{Rows: 1000, FileSizeBytes: 5000, File: name + "_" + id + ".parquet", Schema: "main", Name: name,
				BLAKE3: strings.Repeat("ab", 32), CreateSQL: "CREATE TABLE " + name + "(" + strings.Repeat("c INTEGER, ", 20) + ");",
				ArrowSchema: &ArrowSchema{Fields: fields, IPC: strings.Repeat("QUJD", 1200)}}
			m.TableOrder = append(m.TableOrder, name)
		}
		data, err := Marshal(m, nil)
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ManifestName(id)), data, 0o644)
	}
	f, _ := local.OpenFolder(dir, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := Scan(context.Background(), f)
		if err != nil || len(list) != 1000 {
			b.Fatalf("%d snapshots, %v", len(list), err)
		}
	}
}
