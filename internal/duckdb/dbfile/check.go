package dbfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotDuckDB reports a file that is not a DuckDB database.
var ErrNotDuckDB = errors.New("not a DuckDB database file")

// magic is what every DuckDB database file holds at offset 8 (after the
// header's checksum), whatever its storage version.
var magic = []byte("DUCK")

// Check says, without starting DuckDB, whether path is a DuckDB database
// that can be read: it exists (ErrNotExist otherwise), is a regular file,
// and starts with DuckDB's header (ErrNotDuckDB otherwise). Backup calls it
// before it creates or locks anything, so that a mistyped --gamertag or a
// --db naming some other file leaves no trace, and the user reads one
// sentence instead of DuckDB's "Cannot launch in-memory database in
// read-only mode". It opens without blocking, so a FIFO cannot hang it.
func Check(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", path, ErrNotExist)
		}
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a folder: %w", path, ErrNotDuckDB)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: %w", path, ErrNotDuckDB)
	}
	head := make([]byte, 12)
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("%s is too short (%d bytes): %w", path, fi.Size(), ErrNotDuckDB)
	}
	if !bytes.Equal(head[8:12], magic) {
		return fmt.Errorf("%s: %w", path, ErrNotDuckDB)
	}
	return nil
}
