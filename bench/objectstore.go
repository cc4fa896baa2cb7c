package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/blob" // s3:// locations
	"github.com/openspartan/statsnap/internal/storage/storagetest"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// objectStoreResult is statsnap on a bucket of MinIO on loopback against
// the same commands on a local folder, for one sample size (issue 12's
// targets).
type objectStoreResult struct {
	Matches  int
	Backup   *series // local folder
	BackupS3 *series // MinIO
	Verify   *series
	VerifyS3 *series
	// MinIOCPU is the CPU time (user and system) MinIO spent during each
	// timed verify from it: on a machine where the server shares the
	// cores, it is part of what the verify waits for.
	MinIOCPU   []time.Duration
	QuickRead  int64 // bytes verify --quick read of the newest snapshot, its manifest included
	QuickTotal int64 // that snapshot's bytes
	Err        string
}

// Issue 12's targets.
const (
	targetBackupS3 = 1.3  // backup to MinIO / local backup
	targetVerifyS3 = 1.5  // verify from MinIO / local verify
	targetQuick    = 0.01 // share of a snapshot's bytes verify --quick reads
)

const (
	minioUser   = "statsnapbench"
	minioSecret = "statsnapbench-secret"
	minioBucket = "bench"
)

// runObjectStore measures every size against MinIO, which it starts
// itself (scripts/servers.sh install builds it); without MinIO it says
// so in the report and goes on.
func (b *bench) runObjectStore() {
	endpoint, pid, stop, err := b.startMinIO()
	if err != nil {
		note := "the object-store part was not run: " + err.Error()
		b.notes = append(b.notes, note)
		b.logf("%s", note)
		return
	}
	defer stop()
	for _, n := range b.opts.Matches {
		if b.ctx.Err() != nil {
			return
		}
		r := &objectStoreResult{Matches: n}
		if err := b.objectStore(r, endpoint, pid); err != nil {
			r.Err = err.Error()
			b.logf("object store, --matches %d: %v", n, err)
		}
		b.objstore = append(b.objstore, r)
		b.checkpoint()
	}
}

