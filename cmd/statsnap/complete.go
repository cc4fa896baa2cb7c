package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// completionTimeout bounds what a completion may read: a shell waits for
// it on every <Tab>, and a slow bucket must not hang the prompt.
const completionTimeout = 3 * time.Second

// registerCompletions gives every command that takes --gamertag,
// --snapshot or --tables a dynamic completion of the names that exist:
// players of --data-dir and of the backup root, snapshot ids of the
// chosen folder, table names of the chosen snapshot. Without it the shell
// falls back to file names. Completion only lists; it takes no lock.
func registerCompletions(root *cobra.Command, g *globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		fs := c.Flags()
		if fs.Lookup("gamertag") != nil {
			_ = c.RegisterFlagCompletionFunc("gamertag", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return withPrefix(completeGamertags(cmd, g), toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		}
		if fs.Lookup("snapshot") != nil {
			_ = c.RegisterFlagCompletionFunc("snapshot", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				var ids []string
				for _, s := range completionSnapshots(cmd, g) {
					ids = append(ids, s.ID)
				}
				return withPrefix(ids, toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		}
		if fs.Lookup("tables") != nil {
			_ = c.RegisterFlagCompletionFunc("tables", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return completeTables(cmd, g, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
			})
		}
	}
	walk(root)
}

func completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// completeGamertags lists the players of --data-dir and the player
// folders of the backup root, each once, sorted.
func completeGamertags(cmd *cobra.Command, g *globals) []string {
	seen := map[string]bool{}
	if ps, err := findPlayers(g.DataDir); err == nil {
		for _, p := range ps {
			seen[p.Gamertag] = true
		}
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	if r, err := storage.Open(ctx, g.Output); err == nil {
		if names, err := playerNames(ctx, r); err == nil {
			for _, n := range names {
				seen[n] = true
			}
		}
		r.Close()
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// completionSnapshots lists the snapshots of the folder the command line
// names so far: --backup, or the player folder of --gamertag.
func completionSnapshots(cmd *cobra.Command, g *globals) []snapshot.Info {
	location, _ := cmd.Flags().GetString("backup")
	if location == "" {
		gt, _ := cmd.Flags().GetString("gamertag")
		if gt == "" || checkGamertag(gt) != nil {
			return nil
		}
		location = g.playerFolder(gt)
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	f, err := storage.OpenFolder(ctx, location, false)
	if err != nil {
		return nil
	}
	defer f.Close()
	list, err := snapshot.Scan(ctx, f)
	if err != nil {
		return nil
	}
	return list
}

// completeTables completes the last name of a comma-separated --tables
// from the tables of the chosen snapshot (--snapshot, or the newest).
func completeTables(cmd *cobra.Command, g *globals, toComplete string) []string {
	list := completionSnapshots(cmd, g)
	id, _ := cmd.Flags().GetString("snapshot")
	s, err := snapshot.Find(list, id)
	if err != nil || s.Manifest == nil {
		return nil
	}
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	chosen := map[string]bool{}
	for _, t := range strings.Split(done, ",") {
		chosen[t] = true
	}
	var out []string
	for name := range s.Manifest.Tables {
		if !chosen[name] && strings.HasPrefix(name, last) {
			out = append(out, done+name)
		}
	}
	sort.Strings(out)
	return out
}

func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
