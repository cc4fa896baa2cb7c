package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

type snapshotJSON struct {
	Gamertag string `json:"gamertag"`
	Snapshot string `json:"snapshot"`
	Time     string `json:"time"`
	Status   string `json:"status"`
	Tables   int    `json:"tables"`
	Rows     int64  `json:"rows"`
	// SizeBytes is what the snapshot takes: its Parquet files and its
	// manifest (backup's size_bytes, the same figure).
	SizeBytes int64 `json:"size_bytes"`
	// NewBytes is what the snapshot wrote itself: its manifest and its
	// own files, not those it shares with earlier snapshots.
	NewBytes int64  `json:"new_bytes"`
	Error    string `json:"error,omitempty"`
	// LastVerification is the ledger's record of the snapshot's last
	// verification (absent when the ledger has none, or is not trusted);
	// ChangedSince says a file's size or modification time changed after
	// it, so the record no longer describes the files.
	LastVerification *lastVerificationJSON `json:"last_verification,omitempty"`
	ChangedSince     bool                  `json:"changed_since_verification,omitempty"`
	// Partial: the backup left tables out (--skip-table); Skipped names
	// them.
	Partial bool     `json:"partial"`
	Skipped []string `json:"skipped_tables,omitempty"`
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
		Long: `List every snapshot of every player folder of the backup root (--output), or
of one player with --gamertag, oldest first, with its status:

  complete    a statsnap manifest
  legacy      a manifest written by the seed scripts (no hashes)
  bare        Parquet files sharing an id with no manifest (a --no-metadata export)
  incomplete  an interrupted backup or removal, known by its journal
  corrupt     a manifest that cannot be read (verify says why)

and its last verification from the folder's ledger (age, depth, result), when
one is recorded. Listing reads manifests only; it proves nothing: run verify.` + exitStatus(
			"0 the snapshots were listed (possibly none)",
			"1 the backup root or a folder cannot be read",
			exitLineUsage),
		Example: `  statsnap snapshots
  statsnap snapshots --gamertag Chocoboflor --json
  statsnap snapshots --output /mnt/nas/statsnap`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := backupFolders(cmd.Context(), g, gamertag)
			if err != nil {
				return err
			}
			key, err := g.key()
			if err != nil {
				return err
			}
			now := time.Now()
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
				// Read without the lock: listing changes nothing, and a
				// ledger replaced meanwhile is at worst not shown.
				ledger, ignored := snapshot.TrustedLedger(cmd.Context(), folder, key, snaps)
				if ignored != nil && !g.JSON {
					fmt.Fprintln(g.stderr, ledgerWarning(dir, ignored))
				}
				for _, s := range snaps {
					j := snapshotJSON{Gamertag: name, Snapshot: s.ID, Time: s.Time.Format(time.RFC3339),
						Status: string(s.Status), Tables: s.Tables(), Rows: s.Rows(), SizeBytes: s.Size(), NewBytes: s.OwnSize()}
					if s.ManifestErr != nil {
						j.Error = s.ManifestErr.Error()
					}
					if s.Manifest != nil {
						for _, sk := range s.Manifest.Skipped {
							j.Partial = true
							j.Skipped = append(j.Skipped, sk.Key())
						}
					}
					j.LastVerification = lastVerification(ledger, s.ID)
					j.ChangedSince = j.LastVerification != nil && changedSince(ledger, s)
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
			fmt.Fprintf(w, "%-20s %-15s %-25s %-10s %6s %12s %10s %10s  %s\n", "GAMERTAG", "SNAPSHOT", "TIME", "STATUS", "TABLES", "ROWS", "SIZE", "NEW", "LAST VERIFIED")
			// SIZE counts the Parquet files and the manifest, as backup's
			// summary does; NEW only what the snapshot wrote itself.
			for _, s := range list {
				fmt.Fprintf(w, "%-20s %-15s %-25s %-10s %6d %12d %10s %10s  %s\n", s.Gamertag, s.Snapshot, s.Time, s.Status, s.Tables, s.Rows, humanBytes(s.SizeBytes), humanBytes(s.NewBytes), verifiedText(s, now))
				if s.Error != "" {
					fmt.Fprintf(w, "  ! %s\n", s.Error)
				}
				if s.Partial {
					quoted := make([]string, len(s.Skipped))
					for i, k := range s.Skipped {
						quoted[i] = strconv.Quote(k)
					}
					fmt.Fprintf(w, "  partial: left out at backup: %s\n", strings.Join(quoted, ", "))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gamertag, "gamertag", "", "only this player's snapshots")
	return cmd
}

// verifiedText renders a snapshot's last verification: "ok 2h ago
// (hash)", "FAILED 1d ago (hash_mismatch)", "-" when never verified.
func verifiedText(s snapshotJSON, now time.Time) string {
	v := s.LastVerification
	if v == nil {
		return "-"
	}
	t, _ := time.Parse(time.RFC3339, v.Time)
	out := fmt.Sprintf("ok %s (%s)", ageText(t, now), v.Depth)
	if !v.OK {
		out = fmt.Sprintf("FAILED %s (%s)", ageText(t, now), strings.Join(v.Problems, ", "))
	}
	if s.ChangedSince {
		out += ", files changed since"
	}
	return out
}

// changedSince reports whether a file of s has another size than its
// manifest says, or another modification time than its last check in the
// ledger recorded: the cheap signs, from the listing alone, that the last
// verification no longer describes the files.
func changedSince(l *snapshot.Ledger, s snapshot.Info) bool {
	if s.Manifest == nil {
		return false
	}
	listed := map[string]storage.Entry{}
	for _, e := range s.Files {
		listed[e.Name] = e
	}
	for _, t := range s.Manifest.Tables {
		for _, p := range t.DataFiles() {
			e, ok := listed[p.File]
			if !ok || e.Size != p.FileSizeBytes {
				return true
			}
			// The modification time the check recorded, as Vouch compares:
			// a write just after the check can carry an earlier time than
			// Checked, since file systems stamp writes with a coarse clock.
			if c, ok := l.Files[p.File]; ok && !e.ModTime.Equal(c.ModTime) {
				return true
			}
		}
	}
	return false
}
