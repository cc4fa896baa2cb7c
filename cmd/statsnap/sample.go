package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/sample"
)

type sampleOptions struct {
	Gamertag string
	Matches  int
	Seed     int64
}

func newSampleCmd(g *globals) *cobra.Command {
	var o sampleOptions
	cmd := &cobra.Command{
		Use:   "sample --gamertag NAME [--matches N] [--seed S]",
		Short: "Write a realistic demo player database (OpenSpartan v4 schema)",
		Long: `Write {--data-dir}/players/{gamertag}/stats.duckdb: a deterministic demo player
with the OpenSpartan Graph v4 schema (match_stats, medals_earned,
teammates_aggregate, antagonists, the mv_* tables, sequences, indexes and
views). The same --seed and --matches always give the same data. An existing
database is never replaced.` + exitStatus(
			"0 the database was written",
			"1 it could not be written (it exists already, or the disk is full)",
			exitLineUsage,
			exitLineInterrupted),
		Example: `  statsnap sample --gamertag "Chocobo Flör"
  statsnap sample --gamertag JGtm --matches 200000 --seed 7`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Gamertag == "" {
				return usageErr("sample needs --gamertag NAME")
			}
			if err := checkGamertag(o.Gamertag); err != nil {
				return err
			}
			if o.Matches < 1 {
				return usageErr("--matches must be at least 1, got %d", o.Matches)
			}
			path := g.playerDB(o.Gamertag)
			start := time.Now()
			sum, err := sample.Generate(cmd.Context(), path, sample.Options{Gamertag: o.Gamertag, Matches: o.Matches, Seed: o.Seed})
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return withHint(fmt.Errorf("cannot create sample: %s already exists", path), "choose another --gamertag or remove it")
				}
				return fmt.Errorf("cannot create sample at %s: %w", path, err)
			}
			if g.JSON {
				return g.printJSON(map[string]any{"gamertag": o.Gamertag, "db": path, "tables": sum.Tables, "size_bytes": sum.Bytes})
			}
			var rows int64
			for _, n := range sum.Tables {
				rows += n
			}
			fmt.Fprintf(g.out(), "wrote %s: %d tables, %d rows, %s (%.1fs)\n", path, len(sum.Tables), rows, humanBytes(sum.Bytes), time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Gamertag, "gamertag", "", "player name (spaces and accents welcome)")
	cmd.Flags().IntVar(&o.Matches, "matches", 500, "number of matches (about 60 highlight events each)")
	cmd.Flags().Int64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same data")
	return cmd
}
