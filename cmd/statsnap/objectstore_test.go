package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gcblob "gocloud.dev/blob"

	"github.com/openspartan/statsnap/internal/storage/blob/blobtest"
	"github.com/openspartan/statsnap/internal/testutil"
)

// store is one object-store location for an end-to-end story.
type store struct {
	srv  blobtest.Server
	root string // backup root URL
	env  []string
}

func newStore(t *testing.T, server string) store {
	srv := blobtest.Get(t, server)
	tmp := t.TempDir()
	// TMPDIR: the staging folders of this test's processes, to check that
	// none is left behind.
	return store{srv: srv, root: srv.URL(t), env: append(append([]string{}, srv.Env...), "TMPDIR="+tmp)}
}

// folder is a player's folder URL: the root's path plus the name.
func (s store) folder(name string) string {
	u, _ := url.Parse(s.root)
	u.Path += "/" + name
	return u.String()
}

func (s store) run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return cliEnv(t, dir, s.env, args...)
}

func (s store) must(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := s.run(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("statsnap %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// bucket opens the store with gocloud directly: "another client".
func (s store) bucket(t *testing.T) (*gcblob.Bucket, string) {
	t.Helper()
	s.srv.Setenv(t)
	u, _ := url.Parse(s.root)
	prefix := strings.TrimPrefix(u.Path, "/") + "/"
	u.Path = ""
	b, err := gcblob.OpenBucket(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, prefix
}

func (s store) noStaging(t *testing.T) {
	t.Helper()
	for _, kv := range s.env {
		if tmp, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			des, _ := os.ReadDir(tmp)
			for _, de := range des {
				if strings.HasPrefix(de.Name(), "statsnap-stage-") || strings.HasPrefix(de.Name(), "statsnap-dry-run-") {
					t.Errorf("staging left behind: %s", de.Name())
				}
			}
		}
	}
}

func rowCount(t *testing.T, db, table string) int64 {
	t.Helper()
	c, err := sql.Open("duckdb", db+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int64
	if err := c.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestObjectStoreStories runs the seed guide's stories with a bucket in
// place of a folder, on every server.
func TestObjectStoreStories(t *testing.T) {
	for _, server := range blobtest.Names {
		t.Run(server, func(t *testing.T) {
			s := newStore(t, server)
			dir := t.TempDir()
			samplePlayer(t, dir, "Alice", 30)
			samplePlayer(t, dir, "Bob Flör", 10)

			// Back up two players; list; verify.
			s.must(t, dir, "backup", "--all", "--output", s.root)
			var list struct {
				Snapshots []snapshotJSON `json:"snapshots"`
			}
			jsonOut(t, s.must(t, dir, "snapshots", "--output", s.root, "--json"), &list)
			if len(list.Snapshots) != 2 || list.Snapshots[0].Gamertag != "Alice" || list.Snapshots[1].Gamertag != "Bob Flör" ||
				list.Snapshots[0].Status != "complete" {
				t.Fatalf("snapshots: %+v", list.Snapshots)
			}
			s.must(t, dir, "verify", "--backup", s.folder("Alice"))
			s.must(t, dir, "verify", "--deep", "--backup", s.folder("Bob Flör"))
			s.noStaging(t)

			// Restore on a new machine: an empty data folder.
			fresh := t.TempDir()
			s.must(t, fresh, "restore", "--backup", s.folder("Alice"), "--gamertag", "Alice")
			restored := filepath.Join(fresh, "data", "players", "Alice", "stats.duckdb")
			if got, want := rowCount(t, restored, "match_stats"), int64(30); got != want {
				t.Fatalf("restored match_stats has %d rows, want %d", got, want)
			}
			s.noStaging(t)

			// Corrupt one object with another client: verify and restore
			// refuse it (exit 3) and the target is unchanged.
			b, prefix := s.bucket(t)
			ctx := context.Background()
			key := ""
			it := b.List(&gcblob.ListOptions{Prefix: prefix + "Alice/"})
			for {
				o, err := it.Next(ctx)
				if err != nil {
					break
				}
				if strings.Contains(o.Key, "match_stats_") {
					key = o.Key
				}
			}
			data, err := b.ReadAll(ctx, key)
			if err != nil {
				t.Fatalf("read %s: %v", key, err)
			}
			data[len(data)/2] ^= 0xff
			if err := b.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
			if r := s.run(t, dir, "verify", "--backup", s.folder("Alice")); r.Code != exitIntegrity {
				t.Errorf("verify of a corrupted object: exit %d %s", r.Code, r.Stderr)
			}
			before := testutil.FileBLAKE3(t, restored)
			if r := s.run(t, fresh, "restore", "--backup", s.folder("Alice"), "--gamertag", "Alice", "--replace"); r.Code != exitIntegrity {
				t.Errorf("restore of a corrupted object: exit %d %s", r.Code, r.Stderr)
			}
			if testutil.FileBLAKE3(t, restored) != before {
				t.Errorf("a refused restore changed the target")
			}
			s.noStaging(t)

			// Prune with weekly and monthly rules.
			for _, at := range []string{"2026-01-05T10:00:00Z", "2026-01-06T10:00:00Z", "2026-01-20T10:00:00Z", "2026-02-10T10:00:00Z"} {
				s.must(t, dir, "backup", "--gamertag", "Bob Flör", "--output", s.root, "--time", at)
			}
			var pr pruneJSON
			jsonOut(t, s.must(t, dir, "prune", "--gamertag", "Bob Flör", "--output", s.root, "--keep-weekly", "2", "--keep-monthly", "3", "--json"), &pr)
			if len(pr.Groups) != 1 {
				t.Fatalf("prune groups: %+v", pr.Groups)
			}
			var removed []string
			for _, r := range pr.Groups[0].Remove {
				removed = append(removed, r.Snapshot)
			}
			// Weeks: now's and 2026-02-10's kept; months: now's and February's
			// (the same ones) and January's newest, the 20th. Gone: the 5th and 6th.
			if fmt.Sprint(removed) != "[20260106_100000 20260105_100000]" && fmt.Sprint(removed) != "[20260105_100000 20260106_100000]" {
				t.Errorf("prune removed %v", removed)
			}
			jsonOut(t, s.must(t, dir, "snapshots", "--output", s.root, "--gamertag", "Bob Flör", "--json"), &list)
			if len(list.Snapshots) != 3 {
				t.Errorf("after prune: %+v", list.Snapshots)
			}
			s.must(t, dir, "verify", "--backup", s.folder("Bob Flör"))
		})
	}
}

// TestObjectStoreConcurrentBackups: two backups of one player from two
// processes at once: one waits or is refused, never both writing.
func TestObjectStoreConcurrentBackups(t *testing.T) {
	s := newStore(t, "minio")
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 40)
	start := func(at string) *exec.Cmd {
		return command(binPath, dir, s.env, "backup", "--gamertag", "p", "--output", s.root, "--time", at, "--json")
	}
	a, b := start("2026-03-01T10:00:00Z"), start("2026-03-01T11:00:00Z")
	var ao, bo, ae, be bytes.Buffer
	a.Stdout, a.Stderr, b.Stdout, b.Stderr = &ao, &ae, &bo, &be
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	errA, errB := a.Wait(), b.Wait()
	refused := 0
	for i, e := range []error{errA, errB} {
		stderr := []string{ae.String(), be.String()}[i]
		if e != nil {
			if !strings.Contains(stderr, "another statsnap process") {
				t.Errorf("backup %d failed for another reason: %v %s", i, e, stderr)
			}
			refused++
		}
	}
	var list struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	jsonOut(t, s.must(t, dir, "snapshots", "--output", s.root, "--json"), &list)
	if len(list.Snapshots) != 2-refused {
		t.Fatalf("%d refused, but %d snapshots: %+v", refused, len(list.Snapshots), list.Snapshots)
	}
	for _, sn := range list.Snapshots {
		if sn.Status != "complete" {
			t.Errorf("snapshot %s is %s", sn.Snapshot, sn.Status)
		}
	}
	s.must(t, dir, "verify", "--all", "--backup", s.folder("p"))
}

// TestObjectStoreKillMidUpload: a backup killed with SIGKILL after its
// first upload leaves a journal, one object, a lease and a staging
// folder; the next run waits out the lease, removes the leftovers, and
// every manifest verifies.
func TestObjectStoreKillMidUpload(t *testing.T) {
	s := newStore(t, "minio")
	s.env = append(s.env, "STATSNAP_LEASE_TTL=2s")
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 20)
	s.must(t, dir, "backup", "--gamertag", "p", "--output", s.root, "--time", "2026-03-01T10:00:00Z")
	r := faultCLI(t, dir, append(append([]string{}, s.env...), "STATSNAP_TEST_CRASH_AFTER=publish-1"), "backup", "--full", "--gamertag", "p", "--output", s.root, "--time", "2026-03-02T10:00:00Z")
	if r.Code != 137 && r.Code != -1 {
		t.Fatalf("the crash hook did not fire: exit %d %s", r.Code, r.Stderr)
	}
	b, prefix := s.bucket(t)
	left := 0
	it := b.List(&gcblob.ListOptions{Prefix: prefix + "p/"})
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		if strings.Contains(o.Key, "20260302_100000") {
			left++
		}
	}
	if left < 2 {
		t.Fatalf("the killed run left %d objects of its snapshot; the test expects its journal and one file", left)
	}
	r = s.must(t, dir, "backup", "--gamertag", "p", "--output", s.root, "--time", "2026-03-03T10:00:00Z", "--lock-wait", "1m")
	if !strings.Contains(r.Stderr, "leftover") {
		t.Errorf("the next run did not report the cleanup: %s", r.Stderr)
	}
	it = b.List(&gcblob.ListOptions{Prefix: prefix + "p/"})
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		if strings.Contains(o.Key, "20260302_100000") {
			t.Errorf("left over after cleanup: %s", o.Key)
		}
	}
	var v verifyJSON
	jsonOut(t, s.run(t, dir, "verify", "--all", "--backup", s.folder("p"), "--json"), &v)
	if !v.OK || len(v.Snapshots) != 2 {
		t.Errorf("verify after the crash: ok=%v, %d snapshots", v.OK, len(v.Snapshots))
	}
	s.noStaging(t)
}

// oneJSONDocument fails the test unless stdout is exactly one JSON
// document (and whitespace).
func oneJSONDocument(t *testing.T, r result) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout does not start with a JSON document: %v\n%s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.Stdout)
	}
}

