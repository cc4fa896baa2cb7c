package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gcblob "gocloud.dev/blob"

	"github.com/openspartan/statsnap/internal/storage"
)

// The lock of a player prefix on an object store is a set of lease
// objects, since no process can hold a kernel lock on a bucket:
//
//   - .statsnap.lock is the exclusive lease (backup, prune), created with
//     a conditional write, so that of two writers exactly one succeeds;
//   - .statsnap.lock.r-{id} are shared leases (verify, restore), one per
//     reader.
//
// A reader creates its lease, then looks for an exclusive one; a writer
// creates its lease, then looks for readers. Whichever comes second sees
// the other (the stores are strongly consistent for reads after writes
// and for listings) and backs off, so a writer and a reader never both
// proceed. Each lease says when it expires; its holder rewrites it every
// TTL/3 while the command runs. A lease whose holder died expires: the
// next process takes it over, so no lock stays stale after kill -9.
//
// Taking over an expired exclusive lease is itself a conditional create
// (.statsnap.lock.takeover-{id of the expired lease}): of two processes
// that find the same dead lease, only one may delete it.
const (
	sharedPrefix   = storage.LockName + ".r-"
	takeoverPrefix = storage.LockName + ".takeover-"
	probePrefix    = ".statsnap-probe-"
)

// leaseConfig is how long a lease lives without renewal.
type leaseConfig struct{ ttl time.Duration }

// defaultLease reads STATSNAP_LEASE_TTL (a Go duration, at least 2s):
// how long a dead process's lease blocks others. The default, 30s, keeps
// renewals cheap and takes a crashed run's lease back within a minute.
func defaultLease() leaseConfig {
	c := leaseConfig{ttl: 30 * time.Second}
	if v := os.Getenv("STATSNAP_LEASE_TTL"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 2*time.Second {
			c.ttl = d
		} else {
			slog.Warn("ignoring STATSNAP_LEASE_TTL: want a duration of at least 2s", "value", v)
		}
	}
	return c
}

