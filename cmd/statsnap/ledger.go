package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// parseAge reads a maximum age such as "7d", "36h", "1d12h" or "90m":
// whole days (d) or weeks (w) followed by anything Go's time.ParseDuration
// reads. "0" means "no age is recent enough".
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := s
	for _, u := range []struct {
		suffix byte
		d      time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := strings.IndexByte(rest, u.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not an age (e.g. 7d, 36h, 1d12h)", s)
		}
		total += time.Duration(n) * u.d
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not an age (e.g. 7d, 36h, 1d12h)", s)
		}
		total += d
	}
	if total <= 0 && s != "" {
		return 0, fmt.Errorf("%q is not an age (e.g. 7d, 36h, 1d12h)", s)
	}
	return total, nil
}

// budgetValue is verify --budget: a size ("2GB", "500MiB"), a share of
// the data ("25%") or a duration ("30m", "1h", "1d").
type budgetValue struct {
	Bytes    int64
	Fraction float64 // of the data in the folder, 0 < f <= 1
	Duration time.Duration
}

var sizeUnits = []struct {
	suffix string
	n      float64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

func parseBudget(s string) (budgetValue, error) {
	bad := fmt.Errorf("--budget %q: want a size (2GB, 500MiB), a share of the data (25%%) or a duration (30m, 2h, 1d)", s)
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
		if err != nil || f <= 0 || f > 100 {
			return budgetValue{}, bad
		}
		return budgetValue{Fraction: f / 100}, nil
	}
	up := strings.ToUpper(t)
	for _, u := range sizeUnits {
		if strings.HasSuffix(up, u.suffix) {
			num := strings.TrimSpace(up[:len(up)-len(u.suffix)])
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f <= 0 || f*u.n > math.MaxInt64/2 {
				break
			}
			// "1M" and "30m": a capital M with a number is a size only
			// when written in capitals; "m" is minutes.
			if u.suffix == "M" && !strings.HasSuffix(t, "M") {
				break
			}
			return budgetValue{Bytes: int64(math.Ceil(f * u.n))}, nil
		}
	}
	if d, err := parseAge(t); err == nil && d > 0 {
		return budgetValue{Duration: d}, nil
	}
	return budgetValue{}, bad
}

// budgetFor turns the flag into a verify.Budget for a folder holding
// total bytes of data (a share needs the total), scaled by share for a
// run over several folders: each folder gets its part of a size or a
// duration in proportion to its data, so repeated runs cover every folder.
func (b budgetValue) budgetFor(total int64, share float64) verify.Budget {
	switch {
	case b.Fraction > 0:
		return verify.Budget{Bytes: max(1, int64(math.Ceil(b.Fraction*float64(total))))}
	case b.Bytes > 0:
		return verify.Budget{Bytes: max(1, int64(math.Ceil(float64(b.Bytes)*share)))}
	case b.Duration > 0:
		return verify.Budget{Duration: max(time.Second, time.Duration(float64(b.Duration)*share))}
	}
	return verify.Budget{}
}

// ledgerWarning is the sentence said when a stored ledger is ignored.
func ledgerWarning(dir string, err error) string {
	return fmt.Sprintf("warning: the verification ledger of %s is ignored (%v); every file is checked again and a new ledger is written", dir, err)
}

// saveChecks merges a run's checks into the folder's ledger. Failing to
// save costs only re-verification, so it is a warning, never a failure.
func saveChecks(ctx context.Context, g *globals, f storage.Folder, key []byte, snaps []snapshot.Info, delta *snapshot.Ledger, now time.Time) {
	saveChecksOnto(ctx, g, f, key, snaps, nil, delta, now)
}

// saveChecksOnto is saveChecks for a run that read the ledger at its
// start (base, from snapshot.PrefetchLedger): the save is then a
// compare-and-swap with what was read, one write when nobody else saved
// since, and a merge with their records when someone did.
func saveChecksOnto(ctx context.Context, g *globals, f storage.Folder, key []byte, snaps []snapshot.Info, base, delta *snapshot.Ledger, now time.Time) {
	if delta == nil {
		return
	}
	if err := snapshot.UpdateLedgerFrom(context.WithoutCancel(ctx), f, key, snaps, base, delta, now); err != nil {
		fmt.Fprintf(g.stderr, "warning: could not update the verification ledger of %s: %v; the next verify or prune only reads more\n", f.Location(), err)
	}
}

// ageText says how long ago t was, roughly ("3h ago", "2d ago").
func ageText(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// lastVerificationJSON is a snapshot's last verification in the ledger.
type lastVerificationJSON struct {
	Time     string   `json:"time"`
	Depth    string   `json:"depth"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

func lastVerification(l *snapshot.Ledger, id string) *lastVerificationJSON {
	if l == nil {
		return nil
	}
	c, ok := l.Snapshots[id]
	if !ok {
		return nil
	}
	return &lastVerificationJSON{Time: c.Checked.Format(time.RFC3339), Depth: c.Depth.String(), OK: c.OK, Problems: c.Problems}
}
