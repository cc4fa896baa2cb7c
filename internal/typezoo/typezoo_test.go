package typezoo

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestCreateOldStorage checks that a database file of the default storage
// version gets every table but the VARIANT one, and that Created says so.
func TestCreateOldStorage(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("duckdb", filepath.Join(t.TempDir(), "zoo.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	made, err := Created(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != len(Tables)-1 {
		t.Fatalf("made %d tables, want %d", len(made), len(Tables)-1)
	}
	for _, tbl := range made {
		if tbl.NeedsVariant {
			t.Errorf("%s needs VARIANT but was made", tbl.Qualified())
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl.Qualified()).Scan(&n); err != nil {
			t.Errorf("%s: %v", tbl.Qualified(), err)
		}
	}
}
