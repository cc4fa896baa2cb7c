package codec

import (
	"strings"
	"testing"
)

// TestParseShape: ParseShape takes the shapes backup writes and nothing
// else, since restore writes an accepted one into SQL.
func TestParseShape(t *testing.T) {
	deep := "INTERVAL"
	for range maxTreeDepth + 1 {
		deep = `STRUCT("a" ` + deep + ")"
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{`STRUCT("a" INTERVAL)`, true},
		{`HUGEINT[]`, true},
		{`UNION("u0" INTERVAL, "u1" VARCHAR)[]`, true},
		{`STRUCT("we""ird k'ey" DECIMAL(20,2), "b" TIME WITH TIME ZONE[][])`, true},
		{`JSON`, true},
		{`STRUCT("a" JSON, "b" TIMESTAMP WITH TIME ZONE, "c" UHUGEINT, "d" BIT, "e" BIGNUM, "f" GEOMETRY, "g" TIME_NS)`, true},
		{deep, true},
		{`STRUCT("a" ` + deep + ")", false},
		{`STRUCT("a" INTERVAL, "A" INTEGER)`, false},
		{`STRUCT("" INTEGER)`, false},
		{`STRUCT(a INTERVAL)`, false},               // not spelled as backup spells it
		{`STRUCT("a" INTERVAL,"b" INTEGER)`, false}, // nor this
		{`DECIMAL(4, 1)`, false},
		{`DECIMAL(39,0)`, false},
		{`DECIMAL(1--)`, false},
		{`DECIMAL(4,5)`, false},
		{`INTEGER(4)`, false},
		{`MAP(VARCHAR, INTEGER)`, false},
		{`ENUM('a')`, false},
		{`INTEGER[3]`, false},
		{`GEOMETRY('OGC:CRS84')`, false},
		{`VARIANT`, false},
		{`INT`, false},
		{`UNION("x" INTEGER, "u1" VARCHAR)[]`, false},
		{`UNION("u0" INTEGER)[]`, false},
		{`VARCHAR); DROP TABLE t; --`, false},
		{"STRUCT(\"a\x00\" INTEGER)", false},
		{`STRUCT("a" INTEGER`, false},
		{"", false},
		{strings.Repeat("INTEGER[]", MaxShapeLen), false},
	} {
		err := ParseShape(c.s)
		if (err == nil) != c.ok {
			t.Errorf("ParseShape(%.80q) = %v, want ok %v", c.s, err, c.ok)
		}
	}
	if _, err := parseShapes([]string{"HUGEINT[]", "HUGEINT[]"}); err == nil {
		t.Error("a shape listed twice is accepted")
	}
	many := make([]string, MaxShapes+1)
	for i := range many {
		many[i] = "HUGEINT" + strings.Repeat("[]", i+1)
	}
	if _, err := parseShapes(many); err == nil {
		t.Error("more than MaxShapes shapes are accepted")
	}
}
