// Package snapshot is statsnap's domain model of a snapshot on disk: what a
// player folder holds and how it changes safely.
//
// A snapshot is a set of Parquet files, one per table, plus a manifest
// (backup_metadata_{id}.json) that names each file with its size, BLAKE3
// hash, row count, Arrow schema and DDL, and carries a checksum of itself
// and, with a key, a keyed MAC. The manifest is written last: a snapshot
// exists exactly when its manifest does.
//
// The package holds the rules every command shares:
//
//   - ids: the seed's YYYYMMDD_HHMMSS in local time (id.go);
//   - names: which files of a folder are statsnap's, and table file names
//     that can never leave the folder (names.go);
//   - the manifest format, its canonical form, checksum and MAC, and a
//     parser bounded for hostile input (manifest.go);
//   - journals, which make a backup or a removal undoable after a crash,
//     and the clean-up that reads them (journal.go);
//   - hashing with cancellation (hash.go), keys (key.go), and scanning a
//     folder into snapshots with their status (scan.go).
//
// It is pure Go: it never opens DuckDB. Files are reached through the
// storage.Folder seam, so the same rules hold on every backend.
package snapshot
