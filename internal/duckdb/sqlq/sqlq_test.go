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
