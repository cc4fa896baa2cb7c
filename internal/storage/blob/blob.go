// Package blob is the storage backend of object stores through
// gocloud.dev/blob: s3:// (AWS S3 and compatible servers), gs:// (Google
// Cloud Storage) and azblob:// (Azure Blob Storage).
//
// A player folder is a key prefix. DuckDB cannot write to a bucket, so
// files are staged on local disk (package stage), hashed there by the
// caller, and uploaded by Publish with a conditional create
// (If-None-Match: *), so that no object is ever replaced. Object stores
// make a completed upload durable and atomically visible: there is no
// half-written object to clean, and Sync has nothing to do. The lock is a
// lease object (lease.go).
//
// Credentials come only from each cloud's standard environment and
// files (AWS_*, ~/.aws, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*):
// a URL carrying user info is refused by storage.Parse, and locations
// are redacted before they appear in messages.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcblob "gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
	"gocloud.dev/gcerrors"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/local"
	"github.com/openspartan/statsnap/internal/storage/stage"
)

func init() {
	for _, s := range []string{"s3", "gs", "azblob"} {
		storage.Register(s, OpenRoot)
	}
	// gocloud's fileblob is deliberately not used for file:// URLs: its
	// IfNotExist is a stat followed by a rename, which two processes can
	// both pass, so two backups could publish one name. A file:// URL is
	// the local backend instead, whose publish is a hard link that the
	// kernel refuses when the name exists (TestFileURLIsLocal).
	storage.Register("file", func(ctx context.Context, u *url.URL, _ string) (storage.Root, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%w: file:// URLs name a local path (file:///path)", storage.ErrLocation)
		}
		if u.RawQuery != "" {
			return nil, fmt.Errorf("%w: file:// URLs take no parameters", storage.ErrLocation)
		}
		return local.OpenRoot(u.Path), nil
	})
}

// partSize is the size of one part of a multipart upload: files above it
// go up in parts, several at once.
const partSize = 16 << 20

// Root is a backup root in a bucket.
type Root struct {
	bucket   *gcblob.Bucket
	prefix   string // "" or ends with "/"
	location string // redacted, for messages
	// area is the local staging folder, made on first use: only backup
	// stages files, and making one scans the temp folder for those of
	// dead processes (fsutil.CleanScratch), which costs a verify or a
	// restore on a busy machine several milliseconds for nothing.
	amu    sync.Mutex
	area   *stage.Area
	lease  leaseConfig
	store  string // the bucket's URL without its path: which store this is
	shared bool   // bucket is buckets.m[store]
	// s3 is the bucket's S3 client (nil on other stores), for the calls
	// gocloud makes in two requests where one does (see remove).
	s3   *s3.Client
	name string // the bucket's name

	mu     sync.Mutex
	probed error // result of the conditional-create probe, once run
	done   bool
	closed bool

	// unconditional makes uploads plain writes, standing for a store that
	// ignores If-None-Match; only tests set it.
	unconditional bool
}

// OpenRoot opens the bucket named by u; u's path is the root's prefix.
func OpenRoot(ctx context.Context, u *url.URL, _ string) (storage.Root, error) {
	bu := *u
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	bu.Path, bu.RawPath = "", ""
	q := bu.Query()
	if q.Has("prefix") {
		return nil, fmt.Errorf("%w: put the prefix in the URL's path, not in ?prefix=", storage.ErrLocation)
	}
	if u.Scheme == "s3" && !q.Has("response_checksum_validation") {
		// statsnap hashes every byte it reads with BLAKE3 against the
		// manifest; the SDK's own check of downloads adds nothing, and for
		// objects uploaded in parts it only logs that it skipped itself.
		// Uploads keep the SDK's transfer checksums.
		q.Set("response_checksum_validation", "when_required")
		bu.RawQuery = q.Encode()
	}
	store := storeKey(&bu)
	b, err := openBucket(ctx, store, &bu)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", storage.Redact(u.String()), classify(err))
	}
	root := &Root{bucket: b, prefix: prefix, location: storage.Redact(u.String()), lease: defaultLease(), store: store, shared: true, name: u.Host}
	if !b.As(&root.s3) {
		root.s3 = nil
	}
	return root, nil
}

