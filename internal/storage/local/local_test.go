package local_test

import (
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) storage.Root { return local.OpenRoot(dir) }
	}, storagetest.Options{})
}
