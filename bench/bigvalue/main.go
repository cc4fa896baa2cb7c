// Command bigvalue measures statsnap on huge values (issue 15): a table
// whose few rows each hold a MAP of one huge string (by default two rows
// of 1 GiB, 2 GiB in all, which DuckDB writes as Parquet pages of 1 GiB).
// It backs the table up, verifies it with --deep and restores it into a
// new database, each command its own process of a statsnap built from
// this tree, and prints the wall time and peak RSS (wait4's ru_maxrss) of
// each, then checks the restored rows against the source.
//
//	go run ./bench/bigvalue [-size 1073741824] [-rows 2] [-work DIR] [-keep]
//
// Run it on a quiet machine and never two at once: the source database
// alone is rows × size on disk, and DuckDB needs several times size in
// memory to build it.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
)

func main() {
	size := flag.Int64("size", 1<<30, "bytes of the string in each row's MAP")
	rows := flag.Int("rows", 2, "rows of the table")
	work := flag.String("work", "", "work folder (default: a new temporary folder)")
	keep := flag.Bool("keep", false, "keep the work folder")
	createDB := flag.String("create", "", "helper mode: create this database and exit")
	flag.Parse()
	if *createDB != "" {
		if err := create(*createDB, *size, *rows); err != nil {
			fmt.Fprintf(os.Stderr, "bigvalue: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*size, *rows, *work, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "bigvalue: %v\n", err)
		os.Exit(1)
	}
}

func run(size int64, rows int, work string, keep bool) error {
	if work == "" {
		w, err := os.MkdirTemp("", "statsnap-bigvalue-")
		if err != nil {
			return err
		}
		work = w
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "statsnap")
	build := exec.Command("go", "build", "-o", bin, "./cmd/statsnap")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %w", err)
	}
	src := filepath.Join(work, "big.duckdb")
	if _, err := os.Stat(src); err != nil {
		// In a process of its own: Linux counts the parent's peak in a
		// child's ru_maxrss when the child starts, so this process stays
		// small.
		self, err := os.Executable()
		if err != nil {
			return err
		}
		start := time.Now()
		c := exec.Command(self, "-create", src, "-size", fmt.Sprint(size), "-rows", fmt.Sprint(rows))
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("create the database: %w", err)
		}
		fmt.Fprintf(os.Stderr, "created %s in %s\n", src, time.Since(start).Round(time.Millisecond))
	}
	out := filepath.Join(work, "backups")
	restored := filepath.Join(work, "restored.duckdb")
	os.RemoveAll(out)
	os.Remove(restored)
	steps := []struct {
		name string
		args []string
	}{
		{"backup", []string{"backup", "--db", src, "--gamertag", "Big", "--output", out, "--full"}},
		{"verify", []string{"verify", "--backup", filepath.Join(out, "Big")}},
		{"verify --deep", []string{"verify", "--deep", "--backup", filepath.Join(out, "Big")}},
		{"restore", []string{"restore", "--backup", filepath.Join(out, "Big"), "--db", restored}},
	}
	fmt.Printf("%d rows, each a MAP of one string of %d bytes (%.1f GiB in all)\n\n", rows, size, float64(size)*float64(rows)/(1<<30))
	fmt.Println("| command | wall | CPU (user+sys) | peak RSS |")
	fmt.Println("|---|---|---|---|")
	for _, s := range steps {
		c := exec.Command(bin, s.args...)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		err := c.Run()
		wall := time.Since(start)
		if err != nil {
			return fmt.Errorf("statsnap %s: %w", s.name, err)
		}
		ru := c.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("| %s | %s | %s | %.2f GB |\n", s.name, wall.Round(100*time.Millisecond), cpu.Round(100*time.Millisecond), float64(ru.Maxrss)*1024/1e9)
	}
	return compare(src, restored)
}

func create(path string, size int64, rows int) error {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(context.Background(), fmt.Sprintf(
		"CREATE TABLE big AS SELECT i AS id, map(['k' || i], [repeat(chr(120 + i::INTEGER %% 3), %d)]) AS m FROM range(%d) t(i)", size, rows))
	return err
}

// compare checks the restored table holds the source's rows: ids, string
// lengths and DuckDB's hash of each MAP.
func compare(src, restored string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	q := fmt.Sprintf(`ATTACH %s AS a (READ_ONLY); ATTACH %s AS b (READ_ONLY);`, sqlq.Literal(src), sqlq.Literal(restored))
	if _, err := db.Exec(q); err != nil {
		return err
	}
	var diff int
	err = db.QueryRow(`SELECT count(*) FROM (
		(SELECT id, hash(m) FROM a.big EXCEPT ALL SELECT id, hash(m) FROM b.big)
		UNION ALL
		(SELECT id, hash(m) FROM b.big EXCEPT ALL SELECT id, hash(m) FROM a.big))`).Scan(&diff)
	if err != nil {
		return err
	}
	if diff != 0 {
		return fmt.Errorf("the restored table differs from the source in %d rows", diff)
	}
	fmt.Println("\nthe restored table holds the same rows (id and hash of each MAP)")
	return nil
}
