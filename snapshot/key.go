package snapshot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// KeySize is the BLAKE3 key length.
const KeySize = 32

// GenerateKey writes a new random key to path as hex, mode 0600, creating
// missing parent folders with mode 0700 (a key's folder is as private as
// the key). It never replaces an existing file: losing a key makes its
// snapshots unprovable; such a call fails with an error that is
// fs.ErrExist.
func GenerateKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return f.Close()
}

// ErrKeyExposed is returned beside a usable key whose file others can read.
var ErrKeyExposed = errors.New("key file is readable by other users")

// maxKeyFile bounds what LoadKey reads: a key is 64 hex digits and a
// newline; anything much larger is not a statsnap key.
const maxKeyFile = 4096

// LoadKey reads a key written by GenerateKey. When the file's mode lets
// group or others read it, the key is returned with ErrKeyExposed so the
// caller can warn.
//
// The file is opened without blocking and must be a regular file: a FIFO
// would hang the command before any signal handler could help, and a
// device such as /dev/zero would be read without end. The read is bounded
// either way. A symlink is followed (secret mounts are made of them);
// what it points to is what is checked.
func LoadKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read key file %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("read key file %s: too large to be a statsnap key", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("read key file %s: too large to be a statsnap key", path)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("read key file %s: want %d hex digits as written by 'statsnap key generate'", path, 2*KeySize)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return key, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKeyExposed, path, fi.Mode().Perm(), path)
	}
	return key, nil
}
