package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openspartan/statsnap/internal/diff"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/duckdb/sqlq"
	"github.com/openspartan/statsnap/internal/fsutil"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

type diffOptions struct {
	Backup          string
	DB              string
	Gamertag        string
	Rows            string
	Limit           int
	AllowUnverified bool
}

// diffJSON is diff's document.
type diffJSON struct {
	Backup string `json:"backup"`
	*diff.Report
	Rows     *diff.RowsReport `json:"rows,omitempty"`
	Warnings []verify.Problem `json:"warnings"`
}

func newDiffCmd(g *globals) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff --backup DIR A [B] [--db PATH | --gamertag G] [--rows TABLE [--limit N]]",
		Short: "What changed between two snapshots, or a snapshot and the live database",
		Long: `diff compares snapshot A with snapshot B of one player folder (or, given only
A and --db PATH or --gamertag G, with the live database) and lists the tables
added, removed and changed, with their row counts before and after, whether
only their DDL changed, and the other objects (schemas, types, sequences,
indexes, views, macros, comments) that differ. A and B are snapshot ids, or
"latest" for the newest snapshot.

The answer comes from the manifests, reading no data: a table is unchanged when
both sides record the same fingerprint over every value of every row (or name
files with the same BLAKE3 hashes), changed when the fingerprints or the row
counts differ. A snapshot without fingerprints (made by an older statsnap or by
the seed's script) whose row counts agree with the other side's is "unknown":
--rows TABLE then tells. The manifests' checksums (and MACs, given a key) are
checked first.

--rows TABLE prints the rows that differ in one table: DuckDB's EXCEPT ALL both
ways over the two sides' rows, decoded through the manifest's column encodings,
as added (in B, not in A) and removed (in A, not in B) rows; the counts are
complete and at most --limit rows are listed each way. The table's files are
verified (BLAKE3) and copied to a private temporary folder first, and only
those copies are read. A table whose rows were renumbered without changing
(DELETE then re-INSERT, VACUUM) shows as changed with no row listed.

Finding differences is not an error: diff exits 0 whether or not the sides
differ, as restic's diff does.` + exitStatus(
			"0 the comparison ran (whether or not anything differs)",
			"1 diff could not run (a missing folder or snapshot, a locked database, I/O)",
			exitLineUsage,
			"3 a snapshot does not verify or authenticate; none of its data was read",
			exitLineInterrupted),
		Example: `  statsnap diff --backup data/backups/Chocoboflor 20261101_030000 20261108_030000
  statsnap diff --backup data/backups/Chocoboflor 20261101_030000 latest --json
  statsnap diff --gamertag Chocoboflor latest
  statsnap diff --backup data/backups/JGtm 20261101_030000 --db ./copy.duckdb
  statsnap diff --backup data/backups/Chocoboflor 20261101_030000 latest --rows match_stats --limit 20`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error { return runDiff(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Backup, "backup", "", "the player's backup folder (default with --gamertag: {--output}/{gamertag})")
	f.StringVar(&o.DB, "db", "", "compare snapshot A with this DuckDB file (opened read-only)")
	f.StringVar(&o.Gamertag, "gamertag", "", "compare snapshot A with data/players/{gamertag}/stats.duckdb")
	f.StringVar(&o.Rows, "rows", "", "print the rows that differ in this `TABLE` (its manifest key, schema.name outside main)")
	f.IntVar(&o.Limit, "limit", 100, "with --rows, the most rows listed each way")
	f.BoolVar(&o.AllowUnverified, "allow-unverified", false, "accept, with a warning, a snapshot the key does not authenticate, and with --rows a seed-made one (its files are then fully decoded first)")
	// A and B complete to the folder's snapshot ids, --rows to the tables
	// of either.
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) >= 2 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ids := []string{"latest"}
		for _, s := range completionSnapshots(cmd, g) {
			ids = append(ids, s.ID)
		}
		return withPrefix(ids, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("rows", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		seen := map[string]bool{}
		var out []string
		for _, s := range completionSnapshots(cmd, g) {
			if s.Manifest == nil || !containsID(args, s.ID) {
				continue
			}
			for name := range s.Manifest.Tables {
				if !seen[name] && strings.HasPrefix(name, toComplete) {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// containsID reports whether the snapshot arguments name id ("latest"
// names every snapshot here: completion only suggests).
func containsID(args []string, id string) bool {
	for _, a := range args {
		if a == id || a == "latest" {
			return true
		}
	}
	return len(args) == 0
}

// diffSide is one side being compared.
type diffSide struct {
	label string
	info  snapshot.Info // zero for the live database
	side  diff.Side
}

func runDiff(cmd *cobra.Command, g *globals, o diffOptions, args []string) error {
	ctx := cmd.Context()
	if o.Gamertag != "" {
		if err := checkGamertag(o.Gamertag); err != nil {
			return err
		}
	}
	if o.Backup == "" && o.Gamertag != "" {
		o.Backup = g.playerFolder(o.Gamertag)
	}
	if o.Backup == "" {
		return usageErr("diff needs --backup DIR, the player's backup folder (e.g. data/backups/%s), or --gamertag G to read {--output}/G", orDefault(o.Gamertag, "GAMERTAG"))
	}
	live := ""
	switch {
	case o.DB != "":
		live = o.DB
	case o.Gamertag != "" && len(args) == 1:
		live = g.playerDB(o.Gamertag)
	}
	if len(args) == 2 && o.DB != "" {
		return usageErr("give two snapshots, or one snapshot and --db, not both")
	}
	if len(args) == 1 && live == "" {
		return usageErr("diff needs two snapshots A B, or one snapshot and --db PATH or --gamertag G to compare it with the live database")
	}
	for _, id := range args {
		if id == "latest" {
			continue
		}
		if err := snapshot.CheckID(id); err != nil {
			return usageErr("snapshot %q: %v (or \"latest\")", id, err)
		}
	}
	if cmd.Flags().Changed("limit") && o.Rows == "" {
		return usageErr("--limit bounds the rows --rows TABLE lists; give --rows")
	}
	if o.Limit < 1 || o.Limit > 1_000_000 {
		return usageErr("--limit must be between 1 and 1000000, got %d", o.Limit)
	}
	if o.Rows != "" {
		if err := sqlq.Check(o.Rows); err != nil {
			return usageErr("--rows %q: %v", o.Rows, err)
		}
	}
	key, err := g.key()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &opError{op: "diff", verb: "diff", folder: o.Backup, source: live, err: err}
	}

	rf, err := openReadFolder(ctx, g, o.Backup)
	if err != nil {
		return fail(err)
	}
	defer rf.done()
	folder, entries, all := rf.Folder, rf.entries, rf.snaps
	var sides []*diffSide
	for _, id := range args {
		info, err := findForDiff(all, id, o.Backup)
		if err != nil {
			return fail(err)
		}
		sides = append(sides, &diffSide{label: info.ID, info: info})
	}

	scratch, err := fsutil.NewScratch("", "diff")
	if err != nil {
		return fail(fmt.Errorf("create a temporary folder: %w", err))
	}
	defer func() { _ = scratch.Remove() }()
	work := scratch.Dir

	// Every snapshot side: its manifest is checked, and with --rows the
	// table's files are verified into private copies.
	vopt := verify.Options{Key: key, AllowUnverified: o.AllowUnverified || o.Rows == ""}
	doc := diffJSON{Backup: o.Backup, Warnings: []verify.Problem{}}
	paths := map[string][]string{}
	// With --rows between two snapshots, the files both hold (the same
	// bytes) hold the same rows: only the others are verified and read.
	parts := map[int][]snapshot.Part{}
	shared := 0
	if o.Rows != "" && len(sides) == 2 && sides[0].info.Manifest != nil && sides[1].info.Manifest != nil {
		ta, inA := sides[0].info.Manifest.Tables[o.Rows]
		tb, inB := sides[1].info.Manifest.Tables[o.Rows]
		if inA && inB {
			parts[0], parts[1], shared = diff.SharedParts(ta, tb)
		}
	}
	for i, s := range sides {
		var keys []string
		chosen := map[string][]snapshot.Part{}
		if o.Rows != "" && s.info.Manifest != nil {
			if t, ok := s.info.Manifest.Tables[o.Rows]; ok {
				ps, narrowed := parts[i]
				if !narrowed {
					ps = t.DataFiles()
				}
				if len(ps) > 0 {
					keys, chosen[o.Rows] = []string{o.Rows}, ps
				}
			}
		}
		dir := fmt.Sprintf("%s/%c", work, 'a'+i)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fail(err)
		}
		p, res, err := diff.CheckParts(ctx, folder, s.info, entries, keys, chosen, dir, vopt)
		doc.Warnings = append(doc.Warnings, res.Warnings...)
		if err == nil && !o.AllowUnverified {
			err = refuseForged(s.info.ID, res)
		}
		if err != nil {
			var ie *diff.IntegrityError
			if errors.As(err, &ie) {
				return diffIntegrity(ie, o)
			}
			return fail(err)
		}
		paths[s.label] = p[o.Rows]
		s.side = diff.Side{Label: s.label, Manifest: s.info.Manifest.Manifest}
	}

	if live != "" {
		ls, rows, err := diffLive(ctx, o, live, work, sides[0], paths[sides[0].label])
		if err != nil {
			return fail(err)
		}
		sides = append(sides, ls)
		doc.Rows = rows
	}
	doc.Report = diff.Compare(sides[0].side, sides[1].side)
	if o.Rows != "" && live == "" {
		if doc.Rows, err = diffSnapshotRows(ctx, o, work, sides, paths); err != nil {
			return fail(err)
		}
		doc.Rows.SharedFiles = shared
	}
	if g.JSON {
		return g.printJSON(doc)
	}
	printDiff(g.out(), doc, o)
	return nil
}

// findForDiff picks a snapshot by id ("latest": the newest that has a
// manifest).
func findForDiff(all []snapshot.Info, id, folder string) (snapshot.Info, error) {
	if id == "latest" {
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Manifest != nil {
				return all[i], nil
			}
		}
		return snapshot.Info{}, fmt.Errorf("%w: %s holds no snapshot with a manifest", snapshot.ErrNoSnapshot, folder)
	}
	info, err := snapshot.Find(all, id)
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("%w in %s%s", err, folder, available(all))
	}
	return info, nil
}

// refuseForged refuses a statsnap manifest whose MAC a given key does not
// confirm (wrong, or missing): comparing manifests needs no file, but the
// fingerprints and hashes compared are only as good as the manifest. A
// seed-made manifest never has a MAC and stays a warning.
func refuseForged(id string, res verify.Result) error {
	if res.MAC != verify.MACFailed {
		return nil
	}
	var ps []verify.Problem
	for _, p := range res.Warnings {
		if p.Kind == verify.KindUnauthenticated {
			ps = append(ps, p)
		}
	}
	return &diff.IntegrityError{Snapshot: id, Problems: ps}
}

func diffIntegrity(ie *diff.IntegrityError, o diffOptions) error {
	err := integrityErr("%v", ie)
	for _, p := range ie.Problems {
		if p.Kind == verify.KindUnverifiable || p.Kind == verify.KindUnauthenticated {
			return withHint(err, "pass --allow-unverified to read it anyway (its files are then fully decoded first)")
		}
	}
	return withHint(err, "run 'statsnap verify --backup "+o.Backup+" --snapshot "+ie.Snapshot+"' for every problem")
}

// diffLive reads the live database as the second side and, with --rows,
// compares the table's rows with snapshot a's verified copies.
func diffLive(ctx context.Context, o diffOptions, path, work string, a *diffSide, aPaths []string) (*diffSide, *diff.RowsReport, error) {
	db, err := dbfile.OpenWith(ctx, path, dbfile.Options{ReadOnly: true, TempDir: work + "/spill"})
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, dbfile.Classify(path, err)
	}
	defer conn.Close()
	m, err := diff.ReadLive(ctx, conn, liveFingerprint)
	if err != nil {
		return nil, nil, err
	}
	side := &diffSide{label: "live", side: diff.Side{Label: "live", Manifest: m, Live: true}}
	if o.Rows == "" {
		return side, nil, nil
	}
	ta, inA := a.info.Manifest.Tables[o.Rows]
	tb, inB := m.Tables[o.Rows]
	ra, rb := diff.Relation{Label: a.label}, diff.Relation{Label: "live"}
	if inA {
		if ra, err = diff.FilesRelation(a.label, ta, aPaths); err != nil {
			return nil, nil, err
		}
	}
	if inB {
		if rb, err = diff.LiveRelation(tb); err != nil {
			return nil, nil, err
		}
	}
	if ra, rb, err = bothSides(o.Rows, ra, inA, rb, inB); err != nil {
		return nil, nil, err
	}
	if err := dbfile.Confine(ctx, conn, work); err != nil {
		return nil, nil, err
	}
	rep, err := diff.Rows(ctx, conn, o.Rows, ra, rb, diff.RowsOptions{Limit: o.Limit})
	return side, rep, err
}

