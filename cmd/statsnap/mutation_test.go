package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/openspartan/statsnap/internal/testutil"
)

// boundedRun is one run of the binary under an outside watch: its exit
// code, its peak resident memory (from the kernel's rusage) and whether
// it ended by itself within the limit.
type boundedRun struct {
	result
	maxRSS int64 // bytes
	ended  bool
}

// hangLimit is how long a watched run may take before it counts as hung.
// It detects hangs, not slowness: each run takes seconds, but CI shares
// two cores with the whole suite, and a three-minute limit was once hit
// there by a run that was merely starved.
const hangLimit = 10 * time.Minute

func runWatched(t *testing.T, dir string, limit time.Duration, args ...string) boundedRun {
	t.Helper()
	// The child's rusage peak starts at this process's own peak: Go
	// starts it sharing this address space (CLONE_VM), and Linux carries
	// that space's high-water mark into the child at exec. Resetting the
	// mark to the current size keeps an earlier test's peak (a 300 MiB
	// value restored in-process) from being counted as the child's.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	r, ended, ps := runProcess(t, binPath, dir, nil, limit, args...)
	br := boundedRun{result: r, ended: ended}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		br.maxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return br
}

// mutate returns a damaged copy of b: a few kinds of damage a forger or a
// bad disk makes, anywhere in the file (data pages, page headers, the
// footer), chosen by r.
func mutate(r *rand.Rand, b []byte) ([]byte, string) {
	out := append([]byte(nil), b...)
	n := len(out)
	switch k := r.IntN(6); k {
	case 0: // a few flipped bytes anywhere
		for i := 0; i < 1+r.IntN(4); i++ {
			out[r.IntN(n)] ^= byte(1 + r.IntN(255))
		}
		return out, "flip"
	case 1: // a run of 0xff (varints that never end, huge sizes)
		at, l := r.IntN(n), 1+r.IntN(16)
		for i := at; i < at+l && i < n; i++ {
			out[i] = 0xff
		}
		return out, "ff-run"
	case 2: // the footer damaged
		at := n - 8 - 1 - r.IntN(min(n-9, 400))
		out[at] ^= byte(1 + r.IntN(255))
		return out, "footer"
	case 3: // a slice of the file repeated (pages twice)
		at := 4 + r.IntN(n/2)
		l := 1 + r.IntN(min(4096, n-at-8))
		out = append(out[:at:at], append(append([]byte(nil), b[at:at+l]...), b[at:]...)...)
		return out, "dup"
	case 4: // bytes cut out of the middle
		at := 4 + r.IntN(n/2)
		l := 1 + r.IntN(min(512, n-at-12))
		out = append(out[:at:at], b[at+l:]...)
		return out, "cut"
	default: // a byte set to a boundary value
		out[r.IntN(n)] = []byte{0, 0x7f, 0x80, 0xff}[r.IntN(4)]
		return out, "edge"
	}
}

// TestForgedFilesBounded feeds verify --deep and restore snapshot files
// damaged at random, with the hash, size and manifest checksum recomputed
// (a forger without the key, or a corrupt write before hashing). Watched
// from outside: every run ends within its limit, stays under a memory
// bound, exits 0 or 3 (an undecodable file is an integrity failure, never
// an operational one or a crash), and a restore never imports what
// verify --deep rejects; a refused restore creates no target.
func TestForgedFilesBounded(t *testing.T) {
	runs := 24
	if testing.Short() {
		runs = 6
	}
	const memBound = 1536 << 20
	fx := vShared(t)
	r := rand.New(rand.NewPCG(16, 2026))
	tables := []string{"highlight_events", "match_stats", "medals_earned"}
	for i := 0; i < runs; i++ {
		key := tables[i%len(tables)]
		work, folder := fx.clone(t)
		p := fx.file(folder, key)
		data, kind := mutate(r, vReadFile(t, p))
		vWrite(t, p, data)
		vEditManifest(t, folder, fx.id, func(m string) string {
			m = vSetTableField(t, m, key, "blake3", strconv.Quote(testutil.BLAKE3(data)))
			return vSetTableField(t, m, key, "file_size_bytes", strconv.Itoa(len(data)))
		})
		vReseal(t, folder, fx.id)
		name := fmt.Sprintf("%d-%s-%s", i, key, kind)

		v := runWatched(t, work, hangLimit, "verify", "--backup", folder, "--deep", "--json")
		target := filepath.Join(work, "target.duckdb")
		rs := runWatched(t, work, hangLimit, "restore", "--db", target, "--backup", folder, "--json")
		for cmd, br := range map[string]boundedRun{"verify": v, "restore": rs} {
			if !br.ended {
				t.Errorf("%s: %s did not finish", name, cmd)
				continue
			}
			if br.maxRSS > memBound {
				t.Errorf("%s: %s peaked at %d MiB", name, cmd, br.maxRSS>>20)
			}
			if br.Code != 0 && br.Code != exitIntegrity {
				t.Errorf("%s: %s exit %d (want 0 or 3): %s", name, cmd, br.Code, br.Stderr)
			}
		}
		if v.Code == exitIntegrity && rs.Code == 0 {
			var doc vDoc
			jsonOut(t, v.result, &doc)
			var ps []string
			for _, s := range doc.Snapshots {
				for _, p := range s.Problems {
					ps = append(ps, p.Kind.String()+": "+p.Detail)
				}
			}
			t.Errorf("%s: restore imported a file verify --deep rejects: %q", name, ps)
		}
		if rs.Code != 0 {
			if _, err := os.Stat(target); err == nil {
				t.Errorf("%s: a refused restore left %s", name, target)
			}
		}
		t.Logf("%s: verify %d (%d MiB), restore %d (%d MiB)", name, v.Code, v.maxRSS>>20, rs.Code, rs.maxRSS>>20)
	}
}
