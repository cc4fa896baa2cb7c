package dbfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileNames are file and folder names whose characters a URL parser
// gives meaning to, plus spaces and non-ASCII.
var hostileNames = []string{
	"a#b", "a?access_mode=READ_WRITE", "50%", "%zz", "a&b=c", "x;y", "with space",
	"Jöhn_Ñame", "名前", "c:drive", "q'uote", `d"q`, "#?%&=;",
}

// TestHostilePathsKeepOptions opens files in folders with every hostile
// name: the file must be the one at that path, a read-only open must stay
// read-only (writes refused, the WAL left unreplayed into the file) and the
// catalog name must be the file's stem.
func TestHostilePathsKeepOptions(t *testing.T) {
	ctx := context.Background()
	for _, name := range hostileNames {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".duckdb")
			db, err := OpenWith(ctx, path, Options{})
			if strings.Contains(name, "?") {
				if !errors.Is(err, ErrQuestionMark) {
					t.Fatalf("open = %v, want ErrQuestionMark", err)
				}
				if _, err := Open(ctx, path, true); !errors.Is(err, ErrQuestionMark) {
					t.Fatalf("open read-only = %v, want ErrQuestionMark", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open read-write: %v", err)
			}
			for _, q := range []string{
				"SET wal_autocheckpoint = '1TB'",
				"CREATE TABLE t AS SELECT range AS i FROM range(1000)",
				"CHECKPOINT",
				"INSERT INTO t SELECT range FROM range(5)",
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			var cur string
			if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&cur); err != nil {
				t.Fatal(err)
			}
			if cur != Name(path) {
				t.Errorf("current_database() = %q, want %q", cur, Name(path))
			}
			// Leave the WAL behind as a crashed app would: copy the file
			// and its WAL while the database is open.
			crashed := filepath.Join(dir, "copy "+name+".duckdb")
			for _, suf := range []string{"", ".wal"} {
				b, err := os.ReadFile(path + suf)
				if err != nil {
					t.Fatalf("read %s: %v", path+suf, err)
				}
				if err := os.WriteFile(crashed+suf, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(crashed)
			walBefore, _ := os.ReadFile(crashed + ".wal")
			if len(walBefore) == 0 {
				t.Fatal("the test needs a WAL")
			}

			ro, err := Open(ctx, crashed, true)
			if err != nil {
				t.Fatalf("open read-only: %v", err)
			}
			var n int64
			if err := ro.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1005 {
				t.Errorf("rows = %d, want 1005 (the WAL's rows too)", n)
			}
			if _, err := ro.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err == nil {
				t.Error("a read-only open accepted a write")
			}
			if _, err := ro.ExecContext(ctx, "CHECKPOINT"); err != nil {
				t.Logf("checkpoint: %v", err)
			}
			if err := ro.Close(); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(crashed)
			walAfter, _ := os.ReadFile(crashed + ".wal")
			if !bytes.Equal(before, after) || !bytes.Equal(walBefore, walAfter) {
				t.Error("a read-only open changed the file or its WAL")
			}
			entries, _ := os.ReadDir(filepath.Dir(dir))
			if len(entries) != 1 {
				t.Errorf("files appeared beside the folder: %v", entries)
			}
		})
	}
}

func TestMissingReadOnly(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "a#b", "stats.duckdb"), true)
	if err == nil {
		t.Fatal("opened a missing file")
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"/x/stats.duckdb": "stats", "/x/a.b.duckdb": "a", "/x/memory.duckdb": "memory_db",
		"/x/noext": "noext", "/x/.hidden": "_db",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
