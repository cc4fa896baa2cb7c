package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/openspartan/statsnap/internal/duckdb/fingerprint"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

// ScanMemoryLimit is DuckDB's memory_limit while the tables are
// fingerprinted, unless Options.MemoryLimit sets one. A scan holds a few
// blocks per column and one small aggregate per thread; under the copy's
// 512 MB DuckDB instead keeps every block it reads (a whole 615 MB
// database) in fresh pages, and the kernel's page faults and copies cost
// more than the hashing. At 200,000 matches (15.9 M rows): 64 MB took the
// fingerprint of every table from 0.27-0.30 s of system time to 0.08-0.12 s,
// peak memory 478 to 145 MB, the same user time. A table whose rows do not
// fit is scanned again under DuckDB's default limit, like a copy.
const ScanMemoryLimit = "64MB"

// scanned is one table's fingerprint, or why it has none (ErrNoRowid).
type scanned struct {
	gs  []fingerprint.Granule
	err error
}

// scanTables fingerprints every table, on up to two connections at once,
// the largest first: a table of one row group is scanned by one thread,
// so one query at a time leaves a core idle for the small ones. Every
// connection sees the same data: the source is open read-only, which
// keeps writers out of the file until the backup closes it.
//
// The first connection reads the rest of the catalog (views, macros,
// comments: 30-100 ms, mostly the schema export that recovers macro
// defaults) while the others scan the largest tables; when nothing
// changed that read was otherwise alone after the scans. If it fails for
// memory, copyTables reads it again as before.
func (r *run) scanTables(ctx context.Context) ([]scanned, error) {
	out := make([]scanned, len(r.tables))
	limit := ScanMemoryLimit
	if r.opt.MemoryLimit != "" {
		limit = r.opt.MemoryLimit
	}
	if _, err := r.conn.ExecContext(ctx, "SET memory_limit = "+sqlq.Literal(limit)); err != nil {
		return nil, fmt.Errorf("set memory limit: %w", err)
	}
	jobs := r.opt.Jobs
	if jobs <= 0 {
		jobs = min(runtime.GOMAXPROCS(0), 2)
	}
	jobs = max(1, min(jobs, len(r.tables)))
	order := make([]int, len(r.tables))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return r.tables[order[a]].t.EstimatedRows > r.tables[order[b]].t.EstimatedRows
	})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu           sync.Mutex // guards next, failed, alone, firstAborted
		next         int
		failed       error
		alone        []int // tables to scan again alone (out of memory)
		firstAborted bool  // the first connection's transaction failed
	)
	work := func(conn *sql.Conn, first bool) {
		for {
			mu.Lock()
			if next == len(order) || failed != nil {
				mu.Unlock()
				return
			}
			i := order[next]
			next++
			mu.Unlock()
			pt := &r.tables[i]
			started := time.Now()
			gs, err := fingerprint.Scan(ctx, conn, pt.t.Schema, pt.t.Name, storedColumns(pt.plans))
			slog.Debug("fingerprinted table", "table", pt.t.Key(), "granules", len(gs), "took", time.Since(started))
			mu.Lock()
			switch {
			case err == nil || errors.Is(err, fingerprint.ErrNoRowid):
				out[i] = scanned{gs: gs, err: err}
			case outOfMemory(err) && ctx.Err() == nil:
				// Scanned again alone once the others are done; this
				// connection's transaction is aborted, so it stops here.
				alone = append(alone, i)
				firstAborted = firstAborted || first
				mu.Unlock()
				return
			default:
				if failed == nil {
					failed = err
					cancel()
				}
				firstAborted = firstAborted || first
				mu.Unlock()
				return
			}
			mu.Unlock()
		}
	}
	wait := onExtraConns(ctx, r.db, jobs-1, "fingerprints", func(conn *sql.Conn) { work(conn, false) })
	if jobs > 1 {
		base := *r.cat
		started := time.Now()
		err := r.cat.ReadObjects(ctx, r.conn)
		switch {
		case err == nil:
			r.objectsRead = true
			slog.Debug("read catalog", "took", time.Since(started))
		case outOfMemory(err) && ctx.Err() == nil:
			*r.cat = base
			mu.Lock()
			firstAborted = true
			mu.Unlock()
		default:
			*r.cat = base
			mu.Lock()
			firstAborted = true
			if failed == nil {
				failed = err
				cancel()
			}
			mu.Unlock()
		}
	}
	mu.Lock()
	aborted := firstAborted
	mu.Unlock()
	if !aborted {
		work(r.conn, true)
	}
	wait()
	if failed != nil {
		return nil, failed
	}
	for ; next < len(order); next++ {
		alone = append(alone, order[next])
	}
	if firstAborted {
		// The failed query aborted the first connection's transaction: it
		// is begun again. The source is read-only: it sees the same data.
		_, _ = r.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		if _, err := r.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return nil, fmt.Errorf("begin transaction: %w", err)
		}
	}
	for _, i := range alone {
		gs, err := r.scanAlone(ctx, &r.tables[i])
		if err != nil && !errors.Is(err, fingerprint.ErrNoRowid) {
			return nil, err
		}
		out[i] = scanned{gs: gs, err: err}
	}
	// SET memory_limit is global to the database: the copies get the
	// backup's.
	if _, err := r.conn.ExecContext(ctx, "SET memory_limit = "+sqlq.Literal(r.limit)); err != nil {
		return nil, fmt.Errorf("set memory limit: %w", err)
	}
	return out, nil
}

// scanAlone fingerprints a table whose rows did not fit the scan's memory
// limit again, on a fresh connection under DuckDB's default limit.
func (r *run) scanAlone(ctx context.Context, pt *plannedTable) ([]fingerprint.Granule, error) {
	slog.Info("fingerprinting a table again under DuckDB's default memory limit", "table", pt.t.Key())
	conn, err := readConn(ctx, r.db)
	if err != nil {
		return nil, fmt.Errorf("a fresh connection: %w", err)
	}
	defer conn.Close()
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") }()
	if _, err := conn.ExecContext(ctx, "SET memory_limit = "+sqlq.Literal(r.defaultLimit)); err != nil {
		return nil, fmt.Errorf("lift the memory limit: %w", err)
	}
	return fingerprint.Scan(ctx, conn, pt.t.Schema, pt.t.Name, storedColumns(pt.plans))
}
