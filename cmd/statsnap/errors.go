package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"syscall"

	"github.com/openspartan/statsnap/internal/backup"
	"github.com/openspartan/statsnap/internal/duckdb/dbfile"
	"github.com/openspartan/statsnap/internal/restore"
	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/snapshot"
	"github.com/openspartan/statsnap/verify"
)

// This file is statsnap's one table from errors to what the user is told
// and the exit code: the packages return typed and sentinel errors, the
// commands add what they were doing (opError), and describe decides, in
// one switch, the code, the kind, the sentence and the hint. run prints
// the result once: a line on stderr, and under --json the error member of
// the one document on stdout.

// Exit codes of SPEC.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitIntegrity   = 3
	exitInterrupted = 130
)

// Kinds of failure, the "kind" of the JSON error member: a script's way
// to tell failures apart without reading the message.
const (
	kindError       = "error"       // any other operational failure
	kindUsage       = "usage"       // bad flags or arguments
	kindIntegrity   = "integrity"   // a snapshot did not verify or authenticate
	kindInterrupted = "interrupted" // Ctrl-C or SIGTERM
	kindLocked      = "locked"      // another statsnap process holds the folder's lock
	kindDBLocked    = "db_locked"   // another process holds the database
	kindNotFound    = "not_found"   // no such database, folder or snapshot
	kindNoSpace     = "no_space"    // the disk is full
	kindReadOnly    = "read_only"   // a read-only file system
	kindPermission  = "permission"  // permission denied
)

// failure is what describe makes of an error.
type failure struct {
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Hint     string `json:"hint"`
}

// line is the failure as one line of human text.
func (f failure) line() string {
	if f.Hint == "" {
		return f.Message
	}
	return f.Message + "; " + f.Hint
}

// codedError is an error with its exit code and kind decided where it is
// made: a usage error, or an integrity verdict.
type codedError struct {
	code int
	kind string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &codedError{exitUsage, kindUsage, fmt.Errorf(format, a...)}
}

func integrityErr(format string, a ...any) error {
	return &codedError{exitIntegrity, kindIntegrity, fmt.Errorf(format, a...)}
}

// hintError carries what to do about err.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + "; " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// notExistError is a sentence of ours saying something does not exist.
type notExistError struct{ msg string }

func (e *notExistError) Error() string { return e.msg }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// notExist says, in our words, that something does not exist.
func notExist(format string, a ...any) error { return &notExistError{fmt.Sprintf(format, a...)} }

// withHint attaches what the user should do to err.
func withHint(err error, hint string) error { return &hintError{err, hint} }

// opError says what a command was doing when err happened, and where, so
// that the table can say it in one sentence.
type opError struct {
	op     string // what failed, after "cannot ": "back up Chocoboflor", "restore"
	verb   string // the command, for "run the backup again"
	folder string // the backup folder worked on (for the lock)
	source string // the database read, when it may be missing
	disk   string // what the command writes to (for a full or read-only disk)
	place  string // the flag that chooses where it writes: "--output", "--db"
	safe   string // what a failure leaves untouched, as part of a hint
	err    error
}

func (e *opError) Error() string { return describe(e).line() }
func (e *opError) Unwrap() error { return e.err }

// reportError is a failure whose command has a document of its own to
// print (partial results): under --json it gets the error member. shown
// says the human report already said it all, so no line is added.
type reportError struct {
	doc   any
	err   error
	shown bool
}

func (e *reportError) Error() string { return e.err.Error() }
func (e *reportError) Unwrap() error { return e.err }

// withReport makes err the failure of a command whose document is doc.
func withReport(doc any, err error, shown bool) error { return &reportError{doc, err, shown} }

// interruptedError is an interruption whose consequence the command
// knows better than "nothing was changed".
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return context.Canceled }

// lockLostError is a command stopped because a folder's lock was lost
// mid-run (storage.ErrLockLost); err is what the stopped command returned.
type lockLostError struct{ lost, err error }

