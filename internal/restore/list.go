package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// ListOptions choose the snapshot List describes.
type ListOptions struct {
	Folder          storage.Folder
	Snapshot        string // empty: the newest by id
	AllowUnverified bool
	Key             []byte
}

// Listing is a snapshot's tables with their verification status.
type Listing struct {
	Snapshot  string          `json:"snapshot"`
	Status    snapshot.Status `json:"status"`
	Time      string          `json:"time"`
	Gamertag  string          `json:"gamertag"`
	OK        bool            `json:"ok"`
	Tables    []ListedTable   `json:"tables"`
	Rows      int64           `json:"rows"`
	SizeBytes int64           `json:"size_bytes"`
	// Problems are the snapshot's verification problems (those of its
	// manifest and its files); Warnings those AllowUnverified accepted.
	Problems []verify.Problem `json:"problems"`
	Warnings []verify.Problem `json:"warnings"`
	// NewestGood, when the snapshot does not verify, is the newest one
	// that does ("" if none).
	NewestGood string `json:"newest_verified,omitempty"`
}

// ListedTable is one table of a listing.
type ListedTable struct {
	Table string `json:"table"`
	File  string `json:"file"` // the first of Files
	// Files are the files holding the table's rows, in order; an
	// incremental snapshot may share some with earlier snapshots.
	Files     []string `json:"files"`
	Rows      int64    `json:"rows"`
	SizeBytes int64    `json:"size_bytes"`
	// Status is "ok", or the kinds of the file's problems joined by ",".
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
}

// List verifies a snapshot (without copying it) and lists its tables.
// The caller holds the folder's shared lock.
func List(ctx context.Context, opt ListOptions) (*Listing, error) {
	c, err := pick(ctx, opt.Folder, opt.Snapshot)
	if err != nil {
		return nil, err
	}
	vopt := verify.Options{AllowUnverified: opt.AllowUnverified, Key: opt.Key, Named: snapshot.NamedFiles(c.all)}
	res := verify.Snapshot(ctx, opt.Folder, c.info, c.entries, vopt)
	if res.Err != nil {
		return nil, fmt.Errorf("verify snapshot %s: %w", c.info.ID, res.Err)
	}
	l := &Listing{Snapshot: c.info.ID, Status: c.info.Status, Time: c.info.Time.Format(time.RFC3339), OK: res.OK,
		Tables: []ListedTable{}, Problems: res.Problems, Warnings: res.Warnings}
	if c.info.Manifest != nil {
		l.Gamertag = c.info.Manifest.Gamertag
	}
	byFile := map[string][]verify.Problem{}
	for _, p := range res.Problems {
		byFile[p.File] = append(byFile[p.File], p)
	}
	found := map[string]verify.FileResult{}
	for _, f := range res.Files {
		found[f.File] = f
	}
	for _, t := range c.tables {
		lt := ListedTable{Table: t.key, File: t.file, Files: t.files, Rows: t.rows, SizeBytes: t.size, Status: "ok", Problems: []string{}}
		if t.entry == nil {
			lt.Rows = 0
			for _, name := range t.files {
				lt.Rows += found[name].Rows
			}
		}
		var kinds []string
		seen := map[string]bool{}
		for _, name := range t.files {
			for _, p := range byFile[name] {
				if !seen[p.Kind.String()] {
					seen[p.Kind.String()] = true
					kinds = append(kinds, p.Kind.String())
				}
				lt.Problems = append(lt.Problems, p.Detail)
			}
		}
		if len(kinds) > 0 {
			lt.Status = strings.Join(kinds, ",")
		}
		l.Rows += lt.Rows
		l.SizeBytes += lt.SizeBytes
		l.Tables = append(l.Tables, lt)
	}
	if !res.OK {
		l.NewestGood = newestGood(ctx, opt.Folder, c.all, c.entries, c.info.ID, vopt)
	}
	return l, nil
}
