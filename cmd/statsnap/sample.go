package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/sample"
)

type sampleOptions struct {
	Gamertag string
	Matches  int
	Add      int
	Seed     int64
}

func newSampleCmd(g *globals) *cobra.Command {
	var o sampleOptions
	cmd := &cobra.Command{
		Use:   "sample --gamertag NAME [--matches N | --add N] [--seed S]",
		Short: "Write a realistic demo player database (OpenSpartan v4 schema)",
		Long: `Write {--data-dir}/players/{gamertag}/stats.duckdb: a deterministic demo player
with the OpenSpartan Graph v4 schema (match_stats, medals_earned,
teammates_aggregate, antagonists, the mv_* tables, sequences, indexes and
views). The same --seed and --matches always give the same data. An existing
database is never replaced.

--add N appends N matches to the player's existing sample database instead,
as OpenSpartan Graph does when it syncs: new rows in the append-only tables
(match_stats, player_match_stats, highlight_events, medals_earned,
weapon_kills, skill_history, sessions), ids drawn from the sequences, and a
refresh of the tables it recomputes (teammates_aggregate, antagonists, the
mv_* tables, meta.db_info), which changes only the rows whose values change.
The earlier rows of the append-only tables stay exactly as they were, in the
same order. It runs in one transaction: a failure or Ctrl-C leaves the
database's contents unchanged. The new matches follow from
the database and --seed (by default the database's own seed), so the same
database and options always give the same result.` + exitStatus(
			"0 the database was written (or the matches were added)",
			"1 it could not be written (it exists already, or the disk is full; with --add: it is missing, in use, or not a sample)",
			exitLineUsage,
			exitLineInterrupted),
		Example: `  statsnap sample --gamertag "Chocobo Flör"
  statsnap sample --gamertag JGtm --matches 200000 --seed 7
  statsnap sample --gamertag JGtm --add 2000`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Gamertag == "" {
				return usageErr("sample needs --gamertag NAME")
			}
			if err := checkGamertag(o.Gamertag); err != nil {
				return err
			}
			if cmd.Flags().Changed("add") {
				if cmd.Flags().Changed("matches") {
					return usageErr("--add and --matches do not go together: --matches writes a new database, --add appends to one")
				}
				if o.Add < 1 {
					return usageErr("--add must be at least 1, got %d", o.Add)
				}
				var seed *int64
				if cmd.Flags().Changed("seed") {
					seed = &o.Seed
				}
				return runSampleAdd(cmd, g, o, seed)
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
	cmd.Flags().IntVar(&o.Add, "add", 0, "append N matches to the player's existing sample database")
	cmd.Flags().Int64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same data (with --add, default: the database's own)")
	return cmd
}

// runSampleAdd appends o.Add matches to the player's sample database.
func runSampleAdd(cmd *cobra.Command, g *globals, o sampleOptions, seed *int64) error {
	path := g.playerDB(o.Gamertag)
	op := &opError{op: "add matches to " + o.Gamertag, verb: "command", source: path, disk: path, place: "--data-dir",
		safe: "the database was not changed"}
	start := time.Now()
	sum, err := sample.Add(cmd.Context(), path, sample.AddOptions{Matches: o.Add, Seed: seed})
	if err != nil {
		switch {
		case errors.Is(err, dbfile.ErrNotExist):
			err = withHint(err, fmt.Sprintf("create it first: statsnap sample --gamertag %q --matches N", o.Gamertag))
		case errors.Is(err, sample.ErrNotSample):
			err = withHint(err, "--add appends only to databases that statsnap sample wrote")
		}
		op.err = err
		return op
	}
	if g.JSON {
		return g.printJSON(map[string]any{"gamertag": o.Gamertag, "db": path, "added_matches": o.Add, "matches": sum.Matches,
			"added": sum.Added, "updated": sum.Updated, "tables": sum.Tables, "size_bytes": sum.Bytes})
	}
	var added int64
	for _, n := range sum.Added {
		added += n
	}
	fmt.Fprintf(g.out(), "added %d matches to %s: %d matches now, %d new rows, %s (%.1fs)\n",
		o.Add, path, sum.Matches, added, humanBytes(sum.Bytes), time.Since(start).Seconds())
	return nil
}
