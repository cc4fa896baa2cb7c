// Package fuzzseed writes and reads the seeds of Go's fuzzing corpus
// (testdata/fuzz/FuzzName/seed) for targets of one []byte argument, in
// the format go test reads. It imports nothing of statsnap, so the tests
// of every package can use it, snapshot's own included (internal/testutil
// imports snapshot, and so cannot serve them).
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Env is the variable that asks the corpus writers to run.
const Env = "STATSNAP_WRITE_CORPUS"

const (
	header = "go test fuzz v1\n[]byte("
	footer = ")\n"
)

// SkipUnlessAsked skips the test unless Env is set: seeds are rewritten
// only when someone asks to, never by a plain test run. what says what
// the test then does ("regenerate testdata/fuzz/FuzzX").
func SkipUnlessAsked(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(Env) == "" {
		t.Skipf("set %s=1 to %s", Env, what)
	}
}

// Write writes each seed into dir, making it if missing, as a corpus file
// named after the seed's key.
func Write[S ~string | ~[]byte](t testing.TB, dir string, seeds map[string]S) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, seed := range seeds {
		body := header + strconv.Quote(string(seed)) + footer
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Read returns the seed of the corpus file at path, and fails the test
// when the file is not one seed of one []byte argument.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decode(string(body))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

func decode(body string) (string, error) {
	lit, ok := strings.CutPrefix(body, header)
	if ok {
		lit, ok = strings.CutSuffix(lit, footer)
	}
	if !ok {
		return "", fmt.Errorf("not a corpus file of one []byte: %.40q", body)
	}
	return strconv.Unquote(lit)
}