func (b *bench) objectStore(r *objectStoreResult, endpoint string, minio int) error {
	n := r.Matches
	gamertag := fmt.Sprintf("Bench%d", n)
	src, _, err := b.sampleDB(gamertag, n)
	if err != nil {
		return err
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + minioUser, "AWS_SECRET_ACCESS_KEY=" + minioSecret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1"}
	query := "?endpoint=" + endpoint + "&region=us-east-1&use_path_style=true"
	localRoot := filepath.Join(b.work, "run", "objectstore", fmt.Sprint(n))
	if err := os.RemoveAll(localRoot); err != nil {
		return err
	}
	s3Root := fmt.Sprintf("s3://%s/%d%s", minioBucket, n, query)
	cmd := func(args ...string) *exec.Cmd {
		c := b.statsnapCmd(args...)
		c.Env = append(c.Env, env...)
		return c
	}
	// Every backup is a full one at its own time, so each repetition
	// writes every byte (an incremental one would time almost nothing),
	// and both folders grow alike.
	var at [2]int
	backup := func(name, root string, side int) job {
		return job{Name: name, Cmd: func() *exec.Cmd {
			t := time.Date(2026, 1, 1, 0, 0, at[side], 0, time.UTC).Format(time.RFC3339)
			return cmd("backup", "--full", "--db", src, "--gamertag", gamertag, "--output", root, "--time", t, "--json")
		}, Check: func(out []byte) error { at[side]++; return checkBackupJSON(out) }}
	}
	b.logf("object store, --matches %d: backup to a local folder vs to MinIO", n)
	ss := b.group([]job{backup("statsnap backup, local folder", localRoot, 0), backup("statsnap backup, MinIO", s3Root, 1)}, b.opts.Reps)
	r.Backup, r.BackupS3 = ss[0], ss[1]
	if !r.Backup.ok() || !r.BackupS3.ok() {
		return fmt.Errorf("a backup failed, so verify was not measured")
	}

	localFolder := filepath.Join(localRoot, gamertag)
	s3Folder := fmt.Sprintf("s3://%s/%d/%s%s", minioBucket, n, gamertag, query)
	var m0 time.Duration
	var minioCPU []time.Duration
	verifyS3 := job{Name: "statsnap verify, MinIO",
		Prepare: func() error { m0 = cpuOf(minio); return nil },
		Cmd:     func() *exec.Cmd { return cmd("verify", "--backup", s3Folder) },
		Check:   func([]byte) error { minioCPU = append(minioCPU, cpuOf(minio)-m0); return nil },
	}
	verifyLocal := job{Name: "statsnap verify, local folder", Cmd: func() *exec.Cmd { return cmd("verify", "--backup", localFolder) }}
	b.logf("object store, --matches %d: verify of a local folder vs from MinIO", n)
	ss = b.group([]job{verifyLocal, verifyS3}, b.opts.Reps)
	r.Verify, r.VerifyS3 = ss[0], ss[1]
	if len(minioCPU) > 0 {
		r.MinIOCPU = minioCPU[1:] // the first is the warm-up's
	}

	for _, kv := range env { // quickBytes runs in this process
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	r.QuickRead, r.QuickTotal, err = quickBytes(b.ctx, s3Folder)
	return err
}

// quickBytes runs verify --quick's check on the newest snapshot of the
// folder and counts the bytes it reads, manifest included.
func quickBytes(ctx context.Context, location string) (read, total int64, err error) {
	f, err := storage.OpenFolder(ctx, location, false)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cf := &storagetest.Counting{Folder: f}
	snaps, err := snapshot.Scan(ctx, cf)
	if err != nil || len(snaps) == 0 {
		return 0, 0, fmt.Errorf("scan %s: %v", storage.Redact(location), err)
	}
	s := snaps[len(snaps)-1]
	entries, err := f.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	cf.Reset()
	res := verify.Snapshot(ctx, cf, s, entries, verify.Options{Quick: true})
	if !res.OK {
		return 0, 0, fmt.Errorf("verify --quick failed: %+v", res.Problems)
	}
	// The manifest, read by the scan, counts too.
	read = cf.Bytes()
	for _, e := range entries {
		if e.Name == snapshot.ManifestName(s.ID) {
			read += e.Size
		}
	}
	return read, s.Size(), nil
}

// cpuOf returns the CPU time (user and system) process pid has used so
// far, from /proc (0 where there is none).
func cpuOf(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// startMinIO runs MinIO on a free loopback port with a fresh data folder
// holding one bucket, and returns its endpoint, its PID and how to stop
// it.
func (b *bench) startMinIO() (string, int, func(), error) {
	bin, err := exec.LookPath("minio")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio")
		if _, err := os.Stat(bin); err != nil {
			return "", 0, nil, fmt.Errorf("minio is not installed (scripts/servers.sh install builds it)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(b.work, "minio-data")
	os.RemoveAll(data)
	if err := os.MkdirAll(filepath.Join(data, minioBucket), 0o755); err != nil {
		return "", 0, nil, err
	}
	c := exec.Command(bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--console-address", "127.0.0.1:0", data)
	c.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret, "MINIO_UPDATE=off", "MINIO_BROWSER=off")
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
				b.logf("MinIO on %s (pid %d)", endpoint, c.Process.Pid)
				return endpoint, c.Process.Pid, stop, nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	stop()
	return "", 0, nil, fmt.Errorf("minio did not become ready within a minute")
}

// objectStoreReport writes the object-store section.
func (b *bench) objectStoreReport(w *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Object storage: MinIO on loopback against a local folder\n\n")
	p("Issue 12's targets. MinIO (started by the bench, fresh data folder, on 127.0.0.1) runs on the same %d cores as statsnap. Each pair alternates a local folder and a bucket, one warm-up each, then %d repetitions; every backup is `--full` at a time of its own, so both folders hold as many snapshots; verify checks the newest.\n\n", b.machine.Cores, b.opts.Reps)
	p("| size | command | local folder | MinIO | ratio | target |\n|---|---|---|---|---|---|\n")
	for _, r := range b.objstore {
		label := fmt.Sprintf("--matches %d", r.Matches)
		pairRow := func(name string, l, s *series, target float64) {
			if l == nil || s == nil || !l.ok() || !s.ok() {
				why := r.Err
				for _, x := range []*series{l, s} {
					if x != nil && x.Err != "" {
						why = x.Err
					}
				}
				p("| %s | %s | failed: %s | | | |\n", label, name, oneLine(why))
				return
			}
			ratio := float64(s.Median()) / float64(l.Median())
			p("| %s | %s | %s | %s | %s | ≤ %.1f× |\n", label, name, fmtDur(l.Median()), fmtDur(s.Median()), verdict(ratio, target, "%.2f×"), target)
		}
		pairRow("backup", r.Backup, r.BackupS3, targetBackupS3)
		if r.Verify != nil || r.Err == "" {
			pairRow("verify", r.Verify, r.VerifyS3, targetVerifyS3)
		}
		if r.QuickTotal > 0 {
			share := float64(r.QuickRead) / float64(r.QuickTotal)
			// The target is set on a 200,000-match snapshot: what --quick
			// reads is the manifest and the footers, so its share falls as
			// a snapshot grows.
			cell, target := fmt.Sprintf("%.2f %%", 100*share), "none (context; < 1 % at 200,000 matches)"
			if r.Matches >= 200000 {
				cell, target = verdict(100*share, 100*targetQuick, "%.2f %%"), "< 1 %"
			}
			p("| %s | verify --quick: bytes read of the snapshot | | %s of %s | %s | %s |\n", label, withCommas(r.QuickRead), withCommas(r.QuickTotal), cell, target)
		}
	}
	p("\n")
	p("Where the verify's time goes, in CPU (user and system, medians). Two processes that need C ms of CPU together take at least C / cores of wall time, however they are scheduled: that is the floor below, set against the local verify.\n\n")
	p("| size | statsnap, local verify | statsnap, verify from MinIO | MinIO serving it | floor on %d cores | floor / local verify |\n|---|---|---|---|---|---|\n", b.machine.Cores)
	for _, r := range b.objstore {
		if r.Verify == nil || r.VerifyS3 == nil || !r.Verify.ok() || !r.VerifyS3.ok() || len(r.MinIOCPU) == 0 || b.machine.Cores < 1 {
			continue
		}
		mc := median(r.MinIOCPU)
		floor := (r.VerifyS3.CPU() + mc) / time.Duration(b.machine.Cores)
		p("| --matches %d | %s | %s | %s | %s | %.2f× |\n", r.Matches, fmtDur(r.Verify.CPU()), fmtDur(r.VerifyS3.CPU()), fmtDur(mc), fmtDur(floor),
			float64(floor)/float64(r.Verify.Median()))
	}
	p("\nbench/OBJECTSTORE.md explains these figures and what was tried.\n\n")
	var cmds []string
	for _, r := range b.objstore {
		for _, s := range []*series{r.Backup, r.BackupS3, r.Verify, r.VerifyS3} {
			if s != nil {
				cmds = append(cmds, s.Command)
			}
		}
	}
	if len(cmds) > 0 {
		p("Commands (the MinIO port is the run's own):\n\n```\n%s\n```\n\n", strings.Join(cmds, "\n"))
	}
}