// diffSnapshotRows compares a table's rows between two snapshots' verified
// copies, in an in-memory DuckDB confined to them.
func diffSnapshotRows(ctx context.Context, o diffOptions, work string, sides []*diffSide, paths map[string][]string) (*diff.RowsReport, error) {
	a, b := sides[0], sides[1]
	ta, inA := a.info.Manifest.Tables[o.Rows]
	tb, inB := b.info.Manifest.Tables[o.Rows]
	ra, rb := diff.Relation{Label: a.label}, diff.Relation{Label: b.label}
	var err error
	// A side whose every file the other also holds reads no file: it is
	// the other's columns with no row.
	readA, readB := inA && len(paths[a.label]) > 0, inB && len(paths[b.label]) > 0
	if !inA && !inB {
		return nil, usageErr("--rows %q: neither %s nor %s has that table", o.Rows, a.label, b.label)
	}
	if readA {
		if ra, err = diff.FilesRelation(a.label, ta, paths[a.label]); err != nil {
			return nil, err
		}
	}
	if readB {
		if rb, err = diff.FilesRelation(b.label, tb, paths[b.label]); err != nil {
			return nil, err
		}
	}
	if ra, rb, err = bothSides(o.Rows, ra, readA, rb, readB); err != nil {
		return nil, err
	}
	db, err := dbfile.OpenWith(ctx, "", dbfile.Options{TempDir: work + "/spill"})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := dbfile.Confine(ctx, conn, work); err != nil {
		return nil, err
	}
	return diff.Rows(ctx, conn, o.Rows, ra, rb, diff.RowsOptions{Limit: o.Limit})
}

