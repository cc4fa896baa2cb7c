package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

type snapshotJSON struct {
	Gamertag  string `json:"gamertag"`
	Snapshot  string `json:"snapshot"`
	Time      string `json:"time"`
	Status    string `json:"status"`
	Tables    int    `json:"tables"`
	Rows      int64  `json:"rows"`
	SizeBytes int64  `json:"size_bytes"`
	Error     string `json:"error,omitempty"`
}

// backupFolders lists the player folders of the backup root, or the one
// of gamertag.
func backupFolders(ctx context.Context, g *globals, gamertag string) ([]string, error) {
	if gamertag != "" {
		if err := checkGamertag(gamertag); err != nil {
			return nil, err
		}
		return []string{gamertag}, nil
	}
	root, err := openRoot(ctx, g)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	out, err := root.Players(ctx)
	if err != nil {
		return nil, withHint(fmt.Errorf("cannot list backups: %w", err), "check --output")
	}
	return out, nil
}

func newSnapshotsCmd(g *globals) *cobra.Command {
	var gamertag string
	cmd := &cobra.Command{
		Use:   "snapshots [--gamertag G]",
		Short: "List snapshots with their status (complete, legacy, bare, incomplete)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := backupFolders(cmd.Context(), g, gamertag)
			if err != nil {
				return err
			}
			list := []snapshotJSON{}
			for _, name := range names {
				dir := g.playerFolder(name)
				folder, err := storage.OpenFolder(cmd.Context(), dir, false)
				if err != nil {
					if gamertag != "" && errors.Is(err, storage.ErrNotFound) {
						return withHint(notExist("cannot list snapshots of %s: %s does not exist", name, dir), "check --output")
					}
					return fmt.Errorf("cannot list snapshots of %s: %w", name, err)
				}
				snaps, err := snapshot.Scan(cmd.Context(), folder)
				folder.Close()
				if err != nil {
					return fmt.Errorf("cannot list snapshots of %s: %w", name, err)
				}
				for _, s := range snaps {
					j := snapshotJSON{Gamertag: name, Snapshot: s.ID, Time: s.Time.Format(time.RFC3339),
						Status: string(s.Status), Tables: s.Tables(), Rows: s.Rows(), SizeBytes: s.Size()}
					if s.ManifestErr != nil {
						j.Error = s.ManifestErr.Error()
					}
					list = append(list, j)
				}
			}
			if g.JSON {
				return g.printJSON(map[string]any{"snapshots": list})
			}
			if len(list) == 0 {
				fmt.Fprintln(g.out(), "no snapshots")
				return nil
			}
			w := g.out()
			fmt.Fprintf(w, "%-20s %-15s %-25s %-10s %6s %12s %10s\n", "GAMERTAG", "SNAPSHOT", "TIME", "STATUS", "TABLES", "ROWS", "SIZE")
			for _, s := range list {
				fmt.Fprintf(w, "%-20s %-15s %-25s %-10s %6d %12d %10s\n", s.Gamertag, s.Snapshot, s.Time, s.Status, s.Tables, s.Rows, humanBytes(s.SizeBytes))
				if s.Error != "" {
					fmt.Fprintf(w, "  ! %s\n", s.Error)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gamertag, "gamertag", "", "only this player's snapshots")
	return cmd
}
