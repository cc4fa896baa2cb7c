package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRoundTrip: what Write writes, Read reads back byte for byte, and
// the file is what go test reads as a corpus entry.
func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "testdata", "fuzz", "FuzzX")
	seeds := map[string][]byte{"nul": {0, 0xff, '"', '\n'}, "empty": {}, "text": []byte(`{"a": "é"}`)}
	Write(t, dir, seeds)
	for name, want := range seeds {
		if got := Read(t, filepath.Join(dir, name)); string(got) != string(want) {
			t.Errorf("%s: read %q, wrote %q", name, got, want)
		}
	}
	body, err := os.ReadFile(filepath.Join(dir, "text"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "go test fuzz v1\n[]byte(\"{\\\"a\\\": \\\"é\\\"}\")\n"; string(body) != want {
		t.Errorf("corpus file %q, want %q", body, want)
	}
}

// TestDecodeRefuses: a file that is not one quoted []byte is an error,
// never a seed of whatever text it holds.
func TestDecodeRefuses(t *testing.T) {
	for _, body := range []string{"", "go test fuzz v1\n[]byte(\"a\")", "go test fuzz v1\nstring(\"a\")\n", "go test fuzz v1\n[]byte(a)\n"} {
		if s, err := decode(body); err == nil {
			t.Errorf("%q decoded as %q", body, s)
		}
	}
}