// buckets are the open buckets of this process, by URL (without path),
// shared by the roots open on them. A command often opens one location
// twice (to tell a backup root from a player folder, then to work in
// it); each new S3 client loads the SDK's configuration again and opens
// new connections, which cost a verify from MinIO more than reading a
// small file. A gocloud Bucket is safe for concurrent use.
var buckets = struct {
	sync.Mutex
	m map[string]*sharedBucket
}{m: map[string]*sharedBucket{}}

type sharedBucket struct {
	b    *gcblob.Bucket
	refs int
}

func openBucket(ctx context.Context, key string, bu *url.URL) (*gcblob.Bucket, error) {
	buckets.Lock()
	defer buckets.Unlock()
	if s, ok := buckets.m[key]; ok {
		s.refs++
		return s.b, nil
	}
	var b *gcblob.Bucket
	var err error
	if bu.Scheme == "gs" {
		b, err = openGCS(ctx, bu)
	} else {
		b, err = gcblob.OpenBucket(ctx, bu.String())
	}
	if err != nil {
		return nil, err
	}
	buckets.m[key] = &sharedBucket{b: b, refs: 1}
	return b, nil
}

// storeKey names the store a bucket URL (without its path) reaches: the
// URL, and for gs:// and azblob:// the endpoint that the environment
// chooses (an emulator's host, the Azure account and domain), which the
// URL does not carry. Roots share a client, and a passed probe is
// remembered, by this key.
func storeKey(bu *url.URL) string {
	key := bu.String()
	switch bu.Scheme {
	case "gs":
		if h := os.Getenv("STORAGE_EMULATOR_HOST"); h != "" {
			key += " emulator=" + h
		}
	case "azblob":
		key += " account=" + os.Getenv("AZURE_STORAGE_ACCOUNT") + " domain=" + os.Getenv("AZURE_STORAGE_DOMAIN")
	}
	return key
}

// closeBucket releases one root's hold on the bucket, closing it with
// the last.
func closeBucket(key string) error {
	buckets.Lock()
	defer buckets.Unlock()
	s, ok := buckets.m[key]
	if !ok {
		return nil
	}
	if s.refs--; s.refs > 0 {
		return nil
	}
	delete(buckets.m, key)
	return s.b.Close()
}

// Location implements storage.Root.
func (r *Root) Location() string { return r.location }

// stageArea returns the staging folder, made now if need be; with
// create false, it returns nil when there is none yet (so nothing staged).
func (r *Root) stageArea(create bool) (*stage.Area, error) {
	r.amu.Lock()
	defer r.amu.Unlock()
	if r.area == nil && create {
		a, err := stage.New("")
		if err != nil {
			return nil, err
		}
		r.area = a
	}
	return r.area, nil
}

// Close implements storage.Root.
func (r *Root) Close() error {
	r.mu.Lock()
	closed := r.closed
	r.closed = true
	r.mu.Unlock()
	var err error
	r.amu.Lock()
	if r.area != nil {
		err = r.area.Close()
		r.area = nil
	}
	r.amu.Unlock()
	if closed {
		return err
	}
	var cerr error
	if r.shared {
		cerr = closeBucket(r.store)
	} else {
		cerr = r.bucket.Close() // a test's root over a bucket of its own
	}
	if err == nil {
		err = cerr
	}
	return err
}

