package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/snapshot"
)

func newKeyCmd(g *globals) *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "Manage keys for authenticated snapshots",
		Long: `A key makes snapshots authenticated: with --key-file (or STATSNAP_KEY_FILE),
backup adds a keyed BLAKE3 MAC to each manifest, and verify and restore refuse a
snapshot whose MAC is wrong or missing. Keep the key apart from the backups.`}
	key.AddCommand(&cobra.Command{
		Use:   "generate PATH",
		Short: "Write a new random key to PATH (mode 0600); it never replaces a file",
		Long: `Write 32 random bytes, as hex, to PATH with mode 0600. Missing parent folders
are created with mode 0700. An existing file is never replaced: losing a key
makes its snapshots impossible to authenticate.` + exitStatus(
			"0 the key was written",
			"1 PATH exists already, or cannot be written",
			exitLineUsage),
		Example: `  statsnap key generate ~/.config/statsnap/key
  export STATSNAP_KEY_FILE=~/.config/statsnap/key`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := snapshot.GenerateKey(args[0]); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return withHint(fmt.Errorf("cannot create key: %s already exists and keys are never replaced", args[0]), "choose another path")
				}
				return fmt.Errorf("cannot create key: %w", err)
			}
			if g.JSON {
				return g.printJSON(map[string]any{"key_file": args[0]})
			}
			fmt.Fprintf(g.out(), "wrote a new key to %s; keep a copy apart from the backups: without it, keyed snapshots cannot be authenticated\n", args[0])
			return nil
		},
	})
	return key
}
