//go:build !faultinject

package main

import (
	"context"

	"github.com/openspartan/statsnap/internal/storage"
)

// faultFolder is f itself: the fault-injection hook exists only in a
// binary built with -tags faultinject (see fault_on.go).
func faultFolder(f storage.Folder) storage.Folder { return f }

// signalAt is nil: events are observed only by the faultinject build.
func signalAt(string) func(ctx context.Context, point string) { return nil }
