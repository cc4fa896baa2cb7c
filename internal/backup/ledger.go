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
// exactly what verify checks. The check time is taken now, after every
// file reached its final name, so no file's modification time is later
// than its record (Vouch refuses such records). The caller holds the
// exclusive lock.
func recordLedger(ctx context.Context, f storage.Folder, key []byte, id string, m *snapshot.Manifest) error {
	now := time.Now()
	delta := snapshot.NewLedger(snapshot.FolderName(f.Location()))
	for _, t := range m.Tables {
		delta.Record(t.File, t, now, snapshot.DepthHash, "")
	}
	delta.RecordSnapshot(id, now, snapshot.DepthHash, nil)
	return snapshot.UpdateLedger(context.WithoutCancel(ctx), f, key, nil, delta, now)
}
