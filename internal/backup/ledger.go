package backup

import (
	"context"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// recordLedger records every file of the snapshot just committed in the
// folder's verification ledger, at hash depth: writeTable hashed each
// file from disk after DuckDB wrote it and read its footer back, which is
// exactly what verify checks. Each record keeps the file's modification
// time as listed now, so a later write to it voids the record. The caller
// holds the exclusive lock.
//
// Files shared from earlier snapshots are recorded only when this backup
// hashed them again (rehashed, by their modification time then); the
// ledger's own record of the others stays as it was.
func recordLedger(ctx context.Context, f storage.Folder, key []byte, id string, m *snapshot.Manifest, rehashed map[string]time.Time) error {
	now := time.Now()
	entries, err := f.List(ctx)
	if err != nil {
		return err
	}
	mtimes := map[string]time.Time{}
	for _, e := range entries {
		mtimes[e.Name] = e.ModTime
	}
	delta := snapshot.NewLedger(snapshot.FolderName(f.Location()))
	for _, t := range m.Tables {
		for _, p := range t.DataFiles() {
			if k, fid := snapshot.Classify(p.File); k == snapshot.KindParquet && fid == id {
				// The file's time as listed now: DuckDB's last write, before
				// the hash that backup compared (the final name is a hard link).
				delta.RecordPart(p, mtimes[p.File], now, snapshot.DepthHash, "")
			} else if mt, ok := rehashed[p.File]; ok {
				delta.RecordPart(p, mt, now, snapshot.DepthHash, "")
			}
		}
	}
	delta.RecordSnapshot(id, now, snapshot.DepthHash, nil)
	// Backup computed the manifest's checksum (and MAC) itself.
	mname := snapshot.ManifestName(id)
	for _, e := range entries {
		if e.Name == mname {
			delta.RecordManifest(mname, m.Checksum, e.Size, e.ModTime, now, key != nil)
		}
	}
	return snapshot.UpdateLedger(context.WithoutCancel(ctx), f, key, nil, delta, now)
}
