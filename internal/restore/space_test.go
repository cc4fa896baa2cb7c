package restore

import "testing"

// TestMemoryLimitCoversRowGroups: ordinary row groups load under
// MemoryLimit; one whose pages decompress to more than a quarter of it
// lifts the limit to four times its size (two rows of 1 GiB strings need
// more than 6 GB of DuckDB).
func TestMemoryLimitCoversRowGroups(t *testing.T) {
	for _, c := range []struct {
		rowGroup int64
		want     string
	}{
		{0, MemoryLimit},
		{64 << 20, MemoryLimit},
		{512 << 20, MemoryLimit},
		{512<<20 + 1, "2049MiB"},
		{2<<30 + 40, "8193MiB"},
	} {
		if got := memoryLimit(c.rowGroup); got != c.want {
			t.Errorf("memoryLimit(%d) = %s, want %s", c.rowGroup, got, c.want)
		}
	}
}
