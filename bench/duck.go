package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// sqlList is a repeatable -exec-sql flag.
type sqlList []string

func (l *sqlList) String() string     { return strings.Join(*l, "; ") }
func (l *sqlList) Set(s string) error { *l = append(*l, s); return nil }

// runSQL is the helper mode (-exec-sql): it opens db (in memory when
// empty) through duckdb-go, the same driver statsnap links, runs each
// statement in order on one connection, reads every result row to the end
// and prints the rows as tab-separated text on w. The bench runs it as a
// subprocess so that DuckDB's own tools pay the same process start, DuckDB
// start-up and teardown as a statsnap command.
func runSQL(ctx context.Context, db string, readOnly bool, stmts []string, w io.Writer) error {
	dsn := db
	if readOnly {
		dsn += "?" + url.Values{"access_mode": {"READ_ONLY"}}.Encode()
	}
	h, err := sql.Open("duckdb", dsn)
	if err != nil {
		return err
	}
	defer h.Close()
	conn, err := h.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range stmts {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("%s: %w", abbrev(q), err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return fmt.Errorf("%s: %w", abbrev(q), err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprint(v)
			}
			fmt.Fprintln(w, strings.Join(parts, "\t"))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", abbrev(q), err)
		}
	}
	return nil
}

func abbrev(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 120 {
		q = q[:117] + "..."
	}
	return q
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string { return sqlq.Literal(s) }

// helperMain runs the -exec-sql mode and exits. With syncDir it then
// fsyncs every file under syncDir and the folders, as a backup that must
// survive a power cut has to (EXPORT DATABASE does not).
func helperMain(db string, readOnly bool, stmts []string, syncDir string) {
	if err := runSQL(context.Background(), db, readOnly, stmts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench -exec-sql: %v\n", err)
		os.Exit(1)
	}
	if syncDir != "" {
		if err := syncTree(syncDir); err != nil {
			fmt.Fprintf(os.Stderr, "bench -fsync: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
