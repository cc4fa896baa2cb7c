package retention

import (
	"errors"
	"fmt"
)

// Policy says which snapshots to keep. A count of 0 means the rule is not
// set; so does a zero Within.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       Duration
}

// Empty reports whether no rule is set. The CLI treats an empty policy as a
// usage error; Apply keeps everything under it (as restic does).
func (p Policy) Empty() bool {
	return p == Policy{}
}

// Validate checks that every count is 0 (unset) or at least 1 and that Within
// is not negative or oversized. It cannot tell "unset" from "explicitly set
// to 0"; the CLI checks explicitly set flags with ValidateCount.
func (p Policy) Validate() error {
	var errs []error
	for _, c := range p.counts() {
		if c.n < 0 {
			errs = append(errs, countError(c.flag, c.n))
		}
	}
	if err := p.Within.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateCount checks the value of a count flag the user set explicitly,
// e.g. ValidateCount("--keep-daily", 0): an explicit value must be a whole
// number of at least 1, because 0 would silently disable the rule and a
// negative number means nothing in restic 0.14.
func ValidateCount(flag string, n int) error {
	if n < 1 {
		return countError(flag, n)
	}
	return nil
}

func countError(flag string, n int) error {
	return fmt.Errorf("%s must be a whole number of at least 1, got %d", flag, n)
}

type namedCount struct {
	flag string
	n    int
}

func (p Policy) counts() []namedCount {
	return []namedCount{
		{"--keep-last", p.Last},
		{"--keep-hourly", p.Hourly},
		{"--keep-daily", p.Daily},
		{"--keep-weekly", p.Weekly},
		{"--keep-monthly", p.Monthly},
		{"--keep-yearly", p.Yearly},
	}
}
