//go:build faultinject

package main

// This file is built only with -tags faultinject, by the end-to-end tests
// (harness_test.go builds that binary for the tests that need the hook);
// the statsnap users build has no such hook.

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
)

// crashEnv names the fault to inject. With
// STATSNAP_TEST_CRASH_AFTER=manifest-removed, prune kills its own process
// with SIGKILL right after a removal has deleted a manifest and synced the
// folder, before any of the snapshot's files go: the moment SPEC's removal
// order exists for.
const crashEnv = "STATSNAP_TEST_CRASH_AFTER"

// faultFolder wraps f with the fault crashEnv asks for, if any.
func faultFolder(f storage.Folder) storage.Folder {
	v := os.Getenv(crashEnv)
	switch v {
	case "manifest-removed":
		return &crashFolder{Folder: f}
	case "publish-1":
		return &crashPublish{Folder: f}
	}
	if n, ok := strings.CutPrefix(v, "op-"); ok {
		if n, err := strconv.Atoi(n); err == nil && n > 0 {
			return &crashOps{Folder: f, left: n}
		}
	}
	return f
}

// crashOps, with STATSNAP_TEST_CRASH_AFTER=op-N, kills the process with
// SIGKILL right after the N-th change it made to the folder succeeded (a
// write, publish, removal or sync): a test that tries every N has killed
// the run between every two steps of it.
type crashOps struct {
	storage.Folder
	mu   sync.Mutex
	left int
}

func (c *crashOps) done(err error) error {
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left--; c.left == 0 {
		if p, perr := os.FindProcess(os.Getpid()); perr == nil {
			_ = p.Kill()
		}
		os.Exit(137)
	}
	return nil
}

func (c *crashOps) WriteFile(ctx context.Context, name string, data []byte) error {
	return c.done(c.Folder.WriteFile(ctx, name, data))
}

func (c *crashOps) Publish(ctx context.Context, staged, final string) error {
	return c.done(c.Folder.Publish(ctx, staged, final))
}

func (c *crashOps) Remove(ctx context.Context, name string) error {
	return c.done(c.Folder.Remove(ctx, name))
}

func (c *crashOps) Sync(ctx context.Context) error { return c.done(c.Folder.Sync(ctx)) }

// crashPublish, with STATSNAP_TEST_CRASH_AFTER=publish-1, kills a backup
// with SIGKILL right after its first Parquet file was published
// (uploaded): the journal is written, the manifest is not.
type crashPublish struct{ storage.Folder }

func (c *crashPublish) Publish(ctx context.Context, staged, final string) error {
	err := c.Folder.Publish(ctx, staged, final)
	if k, _ := snapshot.Classify(final); err == nil && k == snapshot.KindParquet {
		if p, perr := os.FindProcess(os.Getpid()); perr == nil {
			_ = p.Kill()
		}
		os.Exit(137)
	}
	return err
}

type crashFolder struct {
	storage.Folder
	manifestGone bool
}

func (c *crashFolder) Remove(ctx context.Context, name string) error {
	err := c.Folder.Remove(ctx, name)
	if k, _ := snapshot.Classify(name); err == nil && k == snapshot.KindManifest {
		c.manifestGone = true
	}
	return err
}

func (c *crashFolder) Sync(ctx context.Context) error {
	err := c.Folder.Sync(ctx)
	if err == nil && c.manifestGone {
		if p, perr := os.FindProcess(os.Getpid()); perr == nil {
			p.Kill() // SIGKILL: no deferred function or exit handler runs
		}
		os.Exit(137)
	}
	return err
}

// signalEnv names a signal to deliver at an event:
// STATSNAP_TEST_SIGNAL_AT=restore:at-commit:INT makes restore send itself
// SIGINT at its "at-commit" event (TERM for SIGTERM), then wait until the
// signal has cancelled the command's context, so that what follows runs
// exactly as it would after a real Ctrl-C at that moment. WAIT in place of
// the signal sends none and only waits (at most a minute) for something
// else to cancel the command there, such as a lost lease. KILL sends
// SIGKILL: nothing after that moment runs.
const signalEnv = "STATSNAP_TEST_SIGNAL_AT"

// signalAt is the Event hook of command (restore, backup) that signalEnv
// asks for, or nil.
func signalAt(command string) func(ctx context.Context, point string) {
	parts := strings.Split(os.Getenv(signalEnv), ":")
	if len(parts) != 3 || parts[0] != command {
		return nil
	}
	sig := syscall.SIGINT
	if parts[2] == "TERM" {
		sig = syscall.SIGTERM
	}
	return func(ctx context.Context, point string) {
		if point != parts[1] {
			return
		}
		if parts[2] == "KILL" {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		limit := 30 * time.Second
		if parts[2] == "WAIT" {
			limit = time.Minute
		} else {
			_ = syscall.Kill(os.Getpid(), sig)
		}
		select {
		case <-ctx.Done():
		case <-time.After(limit):
		}
	}
}
