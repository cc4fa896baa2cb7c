package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// measure is one timed subprocess run.
type measure struct {
	Wall   time.Duration
	User   time.Duration
	Sys    time.Duration
	MaxRSS int64 // bytes, from wait4's rusage (the process and its threads)
}

// series is the repetitions of one command.
type series struct {
	Name    string
	Command string // how it was run, for the report
	Runs    []measure
	Err     string // set when the command could not be measured
	Note    string
}

func (s *series) ok() bool { return s.Err == "" && len(s.Runs) > 0 }

func (s *series) walls() []time.Duration {
	var d []time.Duration
	for _, r := range s.Runs {
		d = append(d, r.Wall)
	}
	return d
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := slices.Clone(d)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func (s *series) Median() time.Duration { return median(s.walls()) }
func (s *series) Min() time.Duration    { return slices.Min(s.walls()) }
func (s *series) Max() time.Duration    { return slices.Max(s.walls()) }

// CPU is the median user+sys time.
func (s *series) CPU() time.Duration {
	var d []time.Duration
	for _, r := range s.Runs {
		d = append(d, r.User+r.Sys)
	}
	return median(d)
}

// PeakRSS is the largest peak resident set over the runs.
func (s *series) PeakRSS() int64 {
	var m int64
	for _, r := range s.Runs {
		m = max(m, r.MaxRSS)
	}
	return m
}

// job is one command to time: prepare runs before each repetition,
// untimed (remove the previous output); check validates its stdout.
type job struct {
	Name    string
	Prepare func() error
	Cmd     func() *exec.Cmd
	Check   func(stdout []byte) error
}

// runOnce runs c to completion and measures it from the OS: wall time
// around start and wait, CPU time and peak RSS from wait4's rusage.
func runOnce(ctx context.Context, c *exec.Cmd) (measure, []byte, error) {
	var stdout, stderr bytes.Buffer
	c.Stdout = &stdout
	c.Stderr = &stderr
	start := time.Now()
	err := c.Start()
	if err == nil {
		err = waitCtx(ctx, c)
	}
	wall := time.Since(start)
	var m measure
	m.Wall = wall
	if c.ProcessState != nil {
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.User = time.Duration(ru.Utime.Nano())
			m.Sys = time.Duration(ru.Stime.Nano())
			m.MaxRSS = ru.Maxrss * 1024 // Linux reports KiB
		}
	}
	if err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 2000 {
			tail = "..." + tail[len(tail)-2000:]
		}
		return m, stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(c.Args, " "), err, tail)
	}
	return m, stdout.Bytes(), nil
}

func waitCtx(ctx context.Context, c *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = c.Process.Signal(os.Interrupt) // it may have exited already
		select {
		case err := <-done:
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			if err := <-done; err != nil {
				return fmt.Errorf("%w (killed: %v)", ctx.Err(), err)
			}
			return ctx.Err()
		}
	}
}

func (b *bench) runJob(j job) (measure, error) {
	if j.Prepare != nil {
		if err := j.Prepare(); err != nil {
			return measure{}, fmt.Errorf("%s: prepare: %w", j.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	m, out, err := runOnce(ctx, j.Cmd())
	if err != nil {
		return m, err
	}
	if j.Check != nil {
		if err := j.Check(out); err != nil {
			return m, fmt.Errorf("%s: %w", j.Name, err)
		}
	}
	return m, nil
}

// pair measures a statsnap job against its reference: one untimed warm-up
// of each (the page cache then holds the inputs for both), then reps
// repetitions in alternating order (A B, B A, ...) so that a drift in the
// machine's load hits both sides alike.
func (b *bench) pair(a, ref job, reps int) (sa, sr *series) {
	s := b.group([]job{a, ref}, reps)
	return s[0], s[1]
}

// group is pair for any number of jobs: each repetition runs them all,
// the order reversed every other repetition.
func (b *bench) group(jobs []job, reps int) []*series {
	ss := make([]*series, len(jobs))
	var names []string
	for i, j := range jobs {
		ss[i] = &series{Name: j.Name, Command: b.cmdString(j.Cmd())}
		names = append(names, j.Name)
	}
	b.logf("  %s: warm-up", strings.Join(names, " vs "))
	for i, j := range jobs {
		if _, err := b.runJob(j); err != nil {
			ss[i].Err = err.Error()
		}
	}
	for r := 0; r < reps; r++ {
		idx := make([]int, len(jobs))
		for i := range idx {
			idx[i] = i
			if r%2 == 1 {
				idx[i] = len(jobs) - 1 - i
			}
		}
		for _, i := range idx {
			if ss[i].Err != "" {
				continue
			}
			m, err := b.runJob(jobs[i])
			if err != nil {
				ss[i].Err = err.Error()
				continue
			}
			ss[i].Runs = append(ss[i].Runs, m)
		}
		var parts []string
		for _, s := range ss {
			parts = append(parts, s.Name+" "+lastWall(s))
		}
		b.logf("  rep %d/%d: %s", r+1, reps, strings.Join(parts, ", "))
	}
	return ss
}

// repeat measures one job alone (warm-up, then reps runs).
func (b *bench) repeat(j job, reps int) *series {
	s := &series{Name: j.Name, Command: b.cmdString(j.Cmd())}
	if _, err := b.runJob(j); err != nil {
		s.Err = err.Error()
		return s
	}
	for i := 0; i < reps; i++ {
		m, err := b.runJob(j)
		if err != nil {
			s.Err = err.Error()
			return s
		}
		s.Runs = append(s.Runs, m)
	}
	b.logf("  %s: median %s", j.Name, fmtDur(s.Median()))
	return s
}

func lastWall(s *series) string {
	if s.Err != "" {
		return "FAILED"
	}
	if len(s.Runs) == 0 {
		return "-"
	}
	return fmtDur(s.Runs[len(s.Runs)-1].Wall)
}

// cmdString shows a command the way a reader would type it, with the
// bench's work folder written $WORK.
func (b *bench) cmdString(c *exec.Cmd) string {
	var parts []string
	for i, a := range c.Args {
		if i == 0 {
			a = shortExe(c.Path)
		}
		a = strings.ReplaceAll(a, b.work, "$WORK")
		if strings.ContainsAny(a, " '\"\t\n;()*") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
