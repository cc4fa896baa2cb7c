package mem_test

import (
	"testing"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/mem"
	"github.com/openspartan/statsnap/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Opener {
		s := mem.NewStore()
		return func(t *testing.T) storage.Root {
			r, err := s.Root("backups")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}, storagetest.Options{})
}