// bothSides completes the two sides of --rows. A side that lacks the
// table reads as an empty relation of the other side's columns, so that
// every row of an added table is added and every row of a removed one
// removed.
func bothSides(table string, ra diff.Relation, inA bool, rb diff.Relation, inB bool) (diff.Relation, diff.Relation, error) {
	switch {
	case !inA && !inB:
		return ra, rb, usageErr("--rows %q: neither %s nor %s has that table", table, ra.Label, rb.Label)
	case !inA:
		ra.SQL = "SELECT * FROM (" + rb.SQL + ") WHERE false"
	case !inB:
		rb.SQL = "SELECT * FROM (" + ra.SQL + ") WHERE false"
	}
	return ra, rb, nil
}

// liveFingerprint computes a live table's fingerprint the way backup
// records it.
var liveFingerprint diff.Fingerprinter = diff.Fingerprint

// printDiff writes the human report.
func printDiff(w io.Writer, doc diffJSON, o diffOptions) {
	r := doc.Report
	fmt.Fprintf(w, "diff %s -> %s (%s)\n", r.A, r.B, o.Backup)
	counts := map[diff.Change]int{}
	width := 0
	for _, t := range r.Tables {
		width = max(width, len(t.Table))
	}
	for _, t := range r.Tables {
		counts[t.Change]++
		if o.Rows != "" && t.Table != o.Rows {
			continue
		}
		fmt.Fprintf(w, "  %-9s %-*s  %s\n", t.Change, width, printable(t.Table), tableLine(t))
	}
	for _, p := range doc.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", problemSentence(p))
	}
	if o.Rows == "" {
		for _, d := range r.Objects {
			fmt.Fprintf(w, "  %-9s %s\n", d.Change, objectLine(d))
		}
		var parts []string
		for _, c := range []diff.Change{diff.Changed, diff.Added, diff.Removed, diff.Unknown} {
			if counts[c] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
			}
		}
		parts = append(parts, fmt.Sprintf("%d unchanged", len(r.Unchanged)))
		objs := plural(int64(len(r.Objects)), "object differs", "objects differ")
		fmt.Fprintf(w, "tables: %s; %s\n", strings.Join(parts, ", "), objs)
		if counts[diff.Unknown] > 0 {
			fmt.Fprintln(w, "unknown: the snapshots record no fingerprint and the row counts agree; --rows TABLE compares the rows")
		}
		return
	}
	if doc.Rows == nil {
		return
	}
	for _, u := range r.Unchanged {
		if u == o.Rows {
			fmt.Fprintf(w, "  %-9s %s\n", diff.Unchanged, printable(u))
		}
	}
	printRows(w, doc.Rows)
}

