package storage_test

import (
	"errors"
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/local"
)

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "/etc/passwd", "x\x00y", "x\ny", string([]byte{0xff}), string(make([]byte, 256))} {
		if storage.CheckName(bad) == nil {
			t.Errorf("storage.CheckName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"match_stats_20260201_143025.parquet", "Chocobo Flör", "..x", ".statsnap.lock"} {
		if err := storage.CheckName(good); err != nil {
			t.Errorf("storage.CheckName(%q): %v", good, err)
		}
	}
}

// TestParse: a location is a path or a registered URL; anything that
// looks like a URL but is not one statsnap knows is ErrLocation, never a
// local folder named after it.
func TestParse(t *testing.T) {
	for _, bad := range []string{"foo://bucket/x", "s3:/x", "s3:x", "S3:bucket", "ftp://h/p", "", "mem://x"} {
		if _, _, err := storage.Parse(bad); !errors.Is(err, storage.ErrLocation) {
			t.Errorf("Parse(%q) = %v, want ErrLocation", bad, err)
		}
	}
	for _, path := range []string{"./s3:", "backups", "/tmp/x", "./foo://x", "data/backups/Flör"} {
		if scheme, u, err := storage.Parse(path); err != nil || u != nil || scheme != "" {
			t.Errorf("Parse(%q) = %q, %v, %v; want a local path", path, scheme, u, err)
		}
	}
}

func TestJoin(t *testing.T) {
	if got := storage.Join("data/backups", "Flör Spartan"); got != "data/backups/Flör Spartan" {
		t.Errorf("Join(path) = %q", got)
	}
}

func TestJoinKeepsPathAPath(t *testing.T) {
	got := storage.Join("./s3:", "p")
	if _, u, err := storage.Parse(got); err != nil || u != nil {
		t.Fatalf("Join(./s3:, p) = %q, which parses as %v, %v", got, u, err)
	}
}
