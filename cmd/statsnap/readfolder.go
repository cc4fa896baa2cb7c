package main

import (
	"context"
	"errors"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// readFolder is a player's backup folder opened by a command that only
// reads it (diff, files), under the shared lock, so that no backup or
// prune changes a snapshot while it is read: the folder, its listing and
// its snapshots.
type readFolder struct {
	storage.Folder
	entries []storage.Entry
	snaps   []snapshot.Info
	unlock  func()
}

// openReadFolder opens the folder at location; close it with done.
func openReadFolder(ctx context.Context, g *globals, location string) (*readFolder, error) {
	folder, err := storage.OpenFolder(ctx, location, false)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = withHint(notExist("there is no backup folder at %s", location), "check --backup")
		}
		return nil, err
	}
	r := &readFolder{Folder: folder}
	if r.unlock, err = lockFolder(ctx, g, folder, false); err != nil {
		folder.Close()
		return nil, err
	}
	if r.entries, err = folder.List(ctx); err == nil {
		r.snaps, err = snapshot.Scan(ctx, folder)
	}
	if err != nil {
		r.done()
		return nil, err
	}
	return r, nil
}

// done releases the lock and closes the folder.
func (r *readFolder) done() {
	r.unlock()
	r.Folder.Close()
}
