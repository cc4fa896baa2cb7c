// Command memlimit measures what backup's DuckDB memory limit costs:
// backup.Backup of one database under the default limit (512MB) and
// under DuckDB's own default (80% of RAM), each in its own process,
// alternating, with wall time and peak RSS (wait4's ru_maxrss).
//
//	go run ./bench/memlimit -db data/players/P/stats.duckdb [-reps 5]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/local"
)

func main() {
	db := flag.String("db", "", "the DuckDB database to back up")
	reps := flag.Int("reps", 5, "timed runs of each limit (after one warm-up of each)")
	child := flag.String("child", "", "helper mode: back up -db under this memory_limit into -out")
	out := flag.String("out", "", "helper mode: the backup folder")
	flag.Parse()
	if *child != "" {
		if err := backupOnce(*db, *out, *child); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*db, *reps); err != nil {
		fmt.Fprintf(os.Stderr, "memlimit: %v\n", err)
		os.Exit(1)
	}
}

func backupOnce(db, out, limit string) error {
	ctx := context.Background()
	f, err := storage.OpenFolder(ctx, out, true)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = backup.Backup(ctx, backup.Options{Source: db, Gamertag: "Bench", Folder: f, MemoryLimit: limit, CompressionLevel: backup.DefaultCompressionLevel})
	return err
}

func duckDefault() (string, error) {
	c, err := sql.Open("duckdb", "")
	if err != nil {
		return "", err
	}
	defer c.Close()
	var v string
	err = c.QueryRow("SELECT current_setting('memory_limit')").Scan(&v)
	return v, err
}

type sample struct {
	wall time.Duration
	rss  int64 // KiB
}

func run(db string, reps int) error {
	if db == "" {
		return fmt.Errorf("-db is required")
	}
	def, err := duckDefault()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "statsnap-memlimit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	limits := []string{backup.MemoryLimit, def}
	res := map[string][]sample{}
	for i := 0; i <= reps; i++ {
		for _, l := range limits {
			out := filepath.Join(work, fmt.Sprint(i), l)
			c := exec.Command(self, "-child", l, "-db", db, "-out", out)
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			start := time.Now()
			if err := c.Run(); err != nil {
				return fmt.Errorf("backup under %s: %w", l, err)
			}
			wall := time.Since(start)
			ru := c.ProcessState.SysUsage().(*syscall.Rusage)
			if i > 0 {
				res[l] = append(res[l], sample{wall, ru.Maxrss})
			}
			os.RemoveAll(out)
		}
	}
	fmt.Printf("backup of %s, median of %d runs each, alternating\n\n", db, reps)
	fmt.Println("| memory_limit | wall (median, min–max) | peak RSS (median, min–max) |")
	fmt.Println("|---|---|---|")
	for _, l := range limits {
		s := res[l]
		walls := make([]time.Duration, len(s))
		rss := make([]int64, len(s))
		for i, x := range s {
			walls[i], rss[i] = x.wall, x.rss
		}
		slices.Sort(walls)
		slices.Sort(rss)
		name := l
		if l == def {
			name = l + " (DuckDB's default)"
		}
		fmt.Printf("| %s | %s (%s–%s) | %d MiB (%d–%d) |\n", name, walls[len(walls)/2].Round(time.Millisecond),
			walls[0].Round(time.Millisecond), walls[len(walls)-1].Round(time.Millisecond),
			rss[len(rss)/2]>>10, rss[0]>>10, rss[len(rss)-1]>>10)
	}
	return nil
}
