package snapshot

import (
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/openspartan/statsnap/internal/storage"
)

// File names inside a player folder. Everything statsnap keeps for itself
// starts with ".statsnap" so that it never collides with a table file.
const (
	manifestPrefix = "backup_metadata_"
	pendingPrefix  = ".statsnap-pending-"
	removingPrefix = ".statsnap-removing-"
	tempPrefix     = storage.TempPrefix
)

// ManifestName is the manifest of snapshot id.
func ManifestName(id string) string { return manifestPrefix + id + ".json" }

// PendingName is the journal of a backup in progress.
func PendingName(id string) string { return pendingPrefix + id }

// RemovingName is the journal of a removal in progress.
func RemovingName(id string) string { return removingPrefix + id }

// TempName is a temporary file of snapshot id.
func TempName(id, what string) string { return tempPrefix + id + "-" + what }

var (
	manifestRe = regexp.MustCompile(`^backup_metadata_(\d{8}_\d{6})\.json$`)
	// A table's first file of a snapshot is {table}_{id}.parquet, as the
	// seed names it; the further files one snapshot writes for a table
	// are {table}_{id}.{n}.parquet.
	parquetRe  = regexp.MustCompile(`^(.+)_(\d{8}_\d{6})(?:\.[1-9][0-9]{0,5})?\.parquet$`)
	pendingRe  = regexp.MustCompile(`^\.statsnap-pending-(\d{8}_\d{6})$`)
	removingRe = regexp.MustCompile(`^\.statsnap-removing-(\d{8}_\d{6})$`)
)

// Kind of a file in a player folder.
type Kind int

// The kinds of file Classify tells apart.
const (
	KindOther Kind = iota
	KindManifest
	KindParquet
	KindPending
	KindRemoving
	KindTemp
	KindLock
)

// Classify tells what a file name in a player folder is, and the snapshot
// id it belongs to (empty for KindOther, KindTemp without an id, KindLock).
func Classify(name string) (Kind, string) {
	// Each regexp is tried only on names with its fixed prefix: a folder
	// listing, a scan and a ledger classify every name they hold.
	if strings.HasPrefix(name, manifestPrefix) {
		if m := manifestRe.FindStringSubmatch(name); m != nil && ValidID(m[1]) {
			return KindManifest, m[1]
		}
	}
	if strings.HasPrefix(name, pendingPrefix) {
		if m := pendingRe.FindStringSubmatch(name); m != nil && ValidID(m[1]) {
			return KindPending, m[1]
		}
	}
	if strings.HasPrefix(name, removingPrefix) {
		if m := removingRe.FindStringSubmatch(name); m != nil && ValidID(m[1]) {
			return KindRemoving, m[1]
		}
	}
	if name == ".statsnap.lock" {
		return KindLock, ""
	}
	if strings.HasPrefix(name, tempPrefix) {
		rest := strings.TrimPrefix(name, tempPrefix)
		if len(rest) >= 15 && ValidID(rest[:15]) {
			return KindTemp, rest[:15]
		}
		return KindTemp, ""
	}
	if m := parquetRe.FindStringSubmatch(name); m != nil && ValidID(m[2]) && !strings.HasPrefix(name, ".") {
		return KindParquet, m[2]
	}
	return KindOther, ""
}

// TableFileName derives the Parquet file name of a table from its manifest
// key. Names that are not plain ASCII words, or that would collide with
// a name already taken (compared case-insensitively, for case-insensitive
// file systems), get a hash of the key so that no two tables share a file
// and no name can escape the folder.
func TableFileName(key, id string, taken map[string]bool) string {
	safe := sanitize(key)
	name := safe + "_" + id + ".parquet"
	if safe != key || taken[strings.ToLower(name)] {
		sum := blake3.Sum256([]byte(key))
		name = safe + "-" + hex.EncodeToString(sum[:4]) + "_" + id + ".parquet"
		for i := 2; taken[strings.ToLower(name)]; i++ {
			name = safe + "-" + hex.EncodeToString(sum[:4]) + "-" + itoa(i) + "_" + id + ".parquet"
		}
	}
	taken[strings.ToLower(name)] = true
	return name
}

// PartFileName is the name of the n-th file (from 0) one snapshot writes
// for a table whose first file is first (a TableFileName).
func PartFileName(first string, n int) string {
	if n == 0 {
		return first
	}
	return strings.TrimSuffix(first, ".parquet") + "." + itoa(n) + ".parquet"
}

func sanitize(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.ReplaceAll(b.String(), "..", "__")
	if s == "" {
		s = "table"
	}
	return s
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
