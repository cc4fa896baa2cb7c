package main

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/diff"
	"github.com/openspartan/statsnap/internal/snapview"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

type filesOptions struct {
	Backup   string
	Gamertag string
	Snapshot string
	SQL      bool
}

type filesJSON struct {
	Backup   string           `json:"backup"`
	Snapshot string           `json:"snapshot"`
	Gamertag string           `json:"gamertag"`
	Tables   []filesTableJSON `json:"tables"`
	// SQL is the --sql script.
	SQL      string           `json:"sql,omitempty"`
	Warnings []verify.Problem `json:"warnings"`
}

type filesTableJSON struct {
	Table string          `json:"table"`
	Rows  int64           `json:"rows"`
	Files []filesPartJSON `json:"files"`
	// Encoded lists the columns stored in a portable encoding
	// (docs/manifest.md), which the --sql views decode.
	Encoded map[string]string `json:"encoded_columns"`
}

type filesPartJSON struct {
	File string `json:"file"`
	// Path is what read_parquet takes: an absolute local path, or the
	// object's URL (without statsnap's query parameters).
	Path   string `json:"path"`
	Rows   int64  `json:"rows"`
	Size   int64  `json:"size_bytes"`
	BLAKE3 string `json:"blake3,omitempty"`
	// Snapshot is the id of the snapshot that wrote the file (an earlier
	// one when the file is shared).
	Snapshot string `json:"written_by"`
}

