package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	statsnapstorage "github.com/openspartan/statsnap/internal/storage"
)

// Compare-and-swap of a small object (storage.Swapper), for the ledger,
// which several verifies may rewrite at once under shared leases.
//
// A version is what each store compares a conditional write with:
//
//   - S3: the object's ETag from the GET (GetObjectOutput, through the
//     reader's As), sent back as If-Match on PutObject. gocloud's s3blob
//     hands BeforeWrite the transfer manager's UploadObjectInput, whose
//     IfMatch goes on the single PutObject of an upload smaller than a
//     part (a ledger always is) and on CompleteMultipartUpload otherwise.
//   - GCS: the object's generation from the reader (*storage.Reader),
//     made a GenerationMatch precondition on the ObjectHandle that
//     gcsblob's BeforeWrite hands over.
//   - Azure: the blob's ETag from DownloadStreamResponse, made an IfMatch
//     access condition on azureblob's UploadStreamOptions. The upload
//     goes through Bucket.Upload and a recover, like every other upload
//     (see put): a refused conditional upload is exactly the failure on
//     which v0.47.0's azureblob writer panics.
//
// A missing object has version Absent; creating it is the conditional
// create (If-None-Match: *, DoesNotExist) that Publish already uses.
//
// Some S3 clones accept If-Match and ignore it. On those a compare-and-
// swap would silently be a plain write, so the first ReplaceIf on a store
// probes it, as the lease probes conditional create (lease.go): it writes
// an object, then replaces it with a version that cannot match (which
// must be refused) and with the right one (which must pass). A store
// that fails either is refused with ErrUnsupported, and the ledger falls
// back to its plain replace (see snapshot.UpdateLedger). A passed probe
// is remembered for a day, like the lease's.

// swapProbes holds the probe's answer per store (Root.store) for this
// process: nil for a pass, an error wrapping ErrUnsupported otherwise.
var swapProbes sync.Map

// ignoreIfMatch makes ReplaceIf send no condition with a version, as a
// store that ignores If-Match behaves; only tests set it.
var ignoreIfMatch atomic.Bool

// ReadVersion implements storage.Swapper: one GET, whose response
// carries the version.
func (f *Folder) ReadVersion(ctx context.Context, name string, limit int64) ([]byte, statsnapstorage.Version, error) {
	k, err := f.key(name)
	if err != nil {
		return nil, "", err
	}
	if f.staged(name) {
		return nil, "", fmt.Errorf("read %s: %w: a staging name has no stored version", name, statsnapstorage.ErrUnsafeName)
	}
	return f.readVersion(ctx, k, name, limit)
}

func (f *Folder) readVersion(ctx context.Context, k, name string, limit int64) ([]byte, statsnapstorage.Version, error) {
	rd, err := f.root.bucket.NewReader(ctx, k, nil)
	if err != nil {
		err = classify(err)
		if errors.Is(err, statsnapstorage.ErrNotFound) {
			return nil, statsnapstorage.Absent, fmt.Errorf("open %s: %w", name, err)
		}
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	defer rd.Close()
	v := readerVersion(rd)
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", name, classify(err))
	}
	return data, v, nil
}

// readerVersion is the version a reader's response names, or "" when
// the driver gives none.
func readerVersion(rd *gcblob.Reader) statsnapstorage.Version {
	var s3out s3.GetObjectOutput
	if rd.As(&s3out) && s3out.ETag != nil && *s3out.ETag != "" {
		return statsnapstorage.Version("etag:" + *s3out.ETag)
	}
	var gr *storage.Reader
	if rd.As(&gr) && gr != nil && gr.Attrs.Generation != 0 {
		return statsnapstorage.Version("gen:" + strconv.FormatInt(gr.Attrs.Generation, 10))
	}
	var az azblobblob.DownloadStreamResponse
	if rd.As(&az) && az.ETag != nil && *az.ETag != "" {
		return statsnapstorage.Version("etag:" + string(*az.ETag))
	}
	return ""
}

// ReplaceIf implements storage.Swapper: one conditional upload.
func (f *Folder) ReplaceIf(ctx context.Context, name string, data []byte, v statsnapstorage.Version) error {
	k, err := f.key(name)
	if err != nil {
		return err
	}
	if f.staged(name) {
		return fmt.Errorf("replace %s: %w: a staging name is only written, then published", name, statsnapstorage.ErrUnsafeName)
	}
	if v == "" {
		return fmt.Errorf("replace %s: no version given", name)
	}
	if err := f.probeSwap(ctx); err != nil {
		return err
	}
	f.forget(name)
	if err := f.replaceIf(ctx, k, data, v); err != nil {
		return fmt.Errorf("write %s to %s: %w", name, f.location, err)
	}
	return nil
}