// Players implements storage.Root.
func (r *Root) Players(ctx context.Context) ([]string, error) {
	var out []string
	it := r.bucket.List(&gcblob.ListOptions{Prefix: r.prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.location, classify(err))
		}
		if !o.IsDir {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, r.prefix), "/")
		if storage.CheckName(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Folder opens a player prefix. An object store has no empty folders: a
// folder exists once it holds an object, so create only checks that the
// bucket can be reached.
func (r *Root) Folder(ctx context.Context, name string, create bool) (storage.Folder, error) {
	prefix, loc := r.prefix, r.location
	if name != "" {
		if err := storage.CheckName(name); err != nil {
			return nil, err
		}
		prefix += name + "/"
		loc = storage.Redact(storage.Join(r.location, name))
	}
	f := &Folder{root: r, prefix: prefix, location: loc, sub: url.PathEscape(prefix)}
	if prefix == "" {
		// The bucket itself as one player folder.
		f.sub = "_"
	}
	// One key is enough to know the prefix holds something: a page of
	// one, not the first thousand keys of a folder of many snapshots.
	objs, _, err := r.bucket.ListPage(ctx, gcblob.FirstPageToken, 1, &gcblob.ListOptions{Prefix: prefix})
	switch {
	case err != nil:
		return nil, fmt.Errorf("open backup folder %s: %w", loc, classify(err))
	case len(objs) == 0 && !create:
		return nil, fmt.Errorf("open backup folder %s: %w", loc, storage.ErrNotFound)
	}
	return f, nil
}

// Folder is one player prefix.
type Folder struct {
	root     *Root
	prefix   string
	location string
	sub      string // its subfolder of the staging area

	// listed holds the sizes of the last List, so that Open of a listed
	// object needs no HEAD request: verify and restore list the folder,
	// then open every file it names, and a request per file was most of
	// a small file's cost. A size gone stale (another client replaced the
	// object since) fails safe: Read streams the object as it now is, so
	// the bytes hashed are the new ones, and their count and hash are
	// what is compared with the manifest.
	// Only names that do not start with a dot are taken from it: those
	// (Parquet files, manifests) are written once and never replaced,
	// while statsnap's own bookkeeping (ledger, journals) is.
	mu     sync.Mutex
	listed map[string]int64
}

// forget drops name's listed size: this process is changing the object.
func (f *Folder) forget(name string) {
	f.mu.Lock()
	delete(f.listed, name)
	f.mu.Unlock()
}

// Location implements storage.Folder.
func (f *Folder) Location() string { return f.location }

// Close implements storage.Folder.
func (f *Folder) Close() error { return nil }

func (f *Folder) key(name string) (string, error) {
	if err := storage.CheckName(name); err != nil {
		return "", err
	}
	return f.prefix + name, nil
}

// hidden reports names of the store's own bookkeeping, which List leaves
// out like a local folder leaves out its lock.
func hidden(name string) bool {
	return strings.HasPrefix(name, storage.LockName) || strings.HasPrefix(name, probePrefix)
}

// List implements storage.Folder.
func (f *Folder) List(ctx context.Context) ([]storage.Entry, error) {
	out, err := f.list(ctx, "")
	if err != nil {
		return nil, err
	}
	listed := make(map[string]int64, len(out))
	for _, e := range out {
		listed[e.Name] = e.Size
	}
	f.mu.Lock()
	f.listed = listed
	f.mu.Unlock()
	return out, nil
}

// ListPrefix implements storage.PrefixLister. The sizes it lists are
// kept for Open beside those of the last List, which may come before or
// after it.
func (f *Folder) ListPrefix(ctx context.Context, prefix string) ([]storage.Entry, error) {
	out, err := f.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.listed == nil {
		f.listed = make(map[string]int64, len(out))
	}
	for _, e := range out {
		if _, ok := f.listed[e.Name]; !ok {
			f.listed[e.Name] = e.Size
		}
	}
	f.mu.Unlock()
	return out, nil
}

// list lists the files of the folder whose names begin with prefix.
func (f *Folder) list(ctx context.Context, prefix string) ([]storage.Entry, error) {
	var out []storage.Entry
	it := f.root.bucket.List(&gcblob.ListOptions{Prefix: f.prefix + prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", f.location, classify(err))
		}
		name := strings.TrimPrefix(o.Key, f.prefix)
		if o.IsDir || hidden(name) || storage.CheckName(name) != nil {
			continue
		}
		out = append(out, storage.Entry{Name: name, Size: o.Size, ModTime: o.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Folder) staged(name string) bool { return strings.HasPrefix(name, storage.TempPrefix) }

// Open implements storage.Folder.
func (f *Folder) Open(ctx context.Context, name string) (storage.File, error) {
	k, err := f.key(name)
	if err != nil {
		return nil, err
	}
	if f.staged(name) {
		var p string
		if a, _ := f.root.stageArea(false); a != nil {
			p, _ = a.Path(f.sub, name)
		}
		if h, err := os.Open(p); p != "" && err == nil {
			fi, err := h.Stat()
			if err != nil {
				h.Close()
				return nil, err
			}
			return osFile{h, fi.Size()}, nil
		}
	}
	f.mu.Lock()
	size, ok := f.listed[name]
	f.mu.Unlock()
	if strings.HasPrefix(name, ".") {
		// statsnap's own bookkeeping (the ledger, journals) is small, read
		// whole and may have been replaced since any listing: one GET,
		// whose response gives the size, instead of a HEAD and then a GET.
		rd, err := f.root.bucket.NewRangeReader(ctx, k, 0, -1, nil)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, classify(err))
		}
		return &object{ctx: ctx, b: f.root.bucket, key: k, size: rd.Size(), r: rd}, nil
	}
	if !ok {
		attrs, err := f.root.bucket.Attributes(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, classify(err))
		}
		size = attrs.Size
	}
	return &object{ctx: ctx, b: f.root.bucket, key: k, size: size}, nil
}

type osFile struct {
	*os.File
	size int64
}

func (f osFile) Size() int64 { return f.size }

// StagePath implements storage.Folder.
func (f *Folder) StagePath(name string) (string, error) {
	if !f.staged(name) {
		return "", fmt.Errorf("stage %s: %w: not a staging name", name, storage.ErrUnsafeName)
	}
	a, err := f.root.stageArea(true)
	if err != nil {
		return "", err
	}
	return a.Path(f.sub, name)
}

// upload creates key from r, never replacing an object. It goes through
// Bucket.Upload rather than a Writer's Write: in gocloud v0.47.0 the
// azureblob writer's Close panics on a nil pipe when an upload fails
// (its upload goroutine clears w.pr, then Close calls w.pr.Close), which
// a conditional create of an existing key always does. Upload hands the
// reader to the driver and never opens that pipe; the recover is a second
// guard, should another path reach it (TestAzureConditionalCreateNoPanic).
func (f *Folder) upload(ctx context.Context, key string, r io.Reader, size int64) error {
	return f.put(ctx, key, r, true)
}

// put uploads r to key: a conditional create, or without create a plain
// write that replaces key (Replace, lease renewals).
func (f *Folder) put(ctx context.Context, key string, r io.Reader, create bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("upload %s: the storage client failed (%v)", key, p)
		}
	}()
	opts := &gcblob.WriterOptions{
		ContentType: "application/octet-stream",
		IfNotExist:  create && !f.root.unconditional,
		BufferSize:  partSize,
	}
	if err := f.root.bucket.Upload(ctx, key, r, opts); err != nil {
		return classify(err)
	}
	return nil
}