func tableLine(t diff.TableDiff) string {
	rows := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	word := func(p *int64) string {
		if p != nil && *p == 1 {
			return "row"
		}
		return "rows"
	}
	var b strings.Builder
	switch t.Change {
	case diff.Added:
		fmt.Fprintf(&b, "%s %s", rows(t.RowsAfter), word(t.RowsAfter))
	case diff.Removed:
		fmt.Fprintf(&b, "%s %s", rows(t.RowsBefore), word(t.RowsBefore))
	default:
		if t.RowsDelta != 0 {
			fmt.Fprintf(&b, "%s -> %s %s (%+d)", rows(t.RowsBefore), rows(t.RowsAfter), word(t.RowsAfter), t.RowsDelta)
		} else {
			fmt.Fprintf(&b, "%s %s", rows(t.RowsAfter), word(t.RowsAfter))
		}
	}
	switch {
	case t.SchemaOnly:
		b.WriteString(", only the DDL changed (rows proven the same)")
	case t.SchemaChanged:
		b.WriteString(", DDL changed")
	}
	if len(t.Columns) > 0 {
		b.WriteString(" [columns " + printableList(t.Columns) + "]")
	}
	switch {
	case t.Change == diff.Added || t.Change == diff.Removed:
	case t.Data == diff.DataChanged && t.Basis == diff.BasisFingerprint && t.RowsDelta == 0:
		// The fingerprint covers each row's rowid: rows that only moved
		// (deleted and inserted again, or compacted) change it too.
		b.WriteString(", values or row order changed (fingerprint): --rows " + printable(t.Table) + " lists the rows that differ")
	case t.Data == diff.DataUnknown:
		b.WriteString(", rows not compared: use --rows " + printable(t.Table))
	}
	return b.String()
}

