package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ledgerResult measures what the verification ledger costs: prune counts
// only snapshots that verify, and verify --max-age skips recently checked
// files. Both are set against `statsnap snapshots` over the same folder,
// which reads what a prune that ignored integrity read (every manifest,
// the listing) and nothing more: the blind prune of earlier releases.
type ledgerResult struct {
	Snapshots int
	Files     int
	List      *series // statsnap snapshots
	Prune     *series // prune --dry-run --keep-last 10, fresh ledger
	PruneCold *series // the same with --verify-max-age 0: every file hashed
	MaxAge    *series // verify --all --max-age 7d, everything recent
	Err       string
}

// scaleLedger fills a folder with 20 snapshots (one real backup, then
// clones), verifies them once so that the ledger is fresh, as after the
// README's weekly job, and times listing, prune and verify --max-age in
// alternation.
func (b *bench) scaleLedger(s *scaleResult) {
	const gamertag = "Ledger"
	const n = 20
	r := &ledgerResult{Snapshots: n}
	s.Ledger = r
	fail := func(err error) { r.Err = err.Error(); b.logf("ledger: %v", err) }
	if !b.hasCommand("verify", "max-age") || !b.hasCommand("prune", "verify-max-age") {
		fail(fmt.Errorf("this statsnap has no verification ledger (verify --max-age, prune --verify-max-age)"))
		return
	}
	b.logf("ledger: %d snapshots, fresh ledger", n)
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	root := filepath.Join(b.work, "run", "ledger")
	folder, files, err := b.snapshotFolder(ctx, root, gamertag, 200, n, 24*time.Hour)
	if err != nil {
		fail(err)
		return
	}
	r.Files = files
	// One full verify writes a record of every file: the ledger is fresh.
	if _, _, err := runOnce(ctx, b.statsnapCmd("verify", "--backup", folder, "--all", "--json")); err != nil {
		fail(fmt.Errorf("verify --all of the clones: %w", err))
		return
	}
	jobs := []job{
		{Name: "statsnap snapshots", Cmd: func() *exec.Cmd {
			return b.statsnapCmd("snapshots", "--gamertag", gamertag, "--output", root, "--json")
		}, Check: checkJSON},
		{Name: "statsnap prune --dry-run --keep-last 10 (fresh ledger)", Cmd: func() *exec.Cmd {
			return b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--dry-run", "--keep-last", "10", "--json")
		}, Check: checkPruneFromLedger(n - 10)},
		{Name: "statsnap verify --all --max-age 7d (everything recent)", Cmd: func() *exec.Cmd {
			return b.statsnapCmd("verify", "--backup", folder, "--all", "--max-age", "7d", "--json")
		}, Check: checkVerifyFromLedger(n)},
		{Name: "statsnap prune --dry-run --keep-last 10 --verify-max-age 0", Cmd: func() *exec.Cmd {
			return b.statsnapCmd("prune", "--gamertag", gamertag, "--output", root, "--dry-run", "--keep-last", "10", "--verify-max-age", "0", "--json")
		}, Check: checkPruneCount(n - 10)},
	}
	ss := b.group(jobs, b.opts.Reps)
	r.List, r.Prune, r.MaxAge, r.PruneCold = ss[0], ss[1], ss[2], ss[3]
}

// checkPruneFromLedger checks that prune removes want snapshots and took
// every verdict from the ledger (read no file).
func checkPruneFromLedger(want int) func([]byte) error {
	count := checkPruneCount(want)
	return func(out []byte) error {
		if err := count(out); err != nil {
			return err
		}
		var v struct {
			Groups []struct {
				Keep []struct {
					Verification struct {
						How string `json:"how"`
					} `json:"verification"`
				} `json:"keep"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return err
		}
		for _, g := range v.Groups {
			for _, k := range g.Keep {
				if k.Verification.How != "ledger" {
					return fmt.Errorf("prune verified a kept snapshot by %q, want the ledger", k.Verification.How)
				}
			}
		}
		return nil
	}
}

// checkVerifyFromLedger checks that verify vouched for want snapshots from
// the ledger without reading a file.
func checkVerifyFromLedger(want int) func([]byte) error {
	return func(out []byte) error {
		var v struct {
			OK        bool `json:"ok"`
			Snapshots []struct {
				Source string `json:"source"`
			} `json:"snapshots"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return err
		}
		if !v.OK || len(v.Snapshots) != want {
			return fmt.Errorf("verify: ok %v, %d snapshots, want %d", v.OK, len(v.Snapshots), want)
		}
		for _, s := range v.Snapshots {
			if s.Source != "ledger" {
				return fmt.Errorf("verify read files (source %q) although every check is recent", s.Source)
			}
		}
		return nil
	}
}

func (b *bench) ledgerReport(w *strings.Builder, r *ledgerResult) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("### The verification ledger: %d snapshots in one folder\n\n", r.Snapshots)
	if r.Err != "" {
		p("Could not be measured: %s\n\n", oneLine(r.Err))
		return
	}
	p("One real backup (`sample --matches 200`), %d clones a day apart (%d files), then one `verify --all` so that the ledger records a fresh check of every file, as after the README's weekly job. `statsnap snapshots` reads what a prune blind to integrity read (every manifest and the listing), so it stands for the blind prune of earlier releases. Commands run in alternation.\n\n",
		r.Snapshots-1, r.Files)
	p("| command | median | min–max | vs listing | target |\n|---|---|---|---|---|\n")
	for _, x := range []struct {
		s      *series
		target string
	}{{r.List, ""}, {r.Prune, "≤ 1.2×"}, {r.MaxAge, "≤ 1.1×"}, {r.PruneCold, ""}} {
		if x.s == nil {
			continue
		}
		if !x.s.ok() {
			p("| %s | failed: %s | | | |\n", x.s.Name, oneLine(x.s.Err))
			continue
		}
		ratio := ""
		if r.List != nil && r.List.ok() && r.List.Median() > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(x.s.Median())/float64(r.List.Median()))
		}
		p("| `%s` | %s | %s–%s | %s | %s |\n", x.s.Command, fmtDur(x.s.Median()), fmtDur(x.s.Min()), fmtDur(x.s.Max()), ratio, x.target)
	}
	p("\nThe last row reads and hashes every file of every snapshot (what prune does when the ledger is missing, ignored or too old).\n\n")
}