// Publish implements storage.Folder.
func (f *Folder) Publish(ctx context.Context, staged, final string) error {
	k, err := f.key(final)
	if err != nil {
		return err
	}
	f.forget(final)
	p, err := f.StagePath(staged)
	if err != nil {
		return err
	}
	h, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("publish %s: %w", final, storage.ClassifyOS(err))
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return err
	}
	if err := f.upload(ctx, k, h, fi.Size()); err != nil {
		return fmt.Errorf("publish %s to %s: %w", final, f.location, err)
	}
	h.Close()
	a, err := f.root.stageArea(true)
	if err != nil {
		return err
	}
	return a.Remove(f.sub, staged)
}

// WriteFile implements storage.Folder.
func (f *Folder) WriteFile(ctx context.Context, name string, data []byte) error {
	k, err := f.key(name)
	if err != nil {
		return err
	}
	f.forget(name)
	if f.staged(name) {
		p, err := f.StagePath(name)
		if err != nil {
			return err
		}
		return stage.WriteNew(p, data)
	}
	if err := f.upload(ctx, k, strings.NewReader(string(data)), int64(len(data))); err != nil {
		return fmt.Errorf("write %s to %s: %w", name, f.location, err)
	}
	return nil
}

// Replace implements storage.Replacer: one plain upload, which the store
// makes visible whole in place of the old object (no removal first, so
// no moment without the file, and one request instead of three).
func (f *Folder) Replace(ctx context.Context, name string, data []byte) error {
	k, err := f.key(name)
	if err != nil {
		return err
	}
	if f.staged(name) {
		return fmt.Errorf("replace %s: %w: a staging name is only written, then published", name, storage.ErrUnsafeName)
	}
	f.forget(name)
	if err := f.put(ctx, k, strings.NewReader(string(data)), false); err != nil {
		return fmt.Errorf("write %s to %s: %w", name, f.location, err)
	}
	return nil
}

