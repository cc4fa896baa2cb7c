package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	_ "github.com/openspartan/statsnap/internal/storage/blob"  // s3://, gs://, azblob://, file://
	_ "github.com/openspartan/statsnap/internal/storage/local" // plain paths
)

// checkLocations refuses, before any work, a --output or --backup that
// is neither a path nor a supported URL: "s3:/x" or "foo://" must never
// become a local folder.
func checkLocations(cmd *cobra.Command, g *globals) error {
	for _, name := range []string{"output", "backup"} {
		f := cmd.Flags().Lookup(name)
		if f == nil || (name == "output" && !f.Changed) {
			continue
		}
		if name == "backup" && f.Value.String() == "" {
			continue
		}
		if _, _, err := storage.Parse(f.Value.String()); err != nil {
			return usageErr("--%s: %v", name, err)
		}
	}
	return nil
}

// openRoot opens --output.
func openRoot(ctx context.Context, g *globals) (storage.Root, error) {
	r, err := storage.Open(ctx, g.Output)
	if errors.Is(err, storage.ErrLocation) {
		return nil, usageErr("--output: %v", err)
	}
	return r, err
}
