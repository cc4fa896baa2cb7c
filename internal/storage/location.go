package storage

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Opener opens a backup root of one backend. For a URL location u is
// parsed and path is empty; for a local path u is nil.
type Opener func(ctx context.Context, u *url.URL, path string) (Root, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
)

// Register makes a backend's scheme known to Open ("" is the local file
// system). Backends call it from init; cmd/statsnap imports them.
func Register(scheme string, o Opener) {
	mu.Lock()
	defer mu.Unlock()
	openers[scheme] = o
}

// Schemes lists the URL schemes Open accepts, for messages.
func Schemes() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for s := range openers {
		if s != "" {
			out = append(out, s+"://")
		}
	}
	sort.Strings(out)
	return out
}

// schemeRE matches what a URL scheme looks like (RFC 3986).
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// Parse splits a location into its backend's scheme and URL, or a local
// path. Anything that starts like a URL scheme is a URL, and a URL whose
// scheme is not registered, or that lacks "//", is ErrLocation: a typo
// such as "s3:/bucket" must never become a folder named "s3:". A local
// folder whose name contains ':' is reached with "./" in front.
func Parse(location string) (scheme string, u *url.URL, err error) {
	if location == "" {
		return "", nil, fmt.Errorf("%w: empty location", ErrLocation)
	}
	m := schemeRE.FindString(location)
	if m == "" || (runtime.GOOS == "windows" && len(m) == 2) {
		return "", nil, nil // a path (C:\… on Windows)
	}
	scheme = strings.ToLower(strings.TrimSuffix(m, ":"))
	mu.Lock()
	_, known := openers[scheme]
	mu.Unlock()
	if !known || scheme == "" {
		return "", nil, fmt.Errorf("%w: %q: unknown scheme %q (use a local path, or one of %s; prefix a local path containing ':' with ./)",
			ErrLocation, Redact(location), scheme, strings.Join(Schemes(), ", "))
	}
	if !strings.HasPrefix(location[len(m):], "//") {
		return "", nil, fmt.Errorf("%w: %q: write %s//bucket/prefix", ErrLocation, Redact(location), m)
	}
	u, err = url.Parse(location)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrLocation, err)
	}
	if u.User != nil {
		return "", nil, fmt.Errorf("%w: credentials do not belong in the URL; use the cloud's standard environment or files", ErrLocation)
	}
	if u.Host == "" && scheme != "file" {
		return "", nil, fmt.Errorf("%w: %q names no bucket", ErrLocation, Redact(location))
	}
	return scheme, u, nil
}

// Open opens the backup root at location: a local path or a URL of a
// registered backend.
func Open(ctx context.Context, location string) (Root, error) {
	scheme, u, err := Parse(location)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	o := openers[scheme]
	mu.Unlock()
	if o == nil {
		return nil, fmt.Errorf("%w: no local backend linked in", ErrLocation)
	}
	if u != nil {
		return o(ctx, u, "")
	}
	return o(ctx, nil, location)
}

// OpenFolder opens the one player folder at location (--backup).
func OpenFolder(ctx context.Context, location string, create bool) (Folder, error) {
	r, err := Open(ctx, location)
	if err != nil {
		return nil, err
	}
	f, err := r.Folder(ctx, "", create)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &ownedFolder{Folder: f, root: r}, nil
}

// ownedFolder closes its root with itself.
type ownedFolder struct {
	Folder
	root Root
}

func (o *ownedFolder) Close() error {
	err := o.Folder.Close()
	if cerr := o.root.Close(); err == nil {
		err = cerr
	}
	return err
}

// LocalPath returns a local path of the published file name when the
// folder's files are local files, and false otherwise.
func LocalPath(f Folder, name string) (string, bool) {
	if o, ok := f.(*ownedFolder); ok {
		f = o.Folder
	}
	lp, ok := f.(LocalPather)
	if !ok {
		return "", false
	}
	p, err := lp.LocalPath(name)
	return p, err == nil
}

// ReplacerOf returns f's Replacer when it has one.
func ReplacerOf(f Folder) (Replacer, bool) {
	if o, ok := f.(*ownedFolder); ok {
		f = o.Folder
	}
	r, ok := f.(Replacer)
	return r, ok
}

// Join appends a player folder's name to a root location: to the path of
// a URL (before its query), or as a path element. Every query parameter
// is kept: the joined location is opened, and one blanked by Redact (an
// S3 profile, say) would open another store or none. Messages that show
// it redact it themselves.
func Join(location, name string) string {
	if _, u, err := Parse(location); err == nil && u != nil {
		c := *u
		c.Path = strings.TrimSuffix(c.Path, "/") + "/" + name
		c.RawPath = ""
		return c.String()
	}
	p := filepath.Join(location, name)
	if schemeRE.MatchString(p) && !filepath.IsAbs(p) {
		// Join cleans "./s3:" to "s3:": keep the path a path.
		p = "." + string(filepath.Separator) + p
	}
	return p
}

// Redact drops anything secret-looking from a location for messages: a
// userinfo part, and query values of parameters that could carry keys.
func Redact(location string) string {
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return location
	}
	u.User = nil
	q := u.Query()
	redacted := false
	for k := range q {
		switch strings.ToLower(k) {
		case "endpoint", "region", "use_path_style", "disable_https", "protocol", "domain", "dualstack", "fips", "accelerate", "storage_account", "localemulator", "localemu", "cdn", "anonymous", "awssdk", "hostname":
		default:
			q.Set(k, "REDACTED")
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
