package dberr_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/dberr"
)

func exec(t *testing.T, db *sql.DB, q string) error {
	t.Helper()
	_, err := db.ExecContext(context.Background(), q)
	return err
}

// TestClassifyRealErrors: the errors DuckDB 1.5 really returns are
// classified, so that a DuckDB upgrade that rewords one fails here.
func TestClassifyRealErrors(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY)",
		"INSERT INTO t VALUES (1)",
	} {
		if err := exec(t, db, q); err != nil {
			t.Fatal(err)
		}
	}

	err = exec(t, db, "INSERT INTO t VALUES (1)")
	if !dberr.Is(err, dberr.ErrConstraint) || dberr.DuplicateKey(err) != "id: 1" {
		t.Errorf("duplicate key: %v (key %q)", err, dberr.DuplicateKey(err))
	}
	var de *duckdb.Error
	if !errors.As(dberr.Classify(err), &de) {
		t.Error("the classified error no longer unwraps to DuckDB's")
	}
	if got := dberr.Classify(err).Error(); got != err.Error() {
		t.Errorf("Classify changed the message: %q", got)
	}

	dir := t.TempDir()
	for _, v := range []string{"[INTERVAL '1 day']", "[170141183460469231731687303715884105727::HUGEINT]", "'[18446744073709551615]'::JSON"} {
		err = exec(t, db, "COPY (SELECT CAST("+v+" AS VARIANT) AS v) TO '"+dir+"/v.parquet' (FORMAT parquet)")
		if !dberr.Is(err, dberr.ErrVariantUnstorable) {
			t.Errorf("VARIANT %s: %v", v, err)
		}
	}
	if err := exec(t, db, "SELECT CAST(300 AS TINYINT)"); dberr.Is(err, dberr.ErrVariantUnstorable) {
		t.Errorf("an ordinary cast error is taken for a VARIANT one: %v", err)
	}

	err = exec(t, db, "SELECT * FROM nowhere.main.x")
	if name, ok := dberr.MissingCatalog(err); !ok || name != "nowhere" {
		t.Errorf("missing catalog: %v -> %q %v", err, name, ok)
	}

	err = exec(t, db, "SET memory_limit = '1MB'")
	if err != nil {
		t.Fatal(err)
	}
	err = exec(t, db, "CREATE TABLE big AS SELECT range AS i, repeat('x', 1000) AS s FROM range(200000) ORDER BY s, i")
	if !dberr.Is(err, dberr.ErrOutOfMemory) {
		t.Errorf("out of memory: %v", err)
	}

	// DuckDB's lock conflict needs a second process (dbfile's tests and
	// the CLI's hold one); here, its message as DuckDB 1.5 prints it.
	lockMsg := errors.New(`IO Error: Could not set lock on file "held.duckdb": Conflicting lock is held in /usr/bin/x (PID 4242) by user u`)
	if pid, ok := dberr.LockHolder(lockMsg); !ok || pid != "4242" {
		t.Errorf("lock holder: %q %v", pid, ok)
	}
}

// TestClassifyOSText: failures of the operating system that DuckDB only
// reports as text match the standard errors.
func TestClassifyOSText(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want error
	}{
		{`IO Error: Could not write file "x.parquet": No space left on device`, syscall.ENOSPC},
		{`IO Error: Cannot open file "x": Read-only file system`, syscall.EROFS},
		{`IO Error: Cannot open file "x": Permission denied`, fs.ErrPermission},
	} {
		if err := dberr.Classify(errors.New(c.msg)); !errors.Is(err, c.want) {
			t.Errorf("%q does not match %v", c.msg, c.want)
		}
	}
	if err := errors.New("something else"); dberr.Classify(err) != err {
		t.Error("an unknown error was wrapped")
	}
	if dberr.Classify(nil) != nil {
		t.Error("nil was wrapped")
	}
}
