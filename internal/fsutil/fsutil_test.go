package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestPublishNewNeverReplaces: a file that appeared at the final name
// (between a check and the move) is kept, and the caller is told.
func TestPublishNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".tmp")
	final := filepath.Join(dir, "stats.duckdb")
	os.WriteFile(tmp, []byte("new"), 0o644)
	os.WriteFile(final, []byte("old"), 0o644)
	if err := PublishNew(tmp, final); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "old" {
		t.Errorf("existing file replaced by %q", b)
	}
	os.Remove(final)
	if err := PublishNew(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "new" {
		t.Errorf("published %q", b)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary name survives: %v", err)
	}
}
