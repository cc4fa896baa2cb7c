package restore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/testutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// fixture is a small database with one snapshot of it.
type fixture struct {
	dir    string
	source string
	folder *local.Folder
	id     string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	testutil.WriteDB(t, src,
		`CREATE SCHEMA extra`,
		`CREATE SEQUENCE ids START 10`,
		`CREATE TABLE items (id BIGINT PRIMARY KEY DEFAULT nextval('ids'), name VARCHAR NOT NULL, qty INTEGER CHECK (qty >= 0))`,
		`INSERT INTO items (name, qty) SELECT 'item ' || range, range FROM range(100)`,
		`CREATE TABLE extra.notes (n VARCHAR)`,
		`INSERT INTO extra.notes VALUES ('a'), ('b')`,
		`CREATE INDEX items_name ON items (name)`,
		`CREATE VIEW big_items AS SELECT * FROM items WHERE qty > 50`,
		`CREATE MACRO double_it(x) AS x * 2`,
		`COMMENT ON TABLE items IS 'things'`,
	)
	folder, err := local.OpenFolder(filepath.Join(dir, "backups"), true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Backup(context.Background(), backup.Options{Source: src, Gamertag: "tester", Folder: folder,
		CompressionLevel: 3, Time: time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{dir: dir, source: src, folder: folder, id: res.ID}
}

// tamper rewrites the manifest with edit applied and a fresh checksum, as
// someone able to write the folder (but without the key) could.
func (fx fixture) tamper(t *testing.T, edit func(m *snapshot.Manifest)) {
	t.Helper()
	m := testutil.ReadManifest(t, fx.folder.Dir, fx.id)
	edit(m)
	data, err := snapshot.Marshal(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.folder.Dir, snapshot.ManifestName(fx.id)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, path, table string) int64 {
	t.Helper()
	return testutil.Int64(t, testutil.OpenDB(t, path, false), "SELECT count(*) FROM "+table)
}

func TestRestoreRunRoundTrip(t *testing.T) {
	fx := newFixture(t)
	out := filepath.Join(fx.dir, "out.duckdb")
	rep, err := Run(context.Background(), Options{Folder: fx.folder, Target: out, Gamertag: "tester", Mode: ModeReplace})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != 2 || !rep.NewDatabase || !rep.Verified {
		t.Errorf("report %+v", rep)
	}
	if n := count(t, out, "items"); n != 100 {
		t.Errorf("items: %d rows", n)
	}
	if n := count(t, out, "extra.notes"); n != 2 {
		t.Errorf("extra.notes: %d rows", n)
	}
	if n := count(t, out, "big_items"); n != 49 {
		t.Errorf("view big_items: %d rows", n)
	}
	if len(rep.Sequences) != 1 || rep.Sequences[0].NextValue != 110 {
		t.Errorf("sequences %+v, want ids at 110", rep.Sequences)
	}
	// The same snapshot appended again collides on items' primary key.
	_, err = Run(context.Background(), Options{Folder: fx.folder, Target: out})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Table != "items" || !strings.HasPrefix(ce.Key, "id: ") {
		t.Errorf("want a conflict on items, got %v", err)
	}
	if n := count(t, out, "extra.notes"); n != 2 {
		t.Errorf("extra.notes after a failed append: %d rows, want 2 (rolled back)", n)
	}
}

// TestHostileManifests: DDL a tampered (but checksummed) manifest carries
// never runs on the target unless it is the one statement it claims to be.
func TestRestoreHostileManifests(t *testing.T) {
	cases := []struct {
		name string
		edit func(m *snapshot.Manifest)
		want string
	}{
		{"second statement in create_sql", func(m *snapshot.Manifest) {
			m.Tables["items"].CreateSQL = strings.TrimSuffix(m.Tables["items"].CreateSQL, ";") + "; CREATE TABLE pwned(a INTEGER);"
		}, "more than one statement"},
		{"create_sql reads a file", func(m *snapshot.Manifest) {
			m.Tables["extra.notes"].CreateSQL = "CREATE TABLE extra.notes AS SELECT content AS n FROM read_text('/etc/hostname')"
		}, "extra.notes"},
		{"create_sql makes another table", func(m *snapshot.Manifest) {
			m.Tables["extra.notes"].CreateSQL = "CREATE TABLE extra.other (n VARCHAR)"
		}, "does not create table extra.notes"},
		{"create_sql makes a view", func(m *snapshot.Manifest) {
			m.Tables["extra.notes"].CreateSQL = "CREATE VIEW extra.notes AS SELECT 'x' AS n"
		}, "extra.notes"},
		{"create_sql is not a CREATE", func(m *snapshot.Manifest) {
			m.Tables["extra.notes"].CreateSQL = "DROP TABLE IF EXISTS items"
		}, "not a CREATE"},
		{"columns disagree with create_sql", func(m *snapshot.Manifest) {
			m.Tables["items"].Columns[2].Type = "VARCHAR"
		}, "column 3"},
		{"unknown encoding", func(m *snapshot.Manifest) {
			m.Tables["items"].Columns[1].Encoding = "rot13"
		}, "unknown"},
		{"sequence with a second statement", func(m *snapshot.Manifest) {
			m.Sequences[0].SQL = strings.TrimSuffix(m.Sequences[0].SQL, ";") + "; DROP TABLE items;"
		}, "CREATE SEQUENCE"},
		{"index that is a table", func(m *snapshot.Manifest) {
			m.Indexes[0].SQL = "CREATE TABLE pwned (a INTEGER)"
		}, "not a CREATE INDEX"},
		{"macro with a second statement", func(m *snapshot.Manifest) {
			m.Macros[0].SQL = strings.TrimSuffix(m.Macros[0].SQL, ";") + "; CREATE TABLE pwned(a INTEGER);"
		}, "more than one statement"},
		{"comment with a second statement", func(m *snapshot.Manifest) {
			m.Comments[0].SQL = "COMMENT ON TABLE \"main\".\"items\" IS 'x'; DROP TABLE items;"
		}, "COMMENT ON"},
		{"view that is a table", func(m *snapshot.Manifest) {
			m.Views[0].SQL = "CREATE TABLE big_items AS SELECT 1"
		}, "not a CREATE VIEW"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.tamper(t, c.edit)
			target := filepath.Join(fx.dir, "target.duckdb")
			testutil.CopyFile(t, fx.source, target)
			before := testutil.FileBLAKE3(t, target)
			_, err := Run(context.Background(), Options{Folder: fx.folder, Target: target, Mode: ModeReplace})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if !errors.Is(err, ErrBadDDL) && !errors.Is(err, ErrUnknownEncoding) {
				t.Errorf("error is neither ErrBadDDL nor ErrUnknownEncoding: %v", err)
			}
			if testutil.FileBLAKE3(t, target) != before {
				t.Error("the target changed")
			}
			_, err = Run(context.Background(), Options{Folder: fx.folder, Target: filepath.Join(fx.dir, "new.duckdb")})
			if err == nil {
				t.Error("a new target was restored from a hostile manifest")
			}
			if _, err := os.Stat(filepath.Join(fx.dir, "new.duckdb")); !os.IsNotExist(err) {
				t.Error("a refused restore left a new database")
			}
		})
	}
}

// TestHostileViewIsNotRun: a view that would read a file is never created:
// file access is off in the sandbox and on the target alike.
func TestRestoreHostileViewIsNotRun(t *testing.T) {
	fx := newFixture(t)
	fx.tamper(t, func(m *snapshot.Manifest) {
		m.Views[0].SQL = "CREATE VIEW big_items AS SELECT * FROM read_text('/etc/hostname')"
	})
	out := filepath.Join(fx.dir, "out.duckdb")
	rep, err := Run(context.Background(), Options{Folder: fx.folder, Target: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Name != "big_items" {
		t.Errorf("skipped %+v", rep.Skipped)
	}
	db, _ := sql.Open("duckdb", out+"?access_mode=READ_ONLY")
	defer db.Close()
	var n int
	db.QueryRow("SELECT count(*) FROM duckdb_views() WHERE view_name = 'big_items'").Scan(&n)
	if n != 0 {
		t.Error("the hostile view was created")
	}
}

// TestCancelRollsBack: a cancelled restore (Ctrl-C) rolls back and
// removes its work folder.
func TestRestoreCancelRollsBack(t *testing.T) {
	fx := newFixture(t)
	target := filepath.Join(fx.dir, "target.duckdb")
	db, _ := sql.Open("duckdb", target)
	db.Exec("CREATE TABLE keep (a INTEGER)")
	db.Exec("INSERT INTO keep VALUES (1)")
	db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, Options{Folder: fx.folder, Target: target, Progress: func(p Progress) {
		if p.Stage == StageRestore && p.Done {
			cancel() // after the first table was loaded
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	db, _ = sql.Open("duckdb", target+"?access_mode=READ_ONLY")
	defer db.Close()
	var n int
	db.QueryRow("SELECT count(*) FROM duckdb_tables()").Scan(&n)
	if n != 1 {
		t.Errorf("%d tables after a cancelled restore, want only keep", n)
	}
	des, _ := os.ReadDir(fx.dir)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), WorkPrefix) {
			t.Errorf("work folder %s left", de.Name())
		}
	}
}

func TestRestoreGamertagAndTables(t *testing.T) {
	fx := newFixture(t)
	out := filepath.Join(fx.dir, "out.duckdb")
	_, err := Run(context.Background(), Options{Folder: fx.folder, Target: out, Gamertag: "someone else"})
	var ge *GamertagError
	if !errors.As(err, &ge) || ge.Got != "tester" {
		t.Errorf("want a gamertag refusal, got %v", err)
	}
	_, err = Run(context.Background(), Options{Folder: fx.folder, Target: out, Tables: []string{"items", "nope"}})
	var ue *UnknownTablesError
	if !errors.As(err, &ue) || len(ue.Unknown) != 1 || ue.Unknown[0] != "nope" || strings.Join(ue.Available, ",") != "extra.notes,items" {
		t.Errorf("want an unknown-table error, got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused restore created the target")
	}
}

func TestRestoreParsers(t *testing.T) {
	for in, want := range map[string]string{"v1.2.0+": "v1.2.0", "v1.0.0": "v1.0.0", "": "", "latest": "", "v1.2.0' x": ""} {
		if got := storageVersion(in); got != want {
			t.Errorf("storageVersion(%q) = %q, want %q", in, got, want)
		}
	}
	s := snapshot.Sequence{Schema: `we"ird`, Name: "s q", Next: 7, Increment: -2,
		SQL: `CREATE SEQUENCE "we""ird"."s q" INCREMENT BY -2 MINVALUE -100 MAXVALUE 100 START 7 CYCLE;`}
	d, err := parseSequence(s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Schema != `we"ird` || d.Name != "s q" || d.Min != -100 || d.Max != 100 || !d.Cycle || d.Next != 7 {
		t.Errorf("parsed %+v", d)
	}
	if _, err := d.nextvalArg(); err == nil {
		t.Error("nextval cannot name a sequence with a double quote; want an error")
	}
	s.Next = 8
	if _, err := parseSequence(s); err == nil {
		t.Error("a START that disagrees with next_value must be refused")
	}
	c, err := parseComment(snapshot.Object{Schema: "main", Name: "t.c", SQL: `COMMENT ON COLUMN "main"."t"."c" IS 'it''s';`})
	if err != nil {
		t.Fatal(err)
	}
	if c.target() != objKey("table", "main", "t") || c.sql() != `COMMENT ON COLUMN "main"."t"."c" IS 'it''s'` {
		t.Errorf("comment %+v → %s", c, c.sql())
	}
	if n, err := nextFromDDL(`CREATE SEQUENCE "x START 5" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START 3 NO CYCLE;`); err != nil || n != 3 {
		t.Errorf("nextFromDDL = %d, %v", n, err)
	}
}

func TestRestoreAdvance(t *testing.T) {
	conn, _ := testutil.Conn(t, ":memory:", true)
	ctx := context.Background()
	for _, c := range []struct {
		inc, start, target, wantNext int64
	}{
		{1, 1, 50, 50}, {3, 1, 50, 52}, {1, 60, 50, 60}, {-1, -1, -20, -20}, {-5, 0, -12, -15},
	} {
		conn.ExecContext(ctx, "DROP SEQUENCE IF EXISTS s")
		q := "CREATE SEQUENCE s INCREMENT BY " + strconv.FormatInt(c.inc, 10) + " MINVALUE -1000 MAXVALUE 1000 START " + strconv.FormatInt(c.start, 10)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		d := seqDef{Schema: "main", Name: "s", Increment: c.inc, Next: c.target}
		next, _, err := advance(ctx, conn, d, c.start)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		conn.QueryRowContext(ctx, "SELECT nextval('s')").Scan(&got)
		if got != c.wantNext || (next != c.wantNext) {
			t.Errorf("%+v: nextval gives %d (reported %d), want %d", c, got, next, c.wantNext)
		}
	}
}

// TestRestoreIntegrityBeforeDDL: the manifest's DDL is checked while the
// files are hashed, but a snapshot that does not verify is refused as
// such, whatever its DDL says, and a manifest whose checksum is wrong is
// never handed to the sandbox.
func TestRestoreIntegrityBeforeDDL(t *testing.T) {
	fx := newFixture(t)
	fx.tamper(t, func(m *snapshot.Manifest) {
		m.Tables["extra.notes"].CreateSQL = "CREATE TABLE extra.other (n VARCHAR)"
	})
	testutil.FlipByte(t, filepath.Join(fx.folder.Dir, fx.file(t, "items")))
	target := filepath.Join(fx.dir, "target.duckdb")
	testutil.CopyFile(t, fx.source, target)
	before := testutil.FileBLAKE3(t, target)
	_, err := Run(context.Background(), Options{Folder: fx.folder, Target: target, Mode: ModeReplace})
	var ie *IntegrityError
	if !errors.As(err, &ie) || errors.Is(err, ErrBadDDL) {
		t.Fatalf("want an integrity error, got %v", err)
	}
	if testutil.FileBLAKE3(t, target) != before {
		t.Error("the target changed")
	}

	// A manifest edited without a new checksum: verify says so, and the
	// sandbox never sees its DDL.
	fx = newFixture(t)
	mpath := filepath.Join(fx.folder.Dir, snapshot.ManifestName(fx.id))
	raw, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), "CREATE TABLE extra.notes(n VARCHAR);", "CREATE TABLE extra.other(n VARCHAR);", 1)
	if edited == string(raw) {
		t.Fatal("the fixture's manifest lacks the create_sql to edit")
	}
	if err := os.WriteFile(mpath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	infos, err := snapshot.Scan(context.Background(), fx.folder)
	if err != nil || len(infos) != 1 {
		t.Fatalf("scan: %v, %d snapshots", err, len(infos))
	}
	called := false
	res := verify.Snapshot(context.Background(), fx.folder, infos[0], nil, verify.Options{ManifestVerified: func() { called = true }})
	if res.OK || called {
		t.Fatalf("verify OK=%v, ManifestVerified called=%v; want a refusal before any DDL is looked at", res.OK, called)
	}
	_, err = Run(context.Background(), Options{Folder: fx.folder, Target: filepath.Join(fx.dir, "new.duckdb")})
	if !errors.As(err, &ie) {
		t.Fatalf("want an integrity error, got %v", err)
	}
}

// file names the Parquet file of table key in the fixture's snapshot.
func (fx fixture) file(t *testing.T, key string) string {
	t.Helper()
	return testutil.ReadManifest(t, fx.folder.Dir, fx.id).Tables[key].File
}
