package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMessagesAudit: the errors a user meets first say what happened and
// what to do next, on one line, with SPEC's exit code.
func TestMessagesAudit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "exists.key"), []byte("x"), 0o600)
	cases := []struct {
		args []string
		code int
		want []string // substrings: what happened, and the hint
	}{
		{[]string{"players"}, exitError, []string{"cannot list players", "check --data-dir"}},
		{[]string{"snapshots"}, exitError, []string{"cannot list backups", "check --output"}},
		{[]string{"verify", "--backup", "nowhere"}, exitError, []string{"does not exist", "check --backup"}},
		{[]string{"verify"}, exitUsage, []string{"needs --backup"}},
		{[]string{"verify", "--backup", ".", "--snapshot", "bad"}, exitUsage, []string{"not a snapshot id", "YYYYMMDD_HHMMSS"}},
		{[]string{"restore", "--gamertag", "x", "--backup", "nowhere"}, exitError, []string{"cannot restore", "check --backup"}},
		{[]string{"restore", "--gamertag", "../x", "--backup", "."}, exitUsage, []string{"invalid gamertag"}},
		{[]string{"prune", "--gamertag", "x"}, exitUsage, []string{"needs a retention policy", "--keep-weekly 8"}},
		{[]string{"prune", "--gamertag", "x", "--keep-last", "0"}, exitUsage, []string{"at least 1"}},
		{[]string{"prune", "--gamertag", "x", "--keep-within", "3w"}, exitUsage, []string{"unknown unit", "1y6m"}},
		{[]string{"prune", "--gamertag", "x", "--keep-last", "2"}, exitError, []string{"cannot prune x", "check --gamertag and --output"}},
		{[]string{"key", "generate"}, exitUsage, []string{"accepts 1 arg", "--help"}},
		{[]string{"key", "generate", "exists.key"}, exitError, []string{"cannot create key", "choose another path"}},
		{[]string{"sample"}, exitUsage, []string{"needs --gamertag"}},
		{[]string{"sample", "--gamertag", "p", "--matches", "0"}, exitUsage, []string{"at least 1"}},
		{[]string{"frobnicate"}, exitUsage, []string{"unknown command", "statsnap --help"}},
		{[]string{"backup", "--gamertag", "p", "--key-file", "missing.key"}, exitError, []string{"cannot use key", "--key-file"}},
	}
	for _, c := range cases {
		r := cli(t, dir, c.args...)
		msg := strings.TrimSpace(r.Stderr)
		if r.Code != c.code {
			t.Errorf("%v: exit %d, want %d (%q)", c.args, r.Code, c.code, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", c.args, msg, w)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%v: more than one line: %q", c.args, msg)
		}
		// prune announces its policy first, as restic's forget does.
		if r.Stdout != "" && !strings.HasPrefix(r.Stdout, "applying policy") {
			t.Errorf("%v: failure wrote to stdout: %q", c.args, r.Stdout)
		}
	}
}
