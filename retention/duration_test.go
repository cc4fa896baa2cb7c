package retention

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want Duration
		str  string
	}{
		{"14d", Duration{Days: 14}, "14d"},
		{"1y6m", Duration{Years: 1, Months: 6}, "1y6m"},
		{"2d12h", Duration{Days: 2, Hours: 12}, "2d12h"},
		{"1y2m3d4h", Duration{1, 2, 3, 4}, "1y2m3d4h"},
		{"4h1y", Duration{Years: 1, Hours: 4}, "1y4h"}, // any order, as restic
		{" 30d\t", Duration{Days: 30}, "30d"},          // trimmed, as restic
		{"014d", Duration{Days: 14}, "14d"},
		{"1y0m", Duration{Years: 1}, "1y"},
		{"1000000h", Duration{Hours: 1000000}, "1000000h"},
	}
	for _, tt := range good {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
		})
	}

	bad := []struct {
		in, problem string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"-1d", "negative"},
		{"1d-1h", "negative"},
		{"1w", `unknown unit 'w'`},
		{"1D", `unknown unit 'D'`},
		{"1µ", `unknown unit 'µ'`},
		{"14", "no unit after number 14"},
		{"d", `expected a number, found 'd'`},
		{"1dd", `expected a number, found 'd'`},
		{"1d2d", `unit 'd' given twice`},
		{"0d", "zero"},
		{"0y0m", "zero"},
		{"1000001d", "too large"},
		{"99999999999999999999999999d", "too large"},
		{"1.5d", `unknown unit '.'`},
		{"+1d", `expected a number, found '+'`},
		{"1 d", `unknown unit ' '`},
		{"١d", `expected a number, found '١'`}, // restic panics on this
	}
	for _, tt := range bad {
		t.Run("bad_"+tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if err == nil {
				t.Fatalf("ParseDuration(%q) = %#v, want an error", tt.in, d)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.problem) {
				t.Errorf("error %q does not say %q", msg, tt.problem)
			}
			if !strings.Contains(msg, `"1y6m", "14d" or "2d12h"`) {
				t.Errorf("error %q does not name the accepted forms", msg)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    Duration
		want string
	}{
		{Duration{}, ""},
		{Duration{Years: 1, Months: 6}, "1y6m"},
		{Duration{Days: 14}, "14d"},
		{Duration{Days: 2, Hours: 12}, "2d12h"},
		{Duration{Years: 1, Hours: 1}, "1y1h"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDurationZero(t *testing.T) {
	if !(Duration{}).Zero() {
		t.Error("Duration{} is not Zero")
	}
	for _, d := range []Duration{{Years: 1}, {Months: 1}, {Days: 1}, {Hours: 1}} {
		if d.Zero() {
			t.Errorf("%#v is Zero", d)
		}
	}
}

func TestDurationBefore(t *testing.T) {
	tests := []struct {
		from string
		d    Duration
		want string
	}{
		{"2021-03-31T12:00:00Z", Duration{Months: 1}, "2021-03-03T12:00:00Z"},
		{"2024-02-29T12:00:00Z", Duration{Years: 1}, "2023-03-01T12:00:00Z"},
		{"2021-03-01T00:00:00Z", Duration{Days: 1}, "2021-02-28T00:00:00Z"},
		{"2021-01-01T06:00:00Z", Duration{Days: 1, Hours: 12}, "2020-12-30T18:00:00Z"},
		{"2021-03-01T01:00:00+02:00", Duration{Months: 1}, "2021-02-01T01:00:00+02:00"},
	}
	for _, tt := range tests {
		got := tt.d.Before(at(tt.from)).Format(time.RFC3339)
		if got != tt.want {
			t.Errorf("%v before %s = %s, want %s", tt.d, tt.from, got, tt.want)
		}
	}
}

// FuzzParseDuration: ParseDuration never panics, and whatever it accepts is
// non-zero, in range, and survives a round trip through String.
func FuzzParseDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != (Duration{}) {
				t.Fatalf("ParseDuration(%q) returned %#v with error %v", s, d, err)
			}
			return
		}
		if d.Zero() {
			t.Fatalf("ParseDuration(%q) accepted a zero duration", s)
		}
		if err := d.validate(); err != nil {
			t.Fatalf("ParseDuration(%q) = %#v, out of range: %v", s, d, err)
		}
		str := d.String()
		d2, err := ParseDuration(str)
		if err != nil {
			t.Fatalf("ParseDuration(%q) = %#v, but its String %q does not parse: %v", s, d, str, err)
		}
		if d2 != d {
			t.Fatalf("round trip of %q: %#v -> %q -> %#v", s, d, str, d2)
		}
		if d2.String() != str {
			t.Fatalf("String not canonical: %q -> %q", str, d2.String())
		}
	})
}
