package snapshot

import (
	"strings"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
)

func TestTableFileName(t *testing.T) {
	const id = "20260201_143025"
	taken := map[string]bool{}
	cases := []struct{ key, want string }{
		{"match_stats", "match_stats_20260201_143025.parquet"},
		{"meta.db_info", "meta.db_info_20260201_143025.parquet"},
		{"MATCH_STATS", ""}, // collides case-insensitively: hashed
		{"../x", ""},
		{"a/b", ""},
		{".hidden", ""},
		{"", ""},
		{"quote\"d; DROP", ""},
		{"Flör", ""},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := TableFileName(c.key, id, taken)
		if c.want != "" && got != c.want {
			t.Errorf("%q: got %q, want %q", c.key, got, c.want)
		}
		if err := storage.CheckName(got); err != nil || strings.HasPrefix(got, ".") {
			t.Errorf("%q: unsafe name %q (%v)", c.key, got, err)
		}
		if k, fid := Classify(got); k != KindParquet || fid != id {
			t.Errorf("%q: %q classifies as %v %q", c.key, got, k, fid)
		}
		if other, dup := seen[strings.ToLower(got)]; dup {
			t.Errorf("%q and %q share %q", c.key, other, got)
		}
		seen[strings.ToLower(got)] = c.key
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		id   string
	}{
		{"backup_metadata_20260201_143025.json", KindManifest, "20260201_143025"},
		{"match_stats_20260201_143025.parquet", KindParquet, "20260201_143025"},
		{"a_b_20260201_143025.parquet", KindParquet, "20260201_143025"},
		{".statsnap-pending-20260201_143025", KindPending, "20260201_143025"},
		{".statsnap-removing-20260201_143025", KindRemoving, "20260201_143025"},
		{".statsnap-tmp-20260201_143025-3.parquet", KindTemp, "20260201_143025"},
		{".statsnap.lock", KindLock, ""},
		{"backup_metadata_20261301_143025.json", KindOther, ""}, // month 13
		{"notes.txt", KindOther, ""},
		{"_20260201_143025.parquet", KindOther, ""},
		{".x_20260201_143025.parquet", KindOther, ""},
	}
	for _, c := range cases {
		k, id := Classify(c.name)
		if k != c.kind || id != c.id {
			t.Errorf("%q: got %v %q, want %v %q", c.name, k, id, c.kind, c.id)
		}
	}
}

// FuzzTableFileName: whatever a table is called, its file is a plain,
// visible name inside the folder that classifies back to its snapshot.
func FuzzTableFileName(f *testing.F) {
	for _, s := range []string{"match_stats", "../../etc/passwd", "a/b", `\\server\share`, ".", "..", "", "x\x00y", "Flör", strings.Repeat("z", 300), "main.t", "CON"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		const id = "20260201_143025"
		taken := map[string]bool{"match_stats_20260201_143025.parquet": true}
		name := TableFileName(key, id, taken)
		if err := storage.CheckName(name); err != nil {
			t.Fatalf("%q -> %q: %v", key, name, err)
		}
		if strings.HasPrefix(name, ".") || len(name) > 200 {
			t.Fatalf("%q -> %q: hidden or too long", key, name)
		}
		if k, fid := Classify(name); k != KindParquet || fid != id {
			t.Fatalf("%q -> %q classifies as %v %q", key, name, k, fid)
		}
	})
}

// FuzzClassify: any name from a folder is classified without panicking,
// and what statsnap would remove is a plain name.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"backup_metadata_20260201_143025.json", ".statsnap-pending-20260201_143025", "x_20260201_143025.parquet", "../x_20260201_143025.parquet", ".statsnap-tmp-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		k, id := Classify(name)
		if k != KindOther && k != KindLock && k != KindTemp && !ValidID(id) {
			t.Fatalf("%q: kind %v with invalid id %q", name, k, id)
		}
		if k == KindParquet && strings.ContainsAny(name, "/\\") && storage.CheckName(name) == nil {
			t.Fatalf("%q: separator passed CheckName", name)
		}
	})
}