// TestGCSNoCredentialsKeepsStdoutClean: gocloud's default gs:// opener
// prints a warning to the process's stdout when no Google credentials
// exist, before the JSON document. The real binary is run, since the
// warning goes to os.Stdout, not to run's writer.
func TestGCSNoCredentialsKeepsStdoutClean(t *testing.T) {
	dir := t.TempDir()
	env := []string{"STORAGE_EMULATOR_HOST=", "STORAGE_EMULATOR_HOST_GRPC=", "HOME=" + dir, "CLOUDSDK_CONFIG=" + dir,
		"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "missing.json")}
	for _, args := range [][]string{
		{"snapshots", "--output", "gs://statsnap-no-creds/x", "--json"},
		{"verify", "--backup", "gs://statsnap-no-creds/x/p", "--json"},
	} {
		r := binCLI(t, dir, env, args...)
		if r.Code != 1 {
			t.Errorf("%v without credentials: exit %d, want 1\n%s%s", args, r.Code, r.Stdout, r.Stderr)
		}
		oneJSONDocument(t, r)
		if !strings.Contains(r.Stderr, "no Google Cloud credentials found") || !strings.Contains(r.Stderr, "GOOGLE_APPLICATION_CREDENTIALS") {
			t.Errorf("%v: the message does not say what is missing: %s", args, r.Stderr)
		}
	}

	// Against fake-gcs-server, with no credentials either (the emulator
	// needs none): backup and list, one JSON document each.
	s := newStore(t, "fake-gcs-server")
	samplePlayer(t, dir, "p", 5)
	env = append(append([]string{}, s.env...), "HOME="+dir, "CLOUDSDK_CONFIG="+dir)
	for _, args := range [][]string{
		{"backup", "--gamertag", "p", "--output", s.root, "--json"},
		{"snapshots", "--output", s.root, "--json"},
		{"verify", "--backup", s.folder("p"), "--json"},
	} {
		r := binCLI(t, dir, env, args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
		}
		oneJSONDocument(t, r)
	}
}

// TestObjectStoreLeaseLost: a backup whose lease another client
// overwrites or removes mid-run stops before its commit point, with exit
// 1 and a sentence that says the lock was lost; the folder keeps only the
// snapshot made before. The backup waits at its commit point (the
// faultinject hook) so that only the lost lease can stop it in time.
func TestObjectStoreLeaseLost(t *testing.T) {
	s := newStore(t, "minio")
	s.env = append(s.env, "STATSNAP_LEASE_TTL=2s")
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 20)
	s.must(t, dir, "backup", "--gamertag", "p", "--output", s.root, "--time", "2026-03-01T10:00:00Z")
	b, prefix := s.bucket(t)
	ctx := context.Background()
	lockKey := prefix + "p/.statsnap.lock"
	bin, err := faultBin()
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"overwritten", "removed"} {
		t.Run(how, func(t *testing.T) {
			c := command(bin, dir, append(slices.Clone(s.env), "STATSNAP_TEST_SIGNAL_AT=backup:before-commit:WAIT"),
				"backup", "--gamertag", "p", "--output", s.root, "--time", "2026-03-02T10:00:00Z", "--json")
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			for i := 0; ; i++ {
				if ok, _ := b.Exists(ctx, lockKey); ok {
					break
				}
				if i > 600 {
					c.Process.Kill()
					t.Fatalf("the backup never took its lease: %s", errb.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if how == "overwritten" {
				intruder := fmt.Sprintf(`{"id":"intruder","exclusive":true,"host":"another-machine","pid":1,"expires":%q}`,
					time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
				if err := b.WriteAll(ctx, lockKey, []byte(intruder), nil); err != nil {
					t.Fatal(err)
				}
			} else if err := b.Delete(ctx, lockKey); err != nil {
				t.Fatal(err)
			}
			var werr error
			select {
			case werr = <-done:
			case <-time.After(3 * time.Minute):
				c.Process.Kill()
				t.Fatal("the backup did not end")
			}
			var ee *exec.ExitError
			if !errors.As(werr, &ee) || ee.ExitCode() != exitError {
				t.Fatalf("backup after its lease was %s: %v, want exit 1\nstdout: %s\nstderr: %s", how, werr, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), "lost the lock of") || !strings.Contains(errb.String(), "the command stopped: nothing was changed") {
				t.Errorf("the message does not say the lock was lost: %s", errb.String())
			}
			var doc struct {
				Error failure `json:"error"`
			}
			jsonOut(t, result{Stdout: out.String(), Stderr: errb.String()}, &doc)
			if doc.Error.Kind != kindLocked || doc.Error.ExitCode != exitError {
				t.Errorf("JSON error: %+v", doc.Error)
			}
			if how == "overwritten" {
				// The intruder's lease was left alone: the stopped run did
				// not delete a lease that was no longer its own.
				data, err := b.ReadAll(ctx, lockKey)
				if err != nil || !strings.Contains(string(data), "intruder") {
					t.Errorf("the intruder's lease is gone or changed: %v %s", err, data)
				}
				if err := b.Delete(ctx, lockKey); err != nil {
					t.Fatal(err)
				}
			}
			var list struct {
				Snapshots []snapshotJSON `json:"snapshots"`
			}
			jsonOut(t, s.must(t, dir, "snapshots", "--output", s.root, "--json"), &list)
			if len(list.Snapshots) != 1 || list.Snapshots[0].Snapshot != "20260301_100000" || list.Snapshots[0].Status != "complete" {
				t.Errorf("after the stopped backup: %+v", list.Snapshots)
			}
		})
	}
	s.must(t, dir, "verify", "--all", "--backup", s.folder("p"))
	s.must(t, dir, "backup", "--gamertag", "p", "--output", s.root, "--time", "2026-03-03T10:00:00Z")
	s.noStaging(t)
}
