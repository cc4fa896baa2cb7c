// Package mem is an in-memory storage backend for tests. Like an object
// store, it keeps staging files on local disk (DuckDB writes them) and
// takes them in on Publish; its lock is shared by the roots of one Store,
// which stand for processes on different machines.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openspartan/statsnap/internal/storage"
	"github.com/openspartan/statsnap/internal/storage/stage"
)

// Store holds folders of files in memory.
type Store struct {
	mu      sync.Mutex
	folders map[string]map[string]*object
	locks   map[string]*lockState
	gen     uint64 // the last generation given to a write
}

type object struct {
	data []byte
	mod  time.Time
	gen  uint64 // its write, for Swapper's versions
}

type lockState struct {
	exclusive bool
	shared    int
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{folders: map[string]map[string]*object{}, locks: map[string]*lockState{}}
}

var (
	registerOnce sync.Once
	named        sync.Map // name -> *Store
)

// Register makes mem://name locations open the store of that name (made
// on first use), for tests that run commands in-process. It is never
// called by the binary: memory does not outlive the process.
func Register() {
	registerOnce.Do(func() {
		storage.Register("mem", func(ctx context.Context, u *url.URL, _ string) (storage.Root, error) {
			s, _ := named.LoadOrStore(u.Host, NewStore())
			return s.(*Store).Root(strings.Trim(u.Path, "/"))
		})
	})
}

// Root opens the root at prefix of the store. Its staging space is its
// own, as a process's would be.
func (s *Store) Root(prefix string) (*Root, error) {
	a, err := stage.New("")
	if err != nil {
		return nil, err
	}
	return &Root{s: s, prefix: prefix, area: a}, nil
}

// Root is a backup root in a Store.
type Root struct {
	s      *Store
	prefix string
	area   *stage.Area
}

// Location implements storage.Root.
func (r *Root) Location() string { return "mem:" + r.prefix }

// Close implements storage.Root.
func (r *Root) Close() error { return r.area.Close() }

func (r *Root) key(name string) string {
	if r.prefix == "" {
		return name
	}
	if name == "" {
		return r.prefix
	}
	return r.prefix + "/" + name
}

