package diff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openspartan/statsnap/internal/duckdb/catalog"
	"github.com/openspartan/statsnap/internal/duckdb/codec"
	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/snapshot"
)

// Fingerprinter computes a live table's fingerprint, as backup records it
// in Table.Fingerprint, inside the caller's transaction on conn; cols are
// the table's stored (not generated) columns. It returns "" for a table it
// cannot fingerprint. A nil Fingerprinter leaves live tables without one:
// they are then compared by row counts only.
type Fingerprinter func(ctx context.Context, conn *sql.Conn, schema, table string, cols []snapshot.Column) (string, error)

// Fingerprint is the Fingerprinter backup's own: DuckDB's two hashes of
// every row with its rowid, combined over the whole table. A table with a
// column named rowid has none (backup never shares its files either).
func Fingerprint(ctx context.Context, conn *sql.Conn, schema, table string, cols []snapshot.Column) (string, error) {
	var fc []fingerprint.Column
	for i, c := range cols {
		if !c.Generated {
			fc = append(fc, fingerprint.Column{Name: c.Name, Type: c.Type, Pos: i + 1})
		}
	}
	gs, err := fingerprint.Scan(ctx, conn, schema, table, fc)
	if errors.Is(err, fingerprint.ErrNoRowid) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fingerprint.Combine(gs).Hex(), nil
}

// ReadLive reads the live database on conn (opened read-only by the
// caller) into a manifest-shaped description: every table with its DDL,
// columns (planned as a backup would), row count and, with fp, its
// fingerprint; and every other object. It reads the catalog and counts in
// one transaction, so both describe one instant.
func ReadLive(ctx context.Context, conn *sql.Conn, fp Fingerprinter) (*snapshot.Manifest, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	// Read-only: nothing to commit. Best effort, on a context that may be
	// cancelled already.
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") }()
	cat, err := catalog.Read(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("read the database's catalog: %w", err)
	}
	m := &snapshot.Manifest{
		Tables:         map[string]*snapshot.Table{},
		DuckDBVersion:  cat.DuckDBVersion,
		StorageVersion: cat.StorageVersion,
		Schemas:        objectsOf(cat.Schemas),
		Types:          objectsOf(cat.Types),
		Indexes:        objectsOf(cat.Indexes),
		Views:          objectsOf(cat.Views),
		Macros:         objectsOf(cat.Macros),
		Comments:       objectsOf(cat.Comments),
	}
	for _, s := range cat.Sequences {
		m.Sequences = append(m.Sequences, snapshot.Sequence{Schema: s.Schema, Name: s.Name, SQL: s.SQL, Next: s.Next, Increment: s.Increment})
	}
	for _, t := range cat.Tables {
		key := t.Key()
		if _, dup := m.Tables[key]; dup {
			return nil, fmt.Errorf("two tables have the manifest key %q; rename one", key)
		}
		plans := make([]codec.ColumnPlan, len(t.Columns))
		for i, c := range t.Columns {
			plans[i] = codec.ColumnPlan{Name: c.Name, Type: c.Type}
		}
		if plans, err = codec.Plan(key, t.CreateSQL, plans); err != nil {
			return nil, err
		}
		e := &snapshot.Table{Schema: t.Schema, Name: t.Name, CreateSQL: t.CreateSQL}
		for _, p := range plans {
			e.Columns = append(e.Columns, snapshot.Column{Name: p.Name, Type: p.Type, Encoding: p.Encoding, Generated: p.Generated})
		}
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlq.Qualified(t.Schema, t.Name)).Scan(&e.Rows); err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", key, err)
		}
		if fp != nil {
			if e.Fingerprint, err = fp(ctx, conn, t.Schema, t.Name, e.Columns); err != nil {
				return nil, fmt.Errorf("fingerprint table %s: %w", key, err)
			}
			e.FingerprintVersion = fingerprint.Version
		}
		m.Tables[key] = e
		m.TableOrder = append(m.TableOrder, key)
	}
	return m, nil
}

func objectsOf(objs []catalog.Object) []snapshot.Object {
	var out []snapshot.Object
	for _, o := range objs {
		out = append(out, snapshot.Object{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Table: o.Table, SQL: o.SQL})
	}
	return out
}