func newFilesCmd(g *globals) *cobra.Command {
	var o filesOptions
	cmd := &cobra.Command{
		Use:   "files (--backup DIR | --gamertag G) [--snapshot ID] [--sql] [TABLE...]",
		Short: "Print the Parquet files of a snapshot's tables, or a DuckDB script of views over them",
		Long: `files prints, for each table of a snapshot (the newest unless --snapshot; only
the TABLEs named, when given), the Parquet files that hold its rows, in row
order: paths to give to DuckDB's read_parquet([...]) or Polars' scan_parquet.
A file may have been written by an earlier snapshot and shared.

--sql prints instead a DuckDB script with one view per table over its files,
named as the table, with every column stored in a portable encoding decoded
back to its declared type, so that

  statsnap files --backup DIR --sql | duckdb

opens a session where each table reads as it was in the database.

The manifest's checksum (and MAC, given a key) is checked; the files are not
hashed (run statsnap verify for that).` + exitStatus(
			"0 the files were printed",
			"1 files could not run (a missing folder or snapshot, I/O)",
			exitLineUsage,
			"3 the snapshot's manifest does not verify or authenticate",
			exitLineInterrupted),
		Example: `  statsnap files --backup data/backups/Chocoboflor
  statsnap files --backup data/backups/Chocoboflor --snapshot 20261101_030000 match_stats
  statsnap files --backup data/backups/Chocoboflor --sql | duckdb
  statsnap files --backup data/backups/Chocoboflor --sql > views.sql && duckdb -init views.sql
  statsnap files --gamertag Chocoboflor --json`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return runFiles(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Backup, "backup", "", "the player's backup folder (default with --gamertag: {--output}/{gamertag})")
	f.StringVar(&o.Gamertag, "gamertag", "", "read {--output}/{gamertag}")
	f.StringVar(&o.Snapshot, "snapshot", "", "the snapshot id, YYYYMMDD_HHMMSS (default: the newest)")
	f.BoolVar(&o.SQL, "sql", false, "print a DuckDB script with one CREATE VIEW per table")
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		s, err := snapshot.Find(completionSnapshots(cmd, g), o.Snapshot)
		if err != nil || s.Manifest == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for name := range s.Manifest.Tables {
			if strings.HasPrefix(name, toComplete) {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

func runFiles(cmd *cobra.Command, g *globals, o filesOptions, args []string) error {
	ctx := cmd.Context()
	if o.Backup == "" && o.Gamertag != "" {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
		o.Backup = g.playerFolder(o.Gamertag)
	}
	if o.Backup == "" {
		return usageErr("files needs --backup DIR, the player's backup folder (e.g. data/backups/GAMERTAG), or --gamertag G")
	}
	if o.Snapshot != "" {
		if err := snapshot.CheckID(o.Snapshot); err != nil {
			return usageErr("--snapshot: %v", err)
		}
	}
	key, err := g.key()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &opError{op: "list the files", verb: "files", folder: o.Backup, err: err}
	}
	rf, err := openReadFolder(ctx, g, o.Backup)
	if err != nil {
		return fail(err)
	}
	defer rf.done()
	folder, entries, all := rf.Folder, rf.entries, rf.snaps
	id := o.Snapshot
	if id == "" {
		id = "latest"
	}
	info, err := findForDiff(all, id, o.Backup)
	if err != nil {
		return fail(err)
	}
	// The manifest only: its checksum and MAC. Seed-made manifests cannot
	// be checked; they are read with a warning.
	_, res, err := diff.Check(ctx, folder, info, entries, nil, "", verify.Options{Key: key, AllowUnverified: true})
	if err == nil {
		err = refuseForged(info.ID, res)
	}
	if err != nil {
		var ie *diff.IntegrityError
		if errors.As(err, &ie) {
			return withHint(integrityErr("%v", ie), "run 'statsnap verify --backup "+o.Backup+" --snapshot "+ie.Snapshot+"' for every problem")
		}
		return fail(err)
	}
	m := info.Manifest.Manifest
	keys := m.Keys()
	if len(args) > 0 {
		keys = nil
		seen := map[string]bool{}
		for _, a := range args {
			if _, ok := m.Tables[a]; !ok {
				have := m.Keys()
				sort.Strings(have)
				return usageErr("snapshot %s has no table %q%s", info.ID, a, didYouMean(a, have))
			}
			if !seen[a] {
				seen[a] = true
				keys = append(keys, a)
			}
		}
	}
	path := func(name string) string { return filePath(folder, o.Backup, name) }
	doc := filesJSON{Backup: o.Backup, Snapshot: info.ID, Gamertag: m.Gamertag, Tables: []filesTableJSON{}, Warnings: res.Warnings}
	for _, k := range keys {
		t := m.Tables[k]
		if _, err := snapview.Files(t); err != nil {
			return withHint(integrityErr("snapshot %s, table %s: %v", info.ID, printable(k), err), "this manifest was not written by statsnap; run 'statsnap verify'")
		}
		tj := filesTableJSON{Table: k, Rows: t.Rows, Files: []filesPartJSON{}, Encoded: map[string]string{}}
		for _, p := range t.DataFiles() {
			_, by := snapshot.Classify(p.File)
			tj.Files = append(tj.Files, filesPartJSON{File: p.File, Path: path(p.File), Rows: p.Rows, Size: p.FileSizeBytes, BLAKE3: p.BLAKE3, Snapshot: by})
		}
		for _, c := range t.Columns {
			if c.Encoding != "" && !c.Generated {
				tj.Encoded[c.Name] = c.Encoding
			}
		}
		doc.Tables = append(doc.Tables, tj)
	}
	if o.SQL {
		script, err := snapview.Script(m, keys, path)
		if err != nil {
			return withHint(integrityErr("snapshot %s: %v", info.ID, err), "this manifest was not written by statsnap; run 'statsnap verify'")
		}
		doc.SQL = script
	}
	for _, p := range res.Warnings {
		fmt.Fprintf(g.stderr, "warning: %s\n", problemSentence(p))
	}
	switch {
	case g.JSON:
		return g.printJSON(doc)
	case o.SQL:
		fmt.Fprint(g.stdout, doc.SQL)
	default:
		for _, t := range doc.Tables {
			for _, f := range t.Files {
				fmt.Fprintf(g.stdout, "%s\t%s\n", printable(t.Table), printable(f.Path))
			}
		}
	}
	return nil
}

// filePath is the path or URL read_parquet takes for a file of the
// folder: an absolute local path, or the object's URL without the query
// parameters statsnap's storage layer reads (DuckDB's httpfs takes its
// endpoint and credentials from its own settings and secrets).
func filePath(f storage.Folder, location, name string) string {
	if p, ok := storage.LocalPath(f, name); ok {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	u, err := url.Parse(storage.Join(location, name))
	if err != nil {
		return storage.Join(location, name)
	}
	u.RawQuery, u.User = "", nil
	if u.Scheme == "azblob" {
		u.Scheme = "az" // DuckDB's azure extension
	}
	return strings.TrimSuffix(u.String(), "?")
}
