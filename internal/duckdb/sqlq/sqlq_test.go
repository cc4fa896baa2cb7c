package sqlq

import (
	"errors"
	"testing"
)

func TestQuoting(t *testing.T) {
	if got := Ident(`a"b; DROP`); got != `"a""b; DROP"` {
		t.Error(got)
	}
	if got := Qualified("main", `x"y`); got != `"main"."x""y"` {
		t.Error(got)
	}
	if got := Literal(`it's \n`); got != `'it''s \n'` {
		t.Error(got)
	}
	if _, err := IdentErr("a\x00"); !errors.Is(err, ErrNUL) {
		t.Errorf("NUL accepted: %v", err)
	}
	if err := Check("plain"); err != nil {
		t.Error(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Ident accepted a NUL")
		}
	}()
	Ident("a\x00")
}

func TestNULNames(t *testing.T) {
	if got := LiteralNUL("a\x00b'\x00"); got != `('a' || chr(0) || 'b''' || chr(0) || '')` {
		t.Error(got)
	}
	if got := LiteralNUL("plain"); got != `'plain'` {
		t.Error(got)
	}
	if got := ColumnRef(`x"y`); got != `"x""y"` {
		t.Error(got)
	}
	ref := ColumnRef("a\x00b")
	if HasNUL(ref) || ref != `COLUMNS(lambda __statsnap_c: __statsnap_c = ('a' || chr(0) || 'b'))` {
		t.Error(ref)
	}
	if Alias("a\x00b") != "" || Alias("a") != ` AS "a"` {
		t.Error(Alias("a"))
	}
}
