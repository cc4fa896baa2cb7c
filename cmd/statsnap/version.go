package main

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/snapshot"
)

// buildInfo is what `statsnap version` reports: enough for a bug report to
// name the exact build.
type buildInfo struct {
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	Modified      bool   `json:"modified,omitempty"`
	DuckDBVersion string `json:"duckdb_version"`
	DuckDBSource  string `json:"duckdb_source_id,omitempty"`
	GoVersion     string `json:"go_version"`
	Platform      string `json:"platform"`
}

// readBuildInfo gathers the versions. The commit comes from the VCS stamp
// the go command embeds when building inside a git checkout; `go install`
// from a module cache has none, and then says "unknown".
func readBuildInfo(ctx context.Context) buildInfo {
	bi := buildInfo{
		Version:   snapshot.ToolVersion,
		Commit:    "unknown",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	bi.DuckDBVersion, bi.DuckDBSource = duckdbVersion(ctx)
	return bi
}

// duckdbVersion asks the linked library itself, so the answer cannot drift
// from what actually reads and writes the files.
func duckdbVersion(ctx context.Context) (version, source string) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return "unknown", ""
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT library_version, source_id FROM pragma_version()").Scan(&version, &source); err != nil {
		return "unknown", ""
	}
	return version, source
}

func (b buildInfo) String() string {
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("statsnap %s\ncommit:  %s\nduckdb:  %s (%s)\ngo:      %s\nplatform: %s\n",
		b.Version, commit, b.DuckDBVersion, b.DuckDBSource, b.GoVersion, b.Platform)
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print statsnap's version, commit, DuckDB and Go versions",
		Long: `Print the version of statsnap, the commit it was built from, the DuckDB
library linked into it, the Go version and the platform. Quote it in a bug
report. --version prints the same text.` + exitStatus(
			"0 always",
			exitLineUsage),
		Example: `  statsnap version
  statsnap version --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			bi := readBuildInfo(cmd.Context())
			if g.JSON {
				return g.printJSON(bi)
			}
			fmt.Fprint(g.stdout, bi.String())
			return nil
		},
	}
}
