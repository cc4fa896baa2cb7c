package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
)

// restoreAllJSON is restore --all's document: one restore document per
// player folder that was restored, and who failed.
type restoreAllJSON struct {
	Restores []json.RawMessage `json:"restores"`
	Failed   []failedJSON      `json:"failed"`
}

// runRestoreAll restores every player folder of a backup root into its
// player's database, the seed guide's "new machine" story. Each restore
// is the same as `restore --gamertag G --backup ROOT/G`, on its own: one
// failure does not stop the others.
func runRestoreAll(cmd *cobra.Command, g *globals, o restoreOptions) error {
	if o.DB != "" || o.Gamertag != "" {
		return usageErr("--all restores every player into {--data-dir}/players/{gamertag}/stats.duckdb; drop --db and --gamertag")
	}
	if o.List || o.Snapshot != "" || o.Tables != "" {
		return usageErr("--all restores each player's newest verified snapshot whole; drop --list, --snapshot and --tables")
	}
	ctx := cmd.Context()
	root := orDefault(o.Backup, g.Output)
	r, err := storage.Open(ctx, root)
	if err != nil {
		return &opError{op: "restore --all", verb: "restore", folder: root, err: withHint(err, "check --backup or --output")}
	}
	names, err := playerNames(ctx, r)
	r.Close()
	if err != nil {
		return &opError{op: "restore --all", verb: "restore", folder: root, err: withHint(err, "check --backup or --output")}
	}
	if len(names) == 0 {
		return withHint(notExist("%s holds no player folders", root), "check --backup or --output")
	}
	doc := restoreAllJSON{Restores: []json.RawMessage{}, Failed: []failedJSON{}}
	worst := 0
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		po := o
		po.All, po.Gamertag, po.Backup = false, name, storage.Join(root, name)
		// Each restore prints as it would alone; under --json its document
		// is collected into this one.
		gp := *g
		var buf bytes.Buffer
		if g.JSON {
			gp.stdout = &buf
		} else if i > 0 {
			fmt.Fprintln(g.out())
		}
		err := runRestore(cmd, &gp, po)
		if err != nil {
			f := describe(err)
			worst = worseExit(worst, f.ExitCode)
			doc.Failed = append(doc.Failed, failedJSON{Gamertag: name, Error: f.line()})
			if re := new(reportError); errors.As(err, &re) && g.JSON {
				if b, merr := json.Marshal(re.doc); merr == nil {
					doc.Restores = append(doc.Restores, b)
				}
			}
			if !g.JSON {
				fmt.Fprintf(g.stderr, "statsnap: %s\n", f.line())
			}
			continue
		}
		if g.JSON && buf.Len() > 0 {
			doc.Restores = append(doc.Restores, json.RawMessage(bytes.TrimSpace(buf.Bytes())))
		}
	}
	if worst == 0 {
		if g.JSON {
			return g.printJSON(doc)
		}
		fmt.Fprintf(g.out(), "\nrestored %s from %s\n", plural(int64(len(names)), "player", "players"), root)
		return nil
	}
	msg := fmt.Errorf("%d of %s of %s could not be restored", len(doc.Failed), plural(int64(len(names)), "player", "players"), root)
	var err2 error = msg
	if worst == exitIntegrity {
		err2 = integrityErr("%v", msg)
	}
	return withReport(doc, err2, false)
}

// worseExit orders exit codes for a command over many players: an
// integrity failure outranks an operational one.
func worseExit(a, b int) int {
	rank := func(c int) int {
		switch c {
		case exitIntegrity:
			return 3
		case exitError:
			return 2
		case 0:
			return 0
		}
		return 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