// lease is the content of a lease object.
type lease struct {
	ID        string    `json:"id"`
	Exclusive bool      `json:"exclusive"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Expires   time.Time `json:"expires"`
}

// expired allows a grace of one TTL past the written expiry, for clocks
// that disagree and renewals that are late.
func (l lease) expired(now time.Time, ttl time.Duration) bool {
	return now.After(l.Expires.Add(ttl))
}

func (l lease) String() string {
	return fmt.Sprintf("%s (pid %d), lease until %s", l.Host, l.PID, l.Expires.Format(time.RFC3339))
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// probe checks once per root that the store refuses a conditional create
// of an existing key. Some S3 clones ignore If-None-Match; on those two
// backups could both write, so the store is refused instead. A store
// that passed is remembered for a day in the user's cache folder
// (probeCache), since the probe's two uploads and a delete were most of
// what a verify from MinIO spent beyond reading the files.
func (f *Folder) probe(ctx context.Context) error {
	r := f.root
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return r.probed
	}
	cache := probeCache(r.store)
	if r.unconditional {
		cache = "" // a test's store that ignores If-None-Match
	}
	if cache != "" {
		if fi, err := os.Stat(cache); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) < probeFresh {
			r.done = true
			return nil
		}
	}
	probes.Add(1)
	key := f.prefix + probePrefix + newID()
	if err := f.upload(ctx, key, strings.NewReader("1"), 1); err != nil {
		return fmt.Errorf("probe conditional writes on %s: %w", f.location, err)
	}
	err := f.upload(ctx, key, strings.NewReader("2"), 1)
	f.drop(context.WithoutCancel(ctx), key)
	switch {
	case err == nil:
		r.probed = fmt.Errorf("%w: %s accepted a second conditional create (If-None-Match) of one key; statsnap cannot lock or publish safely there", storage.ErrUnsupported, f.location)
	case errors.Is(err, storage.ErrExist):
		r.probed = nil
		rememberProbe(cache)
	default:
		return fmt.Errorf("probe conditional writes on %s: %w", f.location, err)
	}
	r.done = true
	return r.probed
}

// probeFresh is how long a passed probe is trusted: a store replaced
// behind the same endpoint is probed again within a day.
const probeFresh = 24 * time.Hour

// probes counts the probes run, for tests.
var probes atomic.Int64

// probeCache is the file that records a passed probe of store (the
// bucket URL without its path), or "" when there is no cache folder. The
// name is a hash: the URL itself never lands on disk. Only a pass is
// recorded; a refusal is probed again every time.
func probeCache(store string) string {
	if store == "" {
		return ""
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(store))
	return filepath.Join(dir, "statsnap", "conditional-writes", hex.EncodeToString(sum[:16]))
}

// rememberProbe records a passed probe; a failure only means the next
// run probes again.
func rememberProbe(path string) {
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		slog.Debug("cannot remember the conditional-write probe", "err", err)
		return
	}
	tmp := path + "." + newID()
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		slog.Debug("cannot remember the conditional-write probe", "err", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		slog.Debug("cannot remember the conditional-write probe", "err", err)
	}
}

func (f *Folder) readLease(ctx context.Context, key string) (lease, error) {
	rd, err := f.root.bucket.NewReader(ctx, key, nil)
	if err != nil {
		err = classify(err)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrPermission) || ctx.Err() != nil {
			return lease{}, err
		}
		// A transient failure: the lease stands as held for this attempt.
		slog.Debug("cannot read a lease; taking it as held", "key", key, "err", err)
		return lease{ID: unreadable, Host: "?", Expires: time.Now().Add(f.root.lease.ttl)}, nil
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, 4096))
	if err != nil {
		// Being rewritten or removed under us: it stands as a live lease
		// for this attempt, and the caller tries again.
		slog.Debug("cannot read a lease; taking it as held", "key", key, "err", err)
		return lease{ID: unreadable, Host: "?", Expires: time.Now().Add(f.root.lease.ttl)}, nil
	}
	var l lease
	if err := json.Unmarshal(data, &l); err != nil || l.ID == "" {
		// An unreadable lease is treated as one that expires a TTL after
		// it was written, never as no lease at all.
		return lease{ID: unreadable, Host: "?", Expires: rd.ModTime().Add(f.root.lease.ttl)}, nil
	}
	return l, nil
}

func (f *Folder) writeLease(ctx context.Context, key string, l lease, create bool) error {
	data, _ := json.Marshal(l)
	if create {
		return f.upload(ctx, key, strings.NewReader(string(data)), int64(len(data)))
	}
	// A renewal replaces the lease through Bucket.Upload too: a Writer
	// would hit azureblob's panic on a failed upload (see upload).
	return f.put(ctx, key, strings.NewReader(string(data)), false)
}

// Lock takes the prefix's lease, shared or exclusive, waiting at most wait.
func (f *Folder) Lock(ctx context.Context, exclusive bool, wait time.Duration) (func() error, error) {
	if err := f.probe(ctx); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	deadline := time.Now().Add(wait)
	failures := 0
	for {
		me := lease{ID: newID(), Exclusive: exclusive, Host: host, PID: os.Getpid(), Expires: time.Now().Add(f.root.lease.ttl)}
		key, holder, err := f.tryLease(ctx, me)
		if err != nil {
			failures++
			if !transient(ctx, err) || failures >= leaseAttempts {
				return nil, fmt.Errorf("lock %s: %w", f.location, err)
			}
			slog.Warn("cannot take the lease; trying again", "folder", f.location, "err", err)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
			}
			continue
		}
		failures = 0
		if holder == nil {
			return f.hold(ctx, key, me), nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("lock %s: held by %s: %w", f.location, holder, storage.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// leaseAttempts bounds the tries of a lease whose writes fail for a
// reason that may pass.
const leaseAttempts = 4

// transient tells a failure worth another try from one that will not pass
// by itself. Lease objects come and go under one prefix, and a store can
// trip over that: versitygw's posix backend removes a folder left empty
// by the last DeleteObject, and a PutObject into it at that moment fails
// with 409 ExistingObjectIsDirectory (seen in CI as a waiter's failure
// while the holder released). The SDKs retry 5xx and throttling
// themselves but not a 409, which is why it is retried here.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, k := range []error{context.Canceled, context.DeadlineExceeded, storage.ErrPermission, storage.ErrNoSpace, storage.ErrNotFound, storage.ErrUnsupported,
		storage.ErrReadOnly, storage.ErrUnsafeName, storage.ErrLocation} {
		if errors.Is(err, k) {
			return false
		}
	}
	return true
}

// tryLease makes one attempt. It returns the lease's key when taken, or
// the live lease that stands in the way.
func (f *Folder) tryLease(ctx context.Context, me lease) (string, *lease, error) {
	xkey := f.prefix + storage.LockName
	if me.Exclusive {
		if err := f.writeLease(ctx, xkey, me, true); err != nil {
			if !errors.Is(err, storage.ErrExist) {
				return "", nil, err
			}
			other, err := f.readLease(ctx, xkey)
			if errors.Is(err, storage.ErrNotFound) {
				return "", &lease{Host: "a process that just left"}, nil // released meanwhile: try again
			}
			if err != nil {
				return "", nil, err
			}
			if other.expired(time.Now(), f.root.lease.ttl) {
				f.takeOver(ctx, xkey, other)
			}
			return "", &other, nil
		}
		// Ours: now no reader may be inside.
		readers, err := f.liveShared(ctx)
		if err != nil || len(readers) > 0 {
			f.drop(context.WithoutCancel(ctx), xkey)
			if err != nil {
				return "", nil, err
			}
			return "", &readers[0], nil
		}
		return xkey, nil, nil
	}
	skey := f.prefix + sharedPrefix + me.ID
	if err := f.writeLease(ctx, skey, me, true); err != nil {
		return "", nil, err
	}
	other, err := f.readLease(ctx, xkey)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return skey, nil, nil
	case err != nil:
		f.drop(context.WithoutCancel(ctx), skey)
		return "", nil, err
	}
	f.drop(context.WithoutCancel(ctx), skey)
	if other.expired(time.Now(), f.root.lease.ttl) {
		f.takeOver(ctx, xkey, other)
	}
	return "", &other, nil
}

// liveShared lists the readers' leases that have not expired, removing
// the expired ones (each reader's lease is its own; deleting a dead one
// races with nobody but other cleaners).
func (f *Folder) liveShared(ctx context.Context) ([]lease, error) {
	var live []lease
	it := f.root.bucket.List(&gcblob.ListOptions{Prefix: f.prefix + sharedPrefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, classify(err)
		}
		l, err := f.readLease(ctx, o.Key)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if l.expired(time.Now(), f.root.lease.ttl) {
			slog.Info("removing an expired reader's lease", "holder", l.String())
			f.drop(ctx, o.Key)
			continue
		}
		live = append(live, l)
	}
	return live, nil
}

// takeOver deletes the expired exclusive lease dead, if this process wins
// the conditional create of its takeover marker and the lease is still
// the same one.
func (f *Folder) takeOver(ctx context.Context, xkey string, dead lease) {
	marker := f.prefix + takeoverPrefix + dead.ID
	if err := f.upload(ctx, marker, strings.NewReader("1"), 1); err != nil {
		return // another process is taking it over
	}
	if cur, err := f.readLease(ctx, xkey); err == nil && cur.ID == dead.ID {
		slog.Warn("taking over an expired lease", "folder", f.location, "holder", dead.String())
		f.drop(ctx, xkey)
	}
	// The marker stays until the next holder leaves: a slow process that
	// read the same dead lease must not win a second takeover.
}

// hold renews the lease until unlock, which deletes it.
//
// A lease can be lost while held: another process takes it over (ours
// was not renewed in time, or someone overwrote it), someone removes it,
// or renewals keep failing until the expiry we last wrote has passed.
// Carrying on would let two processes write one folder, so the loss is
// handed to the function storage.WithLockLost put in ctx, which cancels
// the command before its commit point (TestObjectStoreLeaseLost). Others
// take an expired lease over only a TTL after its expiry, so a holder
// whose renewals fail stops a full TTL before anyone may take its place.
// A lost lease is never deleted at unlock: it may be someone else's now.
func (f *Folder) hold(ctx context.Context, key string, me lease) func() error {
	stop := make(chan struct{})
	lostFn := storage.LockLost(ctx)
	var lost bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.root.lease.ttl / 3)
		defer t.Stop()
		bg := context.WithoutCancel(ctx)
		valid := me.Expires // the expiry of the last lease we wrote
		lose := func(err error) {
			lost = true
			err = fmt.Errorf("%w of %s: %w", storage.ErrLockLost, f.location, err)
			if lostFn == nil {
				slog.Error("lost the lease", "folder", f.location, "err", err)
				return
			}
			// The command stops and reports it in its own words.
			slog.Debug("lost the lease", "folder", f.location, "err", err)
			lostFn(err)
		}
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				cur, err := f.readLease(bg, key)
				switch {
				case errors.Is(err, storage.ErrNotFound):
					lose(errors.New("its lease object was removed by another client"))
					return
				case err == nil && cur.ID != me.ID && cur.ID != unreadable:
					lose(fmt.Errorf("another process took its lease over: %s", cur))
					return
				}
				if err == nil {
					next := me
					next.Expires = time.Now().Add(f.root.lease.ttl)
					if err = f.writeLease(bg, key, next, false); err == nil {
						me, valid = next, next.Expires
						continue
					}
				}
				if time.Now().After(valid) {
					lose(fmt.Errorf("its lease expired and could not be renewed: %w", err))
					return
				}
				slog.Warn("cannot renew the lease; trying again", "folder", f.location, "err", err)
			}
		}
	}()
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			close(stop)
			wg.Wait()
			if lost {
				return
			}
			c := context.WithoutCancel(ctx)
			if derr := f.root.remove(c, key); derr != nil {
				err = fmt.Errorf("release the lease on %s: %w", f.location, derr)
			}
			if me.Exclusive {
				f.clearTakeovers(c)
			}
		})
		return err
	}
}

func (f *Folder) clearTakeovers(ctx context.Context) {
	it := f.root.bucket.List(&gcblob.ListOptions{Prefix: f.prefix + takeoverPrefix})
	for {
		o, err := it.Next(ctx)
		if err != nil {
			return
		}
		f.drop(ctx, o.Key)
	}
}

// drop deletes a lease object of ours or a dead one. A failure only
// leaves a lease that expires by itself, so it is logged, not returned.
func (f *Folder) drop(ctx context.Context, key string) {
	if err := f.root.remove(ctx, key); err != nil {
		slog.Warn("cannot remove a lease object; it expires by itself", "key", key, "err", err)
	}
}

// unreadable is the ID given to a lease that could not be read: it counts
// as held, and its holder's renewal does not take it for a takeover.
const unreadable = "unreadable"
