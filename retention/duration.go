package retention

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration is restic's calendar duration for --keep-within: units y, m, d, h
// combined like "1y6m", "14d", "2d12h". It is calendar-wise, not a fixed
// number of nanoseconds, so it is not a time.Duration: a month back from
// 2021-03-31 is 2021-03-03 (see Before).
type Duration struct {
	Years, Months, Days, Hours int
}

// MaxDurationNumber bounds each number in a duration. It keeps the hours
// (converted to a time.Duration) and AddDate far from integer overflow, and a
// million years is well beyond any retention anyone means.
const MaxDurationNumber = 1_000_000

// durationForms is appended to every parse error so that a user who typed
// something wrong learns what is accepted.
const durationForms = `want numbers with units y, m, d or h, combined like "1y6m", "14d" or "2d12h"`

func durationError(s, problem string) error {
	return fmt.Errorf("invalid duration %q: %s; %s", s, problem, durationForms)
}

// ParseDuration parses a duration such as "1y6m", "14d" or "2d12h".
//
// It accepts what restic's ParseDuration accepts (units in any order,
// surrounding white space, leading zeros) but is stricter where restic is
// lenient or crashes, because a prune deletes data:
//   - empty input is an error (restic returns a zero duration, which would
//     silently disable --keep-within);
//   - negative numbers are an error (restic accepts them, and a negative
//     duration moves the cutoff into the future);
//   - a repeated unit is an error (restic lets the last one win: "1d2d" is 2d);
//   - only ASCII digits count, and numbers above MaxDurationNumber are an
//     error (restic panics on both: it tests unicode.IsNumber and then panics
//     when strconv.Atoi fails);
//   - a duration whose parts are all zero ("0d") is an error, for the same
//     reason counts must be at least 1: it would keep nothing.
func ParseDuration(s string) (Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Duration{}, durationError(orig, "empty")
	}

	var d Duration
	seen := map[byte]bool{}
	for s != "" {
		if s[0] == '-' {
			return Duration{}, durationError(orig, "negative numbers are not allowed")
		}
		i := 0
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
			if n > MaxDurationNumber {
				return Duration{}, durationError(orig, fmt.Sprintf("number too large (at most %d)", MaxDurationNumber))
			}
			i++
		}
		if i == 0 {
			r, _ := utf8.DecodeRuneInString(s)
			return Duration{}, durationError(orig, fmt.Sprintf("expected a number, found %q", r))
		}
		if i == len(s) {
			return Duration{}, durationError(orig, fmt.Sprintf("no unit after number %s", s[:i]))
		}

		unit := s[i]
		var field *int
		switch unit {
		case 'y':
			field = &d.Years
		case 'm':
			field = &d.Months
		case 'd':
			field = &d.Days
		case 'h':
			field = &d.Hours
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return Duration{}, durationError(orig, fmt.Sprintf("unknown unit %q after number %s", r, s[:i]))
		}
		if seen[unit] {
			return Duration{}, durationError(orig, fmt.Sprintf("unit %q given twice", unit))
		}
		seen[unit] = true
		*field = n
		s = s[i+1:]
	}

	if d.Zero() {
		return Duration{}, durationError(orig, "duration is zero")
	}
	return d, nil
}

// String returns the canonical form, units in the order y, m, d, h and zero
// parts left out ("1y6m", "14d"); it is what restic prints, and so what the
// "within ..." keep reason shows. The zero Duration is "".
func (d Duration) String() string {
	var b strings.Builder
	for _, part := range []struct {
		n    int
		unit string
	}{{d.Years, "y"}, {d.Months, "m"}, {d.Days, "d"}, {d.Hours, "h"}} {
		if part.n != 0 {
			fmt.Fprintf(&b, "%d%s", part.n, part.unit)
		}
	}
	return b.String()
}

// Zero reports whether every part is zero, i.e. --keep-within is not set.
func (d Duration) Zero() bool {
	return d == Duration{}
}

// Before returns the point d before t, as restic computes it: calendar parts
// first with t.AddDate (in t's own Location, and rolling overflow forward, so
// 2021-03-31 minus 1m is 2021-03-03), then the hours as elapsed time.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

// validate checks a Duration built by hand rather than by ParseDuration.
func (d Duration) validate() error {
	for _, n := range []int{d.Years, d.Months, d.Days, d.Hours} {
		if n < 0 {
			return errors.New("--keep-within: negative durations are not allowed")
		}
		if n > MaxDurationNumber {
			return fmt.Errorf("--keep-within: number too large (at most %d)", MaxDurationNumber)
		}
	}
	return nil
}
