package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressView draws a long command's progress on a terminal: one overall
// bar (items done of all, rows, bytes, rate and ETA) and one line per item
// in flight, which disappears when the item is done, so no line is left
// standing about a table that finished long ago while another still
// copies. Every bar is removed when the view closes, and the command's own
// summary follows. A nil *progressView draws nothing: callers need not
// check whether a terminal is there.
type progressView struct {
	p       *mpb.Progress
	total   *mpb.Bar
	started time.Time

	// rows and bytes are read by the figures decorator on mpb's render
	// goroutine, so they are atomics: a mutex held across a call into mpb
	// (which waits for that goroutine) would deadlock against it.
	rows, bytes atomic.Int64

	mu     sync.Mutex // guards active; never held while calling mpb
	active map[string]*mpb.Bar
}

// newProgressView returns a view on w for count items of the given unit
// ("tables", "files"), or nil when progress is not to be drawn (not a
// terminal, --quiet, --json, or nothing to do).
func (g *globals) newProgressView(ctx context.Context, verb string, count int, unit string) *progressView {
	if count <= 0 || !g.showProgress() {
		return nil
	}
	return newProgressViewOn(ctx, g.stderr, verb, count, unit)
}

// newProgressViewOn draws on w whatever it is; tests use it with a buffer.
func newProgressViewOn(ctx context.Context, w io.Writer, verb string, count int, unit string) *progressView {
	v := &progressView{active: map[string]*mpb.Bar{}, started: time.Now()}
	v.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(120*time.Millisecond), mpb.WithAutoRefresh())
	v.total = v.p.AddBar(int64(count),
		mpb.BarRemoveOnComplete(),
		mpb.BarPriority(0),
		mpb.PrependDecorators(
			decor.Name(verb+" ", decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d/%d "+unit, decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string { return v.figures() }, decor.WCSyncSpace),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 4}), ""),
		),
	)
	return v
}

// figures is the overall line's "12,345 rows · 1.2 MiB · 3.4 MiB/s".
func (v *progressView) figures() string {
	rows, bytes := v.rows.Load(), v.bytes.Load()
	s := plural(rows, "row", "rows") + " · " + humanBytes(bytes)
	if el := time.Since(v.started).Seconds(); el > 0.5 && bytes > 0 {
		s += " · " + humanBytes(int64(float64(bytes)/el)) + "/s"
	}
	return s
}

// Begin shows item as in flight.
func (v *progressView) Begin(item string) {
	if v == nil {
		return
	}
	v.mu.Lock()
	_, ok := v.active[item]
	priority := 1 + len(v.active)
	v.mu.Unlock()
	if ok {
		return
	}
	b := v.p.AddSpinner(0,
		mpb.BarRemoveOnComplete(),
		mpb.BarPriority(priority),
		mpb.PrependDecorators(decor.Name("  "+item, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)),
	)
	v.mu.Lock()
	v.active[item] = b
	v.mu.Unlock()
}

// End marks item done with what it held, and removes its line.
func (v *progressView) End(item string, rows, bytes int64) {
	if v == nil {
		return
	}
	v.rows.Add(rows)
	v.bytes.Add(bytes)
	v.mu.Lock()
	b := v.active[item]
	delete(v.active, item)
	v.mu.Unlock()
	if b != nil {
		b.SetTotal(-1, true)
	}
	v.total.Increment()
}

// Close removes every line and waits until the terminal is clean, so the
// command's own output starts on a fresh line.
func (v *progressView) Close() {
	if v == nil {
		return
	}
	v.mu.Lock()
	bars := make([]*mpb.Bar, 0, len(v.active))
	for item, b := range v.active {
		bars = append(bars, b)
		delete(v.active, item)
	}
	v.mu.Unlock()
	for _, b := range bars {
		b.Abort(true)
	}
	v.total.Abort(true)
	v.p.Wait()
}

// plural says "1 row", "2 rows", with thousands separated.
func plural(n int64, one, many string) string {
	if n == 1 || n == -1 {
		return "1 " + one
	}
	return groupDigits(n) + " " + many
}

// groupDigits writes n with a comma every three digits: 166,715.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}
