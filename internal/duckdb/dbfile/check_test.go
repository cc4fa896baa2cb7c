package dbfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.duckdb")
	db, err := Open(context.Background(), good, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t AS SELECT 1 AS i"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := Check(good); err != nil {
		t.Errorf("a DuckDB file: %v", err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		path string
		want error
	}{
		"missing": {filepath.Join(dir, "none.duckdb"), ErrNotExist},
		"text":    {write("notdb.txt", []byte("not a database at all\n")), ErrNotDuckDB},
		"empty":   {write("empty.duckdb", nil), ErrNotDuckDB},
		"short":   {write("short.duckdb", []byte("12345678DUC")), ErrNotDuckDB},
		"folder":  {dir, ErrNotDuckDB},
		"fifo":    {fifo, ErrNotDuckDB}, // never blocks
	} {
		if err := Check(c.path); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
