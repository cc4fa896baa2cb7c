package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"
)

// TestFlagValuesThatHideSnapshots: values that used to write snapshots
// nobody could see, or in the wrong place, are usage errors that write
// nothing.
func TestFlagValuesThatHideSnapshots(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	cases := []struct {
		args []string
		want string
	}{
		// Local year 10000 (and 999): ids of five or three digits.
		{[]string{"backup", "--gamertag", "p", "--time", "9999-12-31T23:59:59-12:00"}, "year 10000"},
		{[]string{"backup", "--gamertag", "p", "--time", "0999-06-01T00:00:00Z"}, "year 999"},
		// Go's zero time, once recorded as now.
		{[]string{"backup", "--gamertag", "p", "--time", "0001-01-01T00:00:00Z"}, "year 1"},
		{[]string{"backup", "--gamertag", "p", "--output", ""}, "--output is empty"},
		{[]string{"backup", "--gamertag", "p", "--data-dir", ""}, "--data-dir is empty"},
		{[]string{"backup", "--gamertag", "p", "--lock-wait", "-5s"}, "--lock-wait must not be negative"},
		{[]string{"verify", "--backup", "x", "--lock-wait", "-1ns"}, "--lock-wait must not be negative"},
	}
	for _, c := range cases {
		r := cliEnv(t, dir, []string{"TZ=UTC"}, c.args...)
		if r.Code != exitUsage || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%q: exit %d, %q; want exit 2 and %q", c.args, r.Code, r.Stderr, c.want)
		}
	}
	for _, d := range []string{filepath.Join(dir, "data", "backups"), filepath.Join(dir, "p")} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("a refused run created %s", d)
		}
	}
	// The edges of the range are fine.
	for _, at := range []string{"1000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		if r := cliEnv(t, dir, []string{"TZ=UTC"}, "backup", "--gamertag", "p", "--time", at); r.Code != 0 {
			t.Fatalf("--time %s: exit %d, %q", at, r.Code, r.Stderr)
		}
	}
	r := cliEnv(t, dir, []string{"TZ=UTC"}, "snapshots", "--gamertag", "p")
	for _, id := range []string{"10000101_000000", "99991231_235959"} {
		if !strings.Contains(r.Stdout, id) {
			t.Errorf("snapshots does not list %s:\n%s", id, r.Stdout)
		}
	}
}

// TestLockedMessageNamesTheHolder: a backup or prune that finds the folder
// locked says whether a reader (verify, restore) or a writer (backup,
// prune) holds it.
func TestLockedMessageNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	samplePlayer(t, dir, "p", 5)
	mustCLI(t, dir, "backup", "--gamertag", "p", "--time", "2020-01-01T00:00:00Z")
	lock := filepath.Join(dir, "data", "backups", "p", ".statsnap.lock")
	for _, c := range []struct {
		shared bool
		want   string
	}{{true, "(verify or restore)"}, {false, "(backup or prune)"}} {
		fl := flock.New(lock)
		var err error
		if c.shared {
			err = fl.RLock()
		} else {
			err = fl.Lock()
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"backup", "--gamertag", "p"},
			{"prune", "--gamertag", "p", "--keep-last", "1"},
		} {
			r := cli(t, dir, args...)
			if r.Code != exitError || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("%v under a shared=%v lock: exit %d, %q; want %q", args, c.shared, r.Code, r.Stderr, c.want)
			}
		}
		fl.Unlock()
	}
}
