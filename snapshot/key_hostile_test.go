package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadKeyRefusesNonRegular: a FIFO, a device and a folder are refused
// at once (a FIFO used to block the open forever, /dev/zero to be read
// without end), and an oversized regular file is refused without being
// read in full.
func TestLoadKeyRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link-to-fifo")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, "not a regular file"},
		{link, "not a regular file"},
		{"/dev/zero", "not a regular file"},
		{dir, "not a regular file"},
		{big, "too large"},
	} {
		done := make(chan error, 1)
		go func() { _, err := LoadKey(c.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LoadKey(%s) = %v, want %q", c.path, err, c.want)
			}
		case <-time.After(time.Minute): // a hang, not a speed check
			t.Fatalf("LoadKey(%s) did not return", c.path)
		}
	}
}

// TestLoadKeyFollowsSymlinkToKey: a key reached through a symlink (as in
// mounted secrets) still loads.
func TestLoadKeyFollowsSymlinkToKey(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	if err := GenerateKey(k); err != nil {
		t.Fatal(err)
	}
	l := filepath.Join(dir, "l")
	if err := os.Symlink(k, l); err != nil {
		t.Fatal(err)
	}
	key, err := LoadKey(l)
	if err != nil || len(key) != KeySize {
		t.Fatalf("LoadKey through a symlink: %v", err)
	}
}