func (e *lockLostError) Error() string { return e.lost.Error() }
func (e *lockLostError) Unwrap() error { return e.err }

// describe is the table.
func describe(err error) failure {
	var op opError
	if o := new(opError); errors.As(err, &o) {
		op = *o
	}
	cannot := func(msg string) string {
		if op.op == "" || strings.HasPrefix(msg, "cannot ") {
			return msg
		}
		return "cannot " + op.op + ": " + msg
	}
	inner := err
	if op.err != nil {
		inner = op.err
	}
	f := failure{ExitCode: exitError, Kind: kindError}
	var (
		ce *codedError
		he *hintError
		ir *interruptedError
		ie *restore.IntegrityError
		ue *restore.UnknownTablesError
		me *restore.MissingDependenciesError
		le *dbfile.LockedError
		uc *backup.UncarriableError
		fk *backup.ForeignKeyError
	)
	var ll *lockLostError
	switch {
	case errors.As(err, &ll):
		// Not an interruption by the user: exit 1, with what the stop left.
		left := "nothing was changed (any partial work was removed)"
		if errors.As(err, &ir) {
			left = strings.TrimPrefix(ir.msg, "interrupted; ")
		}
		f.Kind, f.Message = kindLocked, ll.lost.Error()+"; the command stopped: "+left
		f.Hint = "make sure one machine at a time runs statsnap on this folder and that the store stays reachable, then run it again"
		return f
	case errors.As(err, &ir):
		f.ExitCode, f.Kind, f.Message = exitInterrupted, kindInterrupted, ir.msg
	case errors.Is(err, context.Canceled):
		f.ExitCode, f.Kind = exitInterrupted, kindInterrupted
		f.Message = "interrupted; nothing was changed (any partial work was removed)"
	case errors.As(err, &ce):
		f.ExitCode, f.Kind, f.Message = ce.code, ce.kind, ce.err.Error()
	case errors.As(err, &ie):
		f.ExitCode, f.Kind, f.Message = exitIntegrity, kindIntegrity, cannot(ie.Error())
		for _, p := range ie.Problems {
			if p.Kind == verify.KindUnverifiable || p.Kind == verify.KindUnauthenticated {
				f.Hint = "pass --allow-unverified to restore it anyway (every file is then fully decoded first)"
				break
			}
		}
	case errors.As(err, &ue):
		f.ExitCode, f.Kind, f.Message = exitUsage, kindUsage, "--tables: "+ue.Error()
		for _, u := range ue.Unknown {
			if dym := didYouMean(u, ue.Available); dym != "" {
				f.Hint = joinHints(f.Hint, strings.TrimPrefix(dym, "; ")+" (for "+u+")")
			}
		}
	case errors.As(err, &uc):
		f.Message = cannot(uc.Error())
		f.Hint = joinHints(op.safe, "to back up everything else, run the backup again with --skip-table "+strconv.Quote(uc.Table)+
			" (the snapshot then records the table as skipped)")
	case errors.As(err, &fk):
		f.Message = cannot(fk.Error())
		f.Hint = op.safe
	case errors.Is(err, backup.ErrNoSuchSkip):
		f.ExitCode, f.Kind, f.Message = exitUsage, kindUsage, "--skip-table: "+inner.Error()
	case errors.As(err, &me):
		f.ExitCode, f.Kind, f.Message = exitUsage, kindUsage, cannot(me.Error())
	case errors.Is(err, restore.ErrStorageVersionExisting):
		f.ExitCode, f.Kind, f.Message = exitUsage, kindUsage, cannot(inner.Error())
	case errors.Is(err, storage.ErrLocked):
		who := ""
		if lh := new(lockHeldError); errors.As(err, &lh) {
			who = " (" + lh.holder + ")"
		}
		f.Kind = kindLocked
		f.Message = cannot("another statsnap process" + who + " is working on " + op.folder)
		f.Hint = "wait for it or pass --lock-wait 5m"
	case errors.As(err, &le):
		f.Kind, f.Message = kindDBLocked, cannot(le.Error())
		f.Hint = joinHints("close OpenSpartan Graph (or whatever holds it) and run the "+op.verb+" again", op.safe)
	case errors.Is(err, dbfile.ErrNotDuckDB):
		f.Message = cannot(inner.Error())
		f.Hint = "check --db: statsnap backs up DuckDB database files, such as data/players/{gamertag}/stats.duckdb"
	case errors.Is(err, backup.ErrSourceMissing):
		f.Kind, f.Message = kindNotFound, cannot("no database at "+op.source)
		f.Hint = "check --data-dir or --db (statsnap players lists what is there)"
	case errors.Is(err, storage.ErrNoSpace) || errors.Is(err, syscall.ENOSPC):
		f.Kind, f.Message = kindNoSpace, cannot("the disk holding "+op.disk+" is full")
		f.Hint = joinHints(op.safe, "free space or choose another "+op.place)
	case errors.Is(err, storage.ErrReadOnly) || errors.Is(err, syscall.EROFS):
		f.Kind, f.Message = kindReadOnly, cannot(op.disk+" is on a read-only file system")
		f.Hint = "choose a writable " + op.place
	case errors.Is(err, storage.ErrUnsupported):
		f.Message = cannot(inner.Error())
		f.Hint = "use a store that honours conditional writes (If-None-Match), such as AWS S3, MinIO, GCS or Azure"
	case errors.Is(err, fs.ErrPermission):
		f.Kind, f.Message = kindPermission, cannot(fmt.Sprintf("permission denied (%v)", inner))
		f.Hint = "run statsnap as a user who may read the database and write the backup folder"
	case errors.Is(err, snapshot.ErrNoSnapshot):
		f.Kind, f.Message = kindNotFound, cannot(inner.Error())
		f.Hint = "check --backup and --snapshot ('statsnap snapshots' lists them)"
		if nse := new(snapshot.NoSnapshotError); errors.As(err, &nse) {
			if dym := didYouMean(nse.ID, nse.Have); dym != "" {
				f.Hint = strings.TrimPrefix(dym, "; ") + " Otherwise " + f.Hint
			}
		}
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, dbfile.ErrNotExist):
		f.Kind, f.Message = kindNotFound, cannot(inner.Error())
	default:
		f.Message = cannot(inner.Error())
		f.Hint = op.safe
	}
	// A hint the command attached says best what to do.
	if errors.As(err, &he) {
		if f.Kind == kindError || f.Kind == kindNotFound || f.Kind == kindUsage || f.Kind == kindIntegrity {
			f.Message = strings.TrimSuffix(f.Message, "; "+he.hint)
			f.Hint = he.hint
		}
	}
	return f
}

func joinHints(hints ...string) string {
	var out []string
	for _, h := range hints {
		if h != "" {
			out = append(out, h)
		}
	}
	return strings.Join(out, "; ")
}

// report prints err once, as the table describes it, and returns the exit
// code: a line on stderr (unless the human report already said it), and
// under --json one document on stdout with the error member, beside the
// command's own fields when it has some.
func report(err error, asJSON bool, stdout, stderr io.Writer) int {
	f := describe(err)
	var re *reportError
	hasDoc := errors.As(err, &re)
	if asJSON {
		doc := map[string]any{}
		if hasDoc {
			// The command's fields as they marshal, numbers kept exact.
			if b, merr := json.Marshal(re.doc); merr == nil {
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.UseNumber()
				if dec.Decode(&doc) != nil {
					doc = map[string]any{} // the error member alone, then
				}
			}
		}
		doc["error"] = f
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		// Nowhere is left to report a failure to write stdout.
		_ = enc.Encode(doc)
	}
	if !hasDoc || !re.shown {
		fmt.Fprintf(stderr, "statsnap: %s\n", f.line())
	}
	return f.ExitCode
}
