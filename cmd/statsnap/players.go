package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
)

type player struct {
	Gamertag  string `json:"gamertag"`
	DB        string `json:"db"`
	SizeBytes int64  `json:"size_bytes"`
}

// findPlayers lists data-dir/players/*/stats.duckdb.
func findPlayers(dataDir string) ([]player, error) {
	dir := filepath.Join(dataDir, "players")
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, withHint(fmt.Errorf("cannot list players: %w", err), "check --data-dir (it must hold players/{gamertag}/stats.duckdb)")
	}
	var out []player
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		p := filepath.Join(dir, de.Name(), "stats.duckdb")
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, player{Gamertag: de.Name(), DB: p, SizeBytes: fi.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Gamertag < out[j].Gamertag })
	return out, nil
}

func newPlayersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "players",
		Short: "List the players found under the data dir, with database sizes",
		Long: `List every player database found as {--data-dir}/players/{gamertag}/stats.duckdb,
with its size (the seed's backup_player.py --list).` + exitStatus(
			"0 the players were listed (possibly none)",
			"1 the data folder cannot be read",
			exitLineUsage),
		Example: `  statsnap players
  statsnap players --data-dir /srv/openspartan/data --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := findPlayers(g.DataDir)
			if err != nil {
				return err
			}
			if g.JSON {
				if ps == nil {
					ps = []player{}
				}
				return g.printJSON(map[string]any{"players": ps})
			}
			if len(ps) == 0 {
				fmt.Fprintf(g.out(), "no players under %s\n", filepath.Join(g.DataDir, "players"))
				return nil
			}
			for _, p := range ps {
				fmt.Fprintf(g.out(), "%-24s %10s  %s\n", p.Gamertag, humanBytes(p.SizeBytes), p.DB)
			}
			return nil
		},
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