// Remove implements storage.Folder.
func (f *Folder) Remove(ctx context.Context, name string) error {
	k, err := f.key(name)
	if err != nil {
		return err
	}
	f.forget(name)
	if f.staged(name) {
		if a, _ := f.root.stageArea(false); a != nil {
			if err := a.Remove(f.sub, name); err != nil {
				return err
			}
		}
	}
	if err := f.root.remove(ctx, k); err != nil {
		return fmt.Errorf("remove %s from %s: %w", name, f.location, err)
	}
	return nil
}

// remove deletes key; a missing key is not an error. On S3 it is one
// DeleteObject request: gocloud's Delete (v0.47.0) sends a HEAD first,
// only to report a missing key as NotFound, which statsnap ignores
// anyway (every removal and every lease release paid for it). A key that
// gocloud would escape (control characters, "../", "__0x") goes through
// gocloud, so that the same object is deleted as gocloud would write.
func (r *Root) remove(ctx context.Context, key string) error {
	if r.s3 != nil && !escaped(key) {
		_, err := r.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.name, Key: &key})
		return classifyS3(err)
	}
	if err := r.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return classify(err)
	}
	return nil
}

// escaped reports keys that gocloud's s3blob rewrites before sending
// them (its escapeKey): control characters, "../" and anything that
// reads as one of its escape sequences.
func escaped(key string) bool {
	return strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
		strings.Contains(key, "../") || strings.Contains(key, "__0x")
}

// classifyS3 maps an error of a direct S3 call, which gocloud's portable
// codes do not cover, to storage's sentinels.
func classifyS3(err error) error {
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case 401, 403:
			return storage.WithKind(storage.ErrPermission, err)
		case 404: // no such bucket
			return storage.WithKind(storage.ErrNotFound, err)
		}
	}
	return classify(err) // cancellation
}

// Sync has nothing to do: an object store acknowledges a write or a
// delete once it is durable.
func (f *Folder) Sync(ctx context.Context) error { return nil }

// object is a published object read by ranged requests: ReadAt asks for
// exactly the bytes wanted (Parquet footers), Read streams from the
// current offset in one request until the next Seek.
type object struct {
	ctx  context.Context
	b    *gcblob.Bucket
	key  string
	size int64
	off  int64
	r    *gcblob.Reader
}

func (o *object) Size() int64 { return o.size }

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	short := false
	if off+want > o.size {
		want, short = o.size-off, true
	}
	r, err := o.b.NewRangeReader(o.ctx, o.key, off, want, nil)
	if err != nil {
		return 0, classify(err)
	}
	defer r.Close()
	n, err := io.ReadFull(r, p[:want])
	if err != nil {
		return n, classify(err)
	}
	if short {
		return n, io.EOF
	}
	return n, nil
}

func (o *object) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.r == nil {
		r, err := o.b.NewRangeReader(o.ctx, o.key, o.off, -1, nil)
		if err != nil {
			return 0, classify(err)
		}
		o.r = r
	}
	n, err := o.r.Read(p)
	o.off += int64(n)
	if err == io.EOF && o.off < o.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.off + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, errors.New("bad whence")
	}
	if abs < 0 {
		return 0, errors.New("negative position")
	}
	if abs != o.off && o.r != nil {
		o.r.Close()
		o.r = nil
	}
	o.off = abs
	return abs, nil
}

func (o *object) Close() error {
	if o.r != nil {
		err := o.r.Close()
		o.r = nil
		return err
	}
	return nil
}

// classify maps gocloud's portable error codes to storage's sentinels.
func classify(err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return storage.WithKind(storage.ErrNotFound, err)
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return storage.WithKind(storage.ErrExist, err)
	case gcerrors.PermissionDenied:
		return storage.WithKind(storage.ErrPermission, err)
	case gcerrors.Canceled:
		if errors.Is(err, context.Canceled) {
			return err
		}
		return storage.WithKind(context.Canceled, err)
	}
	return err
}
