// Command statsnap makes provable backups of DuckDB databases.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// globals are the flags every command accepts.
type globals struct {
	JSON     bool
	DataDir  string
	Output   string
	KeyFile  string
	LockWait time.Duration
	Verbose  bool
	Quiet    bool
	NoColor  bool

	stdout io.Writer
	stderr io.Writer
	// cancel stops the command when a folder's lock is lost (lockFolder).
	cancel context.CancelCauseFunc
}

func (g *globals) playerDB(gamertag string) string {
	return filepath.Join(g.DataDir, "players", gamertag, "stats.duckdb")
}

// playerFolder is the location of a player's folder in the backup root:
// a path, or a URL with the name appended to its path.
func (g *globals) playerFolder(gamertag string) string {
	return storage.Join(g.Output, gamertag)
}

// out is where the human report goes: stdout, or stderr under --json so
// that stdout holds the JSON document only.
func (g *globals) out() io.Writer {
	if g.JSON {
		return g.stderr
	}
	return g.stdout
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// terminal reports whether progress should be drawn.
func (g *globals) terminal() bool {
	f, ok := g.stderr.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// key loads the key named by --key-file or STATSNAP_KEY_FILE, or nil.
func (g *globals) key() ([]byte, error) {
	path := g.KeyFile
	if path == "" {
		path = os.Getenv("STATSNAP_KEY_FILE")
	}
	if path == "" {
		return nil, nil
	}
	key, err := snapshot.LoadKey(path)
	if errors.Is(err, snapshot.ErrKeyExposed) {
		fmt.Fprintf(g.stderr, "warning: %v\n", err)
		return key, nil
	}
	if err != nil {
		return nil, withHint(fmt.Errorf("cannot use key: %w", err), "check --key-file or STATSNAP_KEY_FILE")
	}
	return key, nil
}

// lockFolder takes a player folder's lock for the rest of the command:
// exclusive for backup and prune, shared for verify, restore and a dry-run
// prune. Locking is the commands' job, never the use cases' (backup.Backup,
// restore.Run and prune.Run expect the caller to hold it): a command's lock
// spans everything it does to one folder (verify's several snapshots,
// restore's verification and its transaction, prune's plan and removals),
// --lock-wait belongs to the command line, and a lease on an object store
// is held and renewed for as long as the command runs.
//
// When the lock is held, the error names the kind of command holding it.
func lockFolder(ctx context.Context, g *globals, f storage.Folder, exclusive bool) (func(), error) {
	if g.cancel != nil {
		// A lease on an object store can be lost mid-run: the command
		// then stops as an interruption would, and run says why.
		ctx = storage.WithLockLost(ctx, func(err error) { g.cancel(err) })
	}
	unlock, err := f.Lock(ctx, exclusive, g.LockWait)
	if errors.Is(err, storage.ErrLocked) {
		holder := "backup or prune" // only a writer keeps a reader out
		if exclusive {
			holder = lockHolder(ctx, f)
		}
		return nil, &lockHeldError{holder: holder, err: err}
	}
	if err != nil {
		return nil, err
	}
	return func() {
		// The kernel drops the lock when the process ends anyway.
		if err := unlock(); err != nil {
			slog.Warn("could not release the folder's lock", "folder", f.Location(), "err", err)
		}
	}, nil
}

// lockHeldError is storage.ErrLocked with the kind of command holding
// the lock.
type lockHeldError struct {
	holder string
	err    error
}

func (e *lockHeldError) Error() string { return e.err.Error() }
func (e *lockHeldError) Unwrap() error { return e.err }

// check refuses global flag values that would put snapshots where nobody
// looks for them: an empty --output or --data-dir would mean the current
// folder, and a negative --lock-wait means nothing.
func (g *globals) check(cmd *cobra.Command) error {
	for _, name := range []string{"output", "data-dir"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && strings.TrimSpace(f.Value.String()) == "" {
			return usageErr("--%s is empty; give a folder (the default is %s)", name, f.DefValue)
		}
	}
	if g.LockWait < 0 {
		return usageErr("--lock-wait must not be negative, got %s", g.LockWait)
	}
	return nil
}

// lockHolder says which kind of statsnap command holds a folder's lock,
// for a command that wanted it exclusively: if a shared lock can be
// taken, the holder is a reader (verify or restore).
func lockHolder(ctx context.Context, f storage.Folder) string {
	if unlock, err := f.Lock(ctx, false, 0); err == nil {
		_ = unlock() // a probe's shared lock: nothing was written under it
		return "verify or restore"
	}
	return "backup or prune"
}

// checkGamertag refuses names that would leave the data or backup folder.
func checkGamertag(name string) error {
	if err := storage.CheckName(name); err != nil {
		return usageErr("invalid gamertag %q: a gamertag is one folder name (no '/', '\\', '..' or control characters)", name)
	}
	if strings.HasPrefix(name, ".") {
		return usageErr("invalid gamertag %q: it may not start with '.'", name)
	}
	// "--gamertag --json" would otherwise take the flag as the name. Xbox
	// gamertags start with a letter, so nothing real is refused.
	if strings.HasPrefix(name, "-") {
		return usageErr("invalid gamertag %q: it looks like a flag; give the gamertag right after --gamertag", name)
	}
	return nil
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "statsnap",
		Short: "Provable backups of DuckDB player databases",
		Long: `statsnap backs up DuckDB databases to zstd Parquet files plus a manifest
holding each file's BLAKE3 hash, row count, schema and DDL; verifies them;
restores them in one transaction; and prunes them with restic's retention rules.

Every command takes --json (one JSON document on stdout, on failure too),
--data-dir, --output and --key-file; see each command's --help.` + exitStatus(
			"0 success",
			"1 operational error: a missing or locked database, a held lock, I/O, a full disk",
			exitLineUsage,
			"3 integrity failure: a snapshot does not verify or authenticate",
			exitLineInterrupted),
		Example: `  statsnap sample --gamertag "Chocobo Flör"
  statsnap backup --all
  statsnap verify --backup "data/backups/Chocobo Flör"
  statsnap restore --gamertag "Chocobo Flör" --backup "data/backups/Chocobo Flör" --dry-run
  statsnap prune --all --keep-weekly 8 --keep-monthly 12`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without this, cobra would report an unknown command in an error
		// only its text tells apart.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q for %q (see 'statsnap --help')", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelWarn
			if g.Verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})))
			if err := g.check(cmd); err != nil {
				return err
			}
			return checkLocations(cmd, g)
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "print one JSON document on stdout (human text goes to stderr)")
	pf.StringVar(&g.DataDir, "data-dir", "./data", "folder holding players/{gamertag}/stats.duckdb")
	pf.StringVar(&g.Output, "output", "./data/backups", "backup root: one folder per player")
	pf.StringVar(&g.KeyFile, "key-file", "", "key for authenticated snapshots (default $STATSNAP_KEY_FILE)")
	pf.DurationVar(&g.LockWait, "lock-wait", 0, "how long to wait for another statsnap working on the same player")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "log diagnostics to stderr")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress and no summary on success: only warnings and errors")
	pf.BoolVar(&g.NoColor, "no-color", false, "never colour the output (NO_COLOR in the environment does the same)")
	// --version prints what `statsnap version` prints. The text is built
	// only when the flag is used: asking DuckDB its version costs an
	// in-memory database.
	root.Version = snapshot.ToolVersion
	root.SetVersionTemplate("{{versionText}}")
	cobra.AddTemplateFunc("versionText", func() string { return readBuildInfo(context.Background()).String() })
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%v (see '%s --help')", err, cmd.CommandPath())
	})
	// Every command, in one list, in the order help shows them.
	root.AddCommand(
		newPlayersCmd(g),
		newSampleCmd(g),
		newBackupCmd(g),
		newSnapshotsCmd(g),
		newVerifyCmd(g),
		newRestoreCmd(g),
		newPruneCmd(g),
		newDiffCmd(g),
		newFilesCmd(g),
		newKeyCmd(g),
		newVersionCmd(g),
	)
	registerCompletions(root, g)
	return root
}

// usageArgs wraps cobra's argument checks as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageErr("%v (see '%s --help')", err, cmd.CommandPath())
		}
		return nil
	}
}

// run runs statsnap with args and returns its exit code. Every failure
// is reported here, once (see report).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g := &globals{stdout: stdout, stderr: stderr, cancel: cancel}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if cause := context.Cause(ctx); errors.Is(err, context.Canceled) && errors.Is(cause, storage.ErrLockLost) {
		err = &lockLostError{lost: cause, err: err}
	}
	// A flag error may stop cobra before it parsed --json.
	return report(err, g.JSON || jsonWanted(args), stdout, stderr)
}

// jsonWanted reports whether args ask for --json, read without cobra: a
// bad flag before it stops cobra's parsing, and the error must still be a
// JSON document.
func jsonWanted(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true", "--json=1":
			return true
		}
	}
	return false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// STATSNAP_CPUPROFILE=path writes a CPU profile, for the benchmarks.
	if path := os.Getenv("STATSNAP_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			stop()
			os.Exit(code)
		}
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