// Players implements storage.Root.
func (r *Root) Players(ctx context.Context) ([]string, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []string
	for k := range r.s.folders {
		rest, ok := strings.CutPrefix(k, r.key("")+"/")
		if r.prefix == "" {
			rest, ok = k, true
		}
		if ok && !strings.Contains(rest, "/") && storage.CheckName(rest) == nil {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Folder implements storage.Root.
func (r *Root) Folder(ctx context.Context, name string, create bool) (storage.Folder, error) {
	if name != "" {
		if err := storage.CheckName(name); err != nil {
			return nil, err
		}
	}
	k := r.key(name)
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if _, ok := r.s.folders[k]; !ok {
		if !create {
			return nil, fmt.Errorf("open backup folder mem:%s: %w", k, storage.ErrNotFound)
		}
		r.s.folders[k] = map[string]*object{}
	}
	return &Folder{s: r.s, key: k, area: r.area}, nil
}

// Folder is one player folder of a Store.
type Folder struct {
	s    *Store
	key  string
	area *stage.Area
}

// Location implements storage.Folder.
func (f *Folder) Location() string { return "mem:" + f.key }

// Close implements storage.Folder.
func (f *Folder) Close() error { return nil }

func (f *Folder) sub() string { return url.PathEscape(f.key) }

// List implements storage.Folder.
func (f *Folder) List(ctx context.Context) ([]storage.Entry, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	var out []storage.Entry
	for n, o := range f.s.folders[f.key] {
		out = append(out, storage.Entry{Name: n, Size: int64(len(o.data)), ModTime: o.mod})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type file struct {
	*bytes.Reader
	size int64
}

func (file) Close() error     { return nil }
func (f file) Size() int64    { return f.size }
func (f file) String() string { return "mem file" }

type osFile struct {
	*os.File
	size int64
}

func (f osFile) Size() int64 { return f.size }

// Open implements storage.Folder.
func (f *Folder) Open(ctx context.Context, name string) (storage.File, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(name, storage.TempPrefix) {
		p, _ := f.area.Path(f.sub(), name)
		if of, err := os.Open(p); err == nil {
			fi, err := of.Stat()
			if err != nil {
				of.Close()
				return nil, err
			}
			return osFile{of, fi.Size()}, nil
		}
	}
	f.s.mu.Lock()
	o, ok := f.s.folders[f.key][name]
	f.s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, storage.ErrNotFound)
	}
	return file{bytes.NewReader(o.data), int64(len(o.data))}, nil
}

// StagePath implements storage.Folder.
func (f *Folder) StagePath(name string) (string, error) {
	if !strings.HasPrefix(name, storage.TempPrefix) {
		return "", fmt.Errorf("stage %s: %w: not a staging name", name, storage.ErrUnsafeName)
	}
	return f.area.Path(f.sub(), name)
}

func (f *Folder) put(name string, data []byte) error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	d, ok := f.s.folders[f.key]
	if !ok {
		return fmt.Errorf("write %s: folder %w", name, storage.ErrNotFound)
	}
	if _, ok := d[name]; ok {
		return fmt.Errorf("write %s: %w", name, storage.ErrExist)
	}
	f.s.gen++
	d[name] = &object{data: data, mod: time.Now(), gen: f.s.gen}
	return nil
}

// Replace implements storage.Replacer: the map entry changes in one step.
func (f *Folder) Replace(ctx context.Context, name string, data []byte) error {
	return f.replace(name, data, "")
}

// ReadVersion implements storage.Swapper; a version is the generation of
// the write that made the file.
func (f *Folder) ReadVersion(ctx context.Context, name string, limit int64) ([]byte, storage.Version, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, "", err
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	o, ok := f.s.folders[f.key][name]
	if !ok {
		return nil, storage.Absent, fmt.Errorf("open %s: %w", name, storage.ErrNotFound)
	}
	data := o.data
	if int64(len(data)) > limit {
		data = data[:limit+1]
	}
	return bytes.Clone(data), version(o.gen), nil
}

// ReplaceIf implements storage.Swapper.
func (f *Folder) ReplaceIf(ctx context.Context, name string, data []byte, v storage.Version) error {
	if v == "" {
		return fmt.Errorf("replace %s: no version given", name)
	}
	return f.replace(name, data, v)
}

func version(gen uint64) storage.Version { return storage.Version(fmt.Sprintf("gen:%d", gen)) }

// replace writes name whole, only if it is at version v when v is set.
func (f *Folder) replace(name string, data []byte, v storage.Version) error {
	if err := storage.CheckName(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, storage.TempPrefix) {
		return fmt.Errorf("replace %s: %w: a staging name is only written, then published", name, storage.ErrUnsafeName)
	}
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	d, ok := f.s.folders[f.key]
	if !ok {
		return fmt.Errorf("write %s: folder %w", name, storage.ErrNotFound)
	}
	if v != "" {
		now := storage.Absent
		if o, ok := d[name]; ok {
			now = version(o.gen)
		}
		if now != v {
			return fmt.Errorf("replace %s: %w", name, storage.ErrChanged)
		}
	}
	f.s.gen++
	d[name] = &object{data: bytes.Clone(data), mod: time.Now(), gen: f.s.gen}
	return nil
}

// Publish implements storage.Folder.
func (f *Folder) Publish(ctx context.Context, staged, final string) error {
	if err := storage.CheckName(final); err != nil {
		return err
	}
	p, err := f.StagePath(staged)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("publish %s: %w", final, storage.ClassifyOS(err))
	}
	if err := f.put(final, data); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return f.area.Remove(f.sub(), staged)
}

// WriteFile implements storage.Folder.
func (f *Folder) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := storage.CheckName(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, storage.TempPrefix) {
		p, err := f.StagePath(name)
		if err != nil {
			return err
		}
		return stage.WriteNew(p, data)
	}
	return f.put(name, bytes.Clone(data))
}

// Remove implements storage.Folder.
func (f *Folder) Remove(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, storage.TempPrefix) {
		if err := f.area.Remove(f.sub(), name); err != nil {
			return err
		}
	}
	f.s.mu.Lock()
	delete(f.s.folders[f.key], name)
	f.s.mu.Unlock()
	return nil
}

// Sync implements storage.Folder.
func (f *Folder) Sync(ctx context.Context) error { return nil }

// Lock implements storage.Folder.
func (f *Folder) Lock(ctx context.Context, exclusive bool, wait time.Duration) (func() error, error) {
	deadline := time.Now().Add(wait)
	for {
		f.s.mu.Lock()
		ls := f.s.locks[f.key]
		if ls == nil {
			ls = &lockState{}
			f.s.locks[f.key] = ls
		}
		free := !ls.exclusive && (!exclusive || ls.shared == 0)
		if free {
			if exclusive {
				ls.exclusive = true
			} else {
				ls.shared++
			}
		}
		f.s.mu.Unlock()
		if free {
			var once sync.Once
			return func() error {
				once.Do(func() {
					f.s.mu.Lock()
					if exclusive {
						ls.exclusive = false
					} else {
						ls.shared--
					}
					f.s.mu.Unlock()
				})
				return nil
			}, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("lock %s: %w", f.Location(), storage.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var _ io.ReaderAt = file{}
