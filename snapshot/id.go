package snapshot

import (
	"fmt"
	"regexp"
	"time"
)

// IDLayout is the seed's snapshot id: local time to the second.
const IDLayout = "20060102_150405"

var idRe = regexp.MustCompile(`^\d{8}_\d{6}$`)

// ValidID reports whether s has the form of a snapshot id.
func ValidID(s string) bool {
	if !idRe.MatchString(s) {
		return false
	}
	_, err := time.ParseInLocation(IDLayout, s, time.Local)
	return err == nil
}

// CheckID returns an error when s is not a snapshot id.
func CheckID(s string) error {
	if !ValidID(s) {
		return fmt.Errorf("%q is not a snapshot id (want YYYYMMDD_HHMMSS, e.g. 20260201_143025)", s)
	}
	return nil
}

// FormatID returns the id of a snapshot taken at t, in local time.
func FormatID(t time.Time) string { return t.Local().Format(IDLayout) }

// IDTime reads an id as local time.
func IDTime(id string) (time.Time, error) {
	return time.ParseInLocation(IDLayout, id, time.Local)
}

// DatetimeLayout is backup_datetime: the seed's microsecond ISO time,
// plus the UTC offset so that retention can compute periods where the
// snapshot was taken.
const DatetimeLayout = "2006-01-02T15:04:05.000000-07:00"

// legacyLayouts are the forms a seed manifest may hold (Python's isoformat()).
var legacyLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// ParseDatetime reads backup_datetime. A time without offset (the seed's)
// is read in the local zone; one with an offset keeps exactly that offset.
func ParseDatetime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		_, off := t.Zone()
		return t.In(time.FixedZone("", off)), nil
	}
	for _, l := range legacyLayouts[1:] {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("backup_datetime %q is not an ISO 8601 time", s)
}