func objectLine(d diff.ObjectDiff) string {
	name := d.Name
	if d.Schema != "" && d.Kind != "schema" {
		name = d.Schema + "." + d.Name
	}
	s := printable(d.Kind) + " " + printable(name)
	if d.Kind == "index" && d.Table != "" {
		s += " on " + printable(d.Table)
	}
	if d.Kind == "sequence" && d.Change == diff.Changed && d.NextBefore != nil && d.NextAfter != nil && *d.NextBefore != *d.NextAfter {
		// A sequence's DDL records its next value as START: only a change
		// beyond it is a change of definition.
		s += fmt.Sprintf(": next value %d -> %d", *d.NextBefore, *d.NextAfter)
		if seqStart.ReplaceAllString(d.SQLBefore, "") != seqStart.ReplaceAllString(d.SQLAfter, "") {
			s += ", DDL changed"
		}
		return s
	}
	if d.Change == diff.Changed {
		s += ": DDL changed"
	}
	return s
}

// seqStart is the START clause of a sequence's DDL as the catalog renders
// it.
var seqStart = regexp.MustCompile(`\bSTART (WITH )?-?\d+\b`)

func printRows(w io.Writer, r *diff.RowsReport) {
	fmt.Fprintf(w, "rows of %s: %d added, %d removed\n", printable(r.Table), r.AddedCount, r.RemovedCount)
	fmt.Fprintf(w, "  columns: %s\n", printableList(r.Columns))
	if len(r.AsText) > 0 {
		fmt.Fprintf(w, "  compared as text (their types differ): %s\n", printableList(r.AsText))
	}
	if len(r.OnlyA) > 0 {
		fmt.Fprintf(w, "  only in A, not compared: %s\n", printableList(r.OnlyA))
	}
	if len(r.OnlyB) > 0 {
		fmt.Fprintf(w, "  only in B, not compared: %s\n", printableList(r.OnlyB))
	}
	for _, way := range []struct {
		mark string
		rows [][]*string
	}{{"+", r.Added}, {"-", r.Removed}} {
		for _, row := range way.rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = "NULL"
				if v != nil {
					vals[i] = printable(*v)
				}
			}
			fmt.Fprintf(w, "%s %s\n", way.mark, strings.Join(vals, " | "))
		}
	}
	if r.Truncated {
		fmt.Fprintf(w, "(at most %d rows listed each way; --limit N lists more)\n", r.Limit)
	}
}

func printableList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = printable(n)
	}
	return strings.Join(out, ", ")
}
