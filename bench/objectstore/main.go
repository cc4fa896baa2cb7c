// Command objectstore measures statsnap against a bucket on MinIO on
// loopback, as ratios to the same commands on a local folder in the same
// run: backup, verify, and the share of a snapshot's bytes that
// verify --quick reads.
//
//	go run ./bench/objectstore [-matches 20000] [-reps 5] [-work DIR]
//
// It starts MinIO itself (from PATH or $GOPATH/bin; scripts/servers.sh
// install builds it) on 127.0.0.1 with a fresh data folder, and stops it
// by PID at the end.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/blob"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

const (
	accessKey = "statsnapbench"
	secretKey = "statsnapbench-secret"
	bucket    = "bench"
)

func main() {
	matches := flag.Int("matches", 20000, "sample size (statsnap sample --matches)")
	reps := flag.Int("reps", 5, "timed repetitions of each command (after one warm-up)")
	work := flag.String("work", filepath.Join(os.TempDir(), "statsnap-bench-objectstore"), "work folder (the sample is kept between runs)")
	flag.Parse()
	if err := run(*matches, *reps, *work); err != nil {
		fmt.Fprintf(os.Stderr, "objectstore bench: %v\n", err)
		os.Exit(1)
	}
}

func run(matches, reps int, work string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(work, "statsnap")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/statsnap").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	sample := filepath.Join(work, fmt.Sprintf("sample-%d", matches))
	db := filepath.Join(sample, "data", "players", "Bench", "stats.duckdb")
	if _, err := os.Stat(db); err != nil {
		fmt.Printf("making a sample of %d matches…\n", matches)
		if err := os.MkdirAll(sample, 0o755); err != nil {
			return err
		}
		if out, err := statsnap(bin, sample, nil, "sample", "--gamertag", "Bench", "--matches", strconv.Itoa(matches)); err != nil {
			return fmt.Errorf("sample: %v\n%s", err, out)
		}
	}

	load0 := loadavg()
	endpoint, minio, stop, err := startMinIO(work)
	if err != nil {
		return err
	}
	defer stop()
	env := []string{"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=us-east-1"}
	for _, kv := range env {
		k, v, _ := cut(kv)
		os.Setenv(k, v)
	}
	query := "?endpoint=" + endpoint + "&region=us-east-1&use_path_style=true"

	runDir := filepath.Join(work, "run")
	os.RemoveAll(runDir)
	localRoot := filepath.Join(runDir, "local")
	var backLocal, backS3 []time.Duration
	for i := 0; i <= reps; i++ {
		at := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339)
		d1, err := timed(bin, sample, env, "backup", "--full", "--db", db, "--gamertag", "Bench", "--output", localRoot, "--time", at)
		if err != nil {
			return err
		}
		d2, err := timed(bin, sample, env, "backup", "--full", "--db", db, "--gamertag", "Bench", "--output", "s3://"+bucket+"/root"+query, "--time", at)
		if err != nil {
			return err
		}
		if i > 0 { // the first is the warm-up
			backLocal, backS3 = append(backLocal, d1), append(backS3, d2)
		}
	}
	localFolder := filepath.Join(localRoot, "Bench")
	s3Folder := "s3://" + bucket + "/root/Bench" + query
	var verLocal, verS3, cpuLocal, cpuS3, cpuMinIO []time.Duration
	for i := 0; i <= reps; i++ {
		d1, c1, err := timedCPU(bin, sample, env, "verify", "--backup", localFolder)
		if err != nil {
			return err
		}
		m0 := cpuOf(minio)
		d2, c2, err := timedCPU(bin, sample, env, "verify", "--backup", s3Folder)
		if err != nil {
			return err
		}
		m1 := cpuOf(minio)
		if i > 0 {
			verLocal, verS3 = append(verLocal, d1), append(verS3, d2)
			cpuLocal, cpuS3, cpuMinIO = append(cpuLocal, c1), append(cpuS3, c2), append(cpuMinIO, m1-m0)
		}
	}
	read, total, err := quickBytes(s3Folder)
	if err != nil {
		return err
	}

	fmt.Printf("\nstatsnap on MinIO (127.0.0.1) against a local folder, %d matches, median of %d runs\n\n", matches, reps)
	fmt.Println("| command | local | MinIO | ratio | target |")
	fmt.Println("|---------|-------|-------|-------|--------|")
	row := func(name string, l, s []time.Duration, target float64) {
		ml, ms := median(l), median(s)
		fmt.Printf("| %s | %s | %s | %.2f× | ≤ %.1f× |\n", name, ml.Round(time.Millisecond), ms.Round(time.Millisecond), float64(ms)/float64(ml), target)
	}
	row("backup", backLocal, backS3, 1.3)
	row("verify", verLocal, verS3, 1.5)
	fmt.Printf("\nverify's CPU time (user and system), median: statsnap %s locally, %s from MinIO, and MinIO %s serving it\n",
		median(cpuLocal).Round(time.Millisecond), median(cpuS3).Round(time.Millisecond), median(cpuMinIO).Round(time.Millisecond))
	fmt.Printf("load average at the start %s, at the end %s\n", load0, loadavg())
	fmt.Printf("\nverify --quick read %d of %d bytes of the snapshot: %.3f %% (target < 1 %%)\n", read, total, 100*float64(read)/float64(total))
	return nil
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func statsnap(bin, dir string, env []string, args ...string) ([]byte, error) {
	c := exec.Command(bin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	return c.CombinedOutput()
}

func timed(bin, dir string, env []string, args ...string) (time.Duration, error) {
	d, _, err := timedCPU(bin, dir, env, args...)
	return d, err
}

// timedCPU is timed, also returning the CPU time (user and system) the
// command used.
func timedCPU(bin, dir string, env []string, args ...string) (time.Duration, time.Duration, error) {
	c := exec.Command(bin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := c.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("statsnap %v: %v\n%s", args, err, out)
	}
	return time.Since(start), c.ProcessState.UserTime() + c.ProcessState.SystemTime(), nil
}

// cpuOf returns the CPU time (user and system) process pid has used so
// far, from /proc (0 where there is none).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// startMinIO runs MinIO on a free loopback port with a fresh data folder
// holding one bucket, and returns its endpoint, its PID and how to stop
// it.
func startMinIO(work string) (string, int, func(), error) {
	bin, err := exec.LookPath("minio")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(string(trim(gopath)), "bin", "minio")
		if _, err := os.Stat(bin); err != nil {
			return "", 0, nil, fmt.Errorf("minio not found; run scripts/servers.sh install")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(work, "minio-data")
	os.RemoveAll(data)
	if err := os.MkdirAll(filepath.Join(data, bucket), 0o755); err != nil {
		return "", 0, nil, err
	}
	c := exec.Command(bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--console-address", "127.0.0.1:0", data)
	c.Env = append(os.Environ(), "MINIO_ROOT_USER="+accessKey, "MINIO_ROOT_PASSWORD="+secretKey, "MINIO_UPDATE=off", "MINIO_BROWSER=off")
	if err := c.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() {
		_ = c.Process.Kill()
		_ = c.Wait() // killed: its exit status says nothing

		os.RemoveAll(data)
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 120; i++ {
		if resp, err := http.Get(endpoint + "/minio/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint, c.Process.Pid, stop, nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	stop()
	return "", 0, nil, fmt.Errorf("minio did not become ready")
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// counting counts the bytes read from every file opened through it.
type counting struct {
	storage.Folder
	n *atomic.Int64
}

type countingFile struct {
	storage.File
	n *atomic.Int64
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (c counting) Open(ctx context.Context, name string) (storage.File, error) {
	f, err := c.Folder.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.n}, nil
}

// quickBytes runs verify --quick's check on the newest snapshot of the
// folder and counts the bytes it reads, manifest included.
func quickBytes(location string) (read, total int64, err error) {
	ctx := context.Background()
	f, err := storage.OpenFolder(ctx, location, false)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var n atomic.Int64
	cf := counting{f, &n}
	snaps, err := snapshot.Scan(ctx, cf)
	if err != nil || len(snaps) == 0 {
		return 0, 0, fmt.Errorf("scan %s: %v", location, err)
	}
	s := snaps[len(snaps)-1]
	entries, err := f.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	n.Store(0)
	res := verify.Snapshot(ctx, cf, s, entries, verify.Options{Quick: true})
	if !res.OK {
		return 0, 0, fmt.Errorf("verify --quick failed: %+v", res.Problems)
	}
	// The manifest, read once by the listing, counts too.
	for _, e := range entries {
		if e.Name == snapshot.ManifestName(s.ID) {
			n.Add(e.Size)
		}
	}
	return n.Load(), s.Size(), nil
}