// replaceIf uploads data to key if key is at version v.
func (f *Folder) replaceIf(ctx context.Context, key string, data []byte, v statsnapstorage.Version) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("upload %s: the storage client failed (%v)", key, p)
		}
	}()
	kind, val, _ := strings.Cut(string(v), ":")
	opts := &gcblob.WriterOptions{
		ContentType: "application/octet-stream",
		BufferSize:  partSize,
		IfNotExist:  v == statsnapstorage.Absent,
	}
	if v != statsnapstorage.Absent && !ignoreIfMatch.Load() {
		opts.BeforeWrite = func(as func(any) bool) error { return condition(as, kind, val) }
	}
	err = f.root.bucket.Upload(ctx, key, strings.NewReader(string(data)), opts)
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	switch {
	case gcerrors.Code(err) == gcerrors.FailedPrecondition, gcerrors.Code(err) == gcerrors.AlreadyExists,
		gcerrors.Code(err) == gcerrors.NotFound && v != statsnapstorage.Absent:
		// Not at v (a version of a removed object is not found on S3).
		return statsnapstorage.WithKind(statsnapstorage.ErrChanged, err)
	case errors.As(err, &re) && re.HTTPStatusCode() == 409:
		// S3's ConditionalRequestConflict: another conditional write of
		// the key was under way, and one of the two loses.
		return statsnapstorage.WithKind(statsnapstorage.ErrChanged, err)
	}
	return classify(err)
}

// condition puts the match on version val (of kind etag or gen) into
// the request that the driver hands BeforeWrite.
func condition(as func(any) bool, kind, val string) error {
	switch kind {
	case "etag":
		var in *transfermanager.UploadObjectInput
		if as(&in) {
			in.IfMatch = &val
			return nil
		}
		var uo *azblob.UploadStreamOptions
		if as(&uo) {
			etag := azcore.ETag(val)
			if uo.AccessConditions == nil {
				uo.AccessConditions = &azblob.AccessConditions{}
			}
			if uo.AccessConditions.ModifiedAccessConditions == nil {
				uo.AccessConditions.ModifiedAccessConditions = &azblobblob.ModifiedAccessConditions{}
			}
			uo.AccessConditions.ModifiedAccessConditions.IfMatch = &etag
			return nil
		}
	case "gen":
		gen, err := strconv.ParseInt(val, 10, 64)
		if err != nil || gen <= 0 {
			break
		}
		var obj **storage.ObjectHandle
		if as(&obj) {
			*obj = (*obj).If(storage.Conditions{GenerationMatch: gen})
			return nil
		}
	}
	return fmt.Errorf("%w: version %s:%s does not belong to this store", statsnapstorage.ErrUnsupported, kind, val)
}

// probeSwap checks once per store that it honours a conditional replace
// (see the top of this file).
func (f *Folder) probeSwap(ctx context.Context) error {
	r := f.root
	// A test's store (ignoring If-Match, or a root of its own with no
	// store key) is probed every time and remembered nowhere.
	test := ignoreIfMatch.Load() || r.store == ""
	if !test {
		if res, ok := swapProbes.Load(r.store); ok {
			err, _ := res.(error)
			return err
		}
	}
	cache := ""
	if !test {
		cache = probeCache(r.store + " if-match")
	}
	if cache != "" && fresh(cache) {
		swapProbes.Store(r.store, nil)
		return nil
	}
	probes.Add(1)
	key := f.prefix + probePrefix + newID()
	if err := f.upload(ctx, key, strings.NewReader("1"), 1); err != nil {
		return fmt.Errorf("probe conditional replace on %s: %w", f.location, err)
	}
	defer f.drop(context.WithoutCancel(ctx), key)
	_, v, err := f.readVersion(ctx, key, key, 1)
	if err != nil {
		return fmt.Errorf("probe conditional replace on %s: %w", f.location, err)
	}
	unsupported := func(why string) error {
		err := fmt.Errorf("%w: %s %s; the verification ledger is replaced without it", statsnapstorage.ErrUnsupported, f.location, why)
		if !test {
			swapProbes.Store(r.store, err)
		}
		return err
	}
	if v == "" {
		return unsupported("names no version (ETag or generation) when an object is read")
	}
	kind, _, _ := strings.Cut(string(v), ":")
	wrong := statsnapstorage.Version(`etag:"00000000000000000000000000000000"`)
	if kind == "gen" {
		wrong = "gen:1"
	}
	err = f.replaceIf(ctx, key, []byte("2"), wrong)
	switch {
	case err == nil:
		return unsupported("accepted a conditional replace (If-Match) of an object at another version")
	case !errors.Is(err, statsnapstorage.ErrChanged):
		return fmt.Errorf("probe conditional replace on %s: %w", f.location, err)
	}
	if err := f.replaceIf(ctx, key, []byte("3"), v); err != nil {
		if errors.Is(err, statsnapstorage.ErrChanged) {
			return unsupported("refused a conditional replace (If-Match) of an object at the version it named")
		}
		return fmt.Errorf("probe conditional replace on %s: %w", f.location, err)
	}
	if !test {
		swapProbes.Store(r.store, nil)
	}
	rememberProbe(cache)
	return nil
}

// fresh reports a probe's record younger than probeFresh.
func fresh(cache string) bool {
	fi, err := os.Stat(cache)
	return err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) < probeFresh
}
