package codec

import (
	"strings"
	"testing"
)

// FuzzParseShape feeds ParseShape, which reads a manifest's VARIANT
// shapes (untrusted), anything at all: it must never panic, and what it
// accepts must be spelled canonically, within its bounds, and turn into
// decode SQL whose types parse back. Seeds are in testdata/fuzz.
func FuzzParseShape(f *testing.F) {
	f.Add(`STRUCT("a" INTERVAL, "b" HUGEINT[])`)
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := parseShape(s)
		if err != nil {
			return
		}
		if len(s) > MaxShapeLen || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("accepted a shape out of bounds: %q", s)
		}
		if got := shapeText(sh.t); got != s {
			t.Fatalf("accepted %q, which spells %q", s, got)
		}
		// The types restore writes into SQL are ones this package parses
		// back to the same thing.
		back, err := parseShape(sh.t.sql())
		if err != nil || back.text != s {
			t.Fatalf("%q renders as %q, which parses as %v", s, sh.t.sql(), err)
		}
		if _, err := parseType(primed(sh.t)); err != nil {
			t.Fatalf("%q: payload type %q does not parse: %v", s, primed(sh.t), err)
		}
		if q := decVariantV3("x", "VARIANT", []*shape{sh}); !strings.Contains(q, "WHEN '"+strings.ReplaceAll(s, "'", "''")+"' THEN") {
			t.Fatalf("%q: its decode SQL does not name it as a literal", s)
		}
	})
}
